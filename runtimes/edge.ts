/**
 * Supabase Edge Function runtime: what supabase/functions/atomic-crm-mcp/index.ts serves. The
 * platform forwards `https://REF.supabase.co/functions/v1/NAME/…` to the function as `/NAME/…`
 * and sets SUPABASE_URL; the rest (DATABASE_URL for the least-privilege role) are the function's
 * secrets. `npm run build:edge` bundles this file and src/ into the function folder (app.js).
 *
 * @example
 *   const handler = edgeFunction(Deno.env.toObject(), 'atomic-crm-mcp');
 *   Deno.serve(handler.fetch);
 */
import { ConfigError } from '../src/config.js';
import { startServer, StartupError, type RunningServer } from '../src/main.js';

/**
 * Connections per isolate. Every isolate opens its own pool and the platform runs several at once
 * under load, each serving one request at a time or a few: a small pool keeps the pooler's client
 * slots for the other isolates.
 */
export const EDGE_POOL_SIZE = '3';

/** The environment the server reads, with what the platform implies filled in. */
export function edgeEnvironment(
  env: Record<string, string | undefined>,
  name: string,
): Record<string, string | undefined> {
  const supabaseUrl = (env.SUPABASE_URL ?? '').replace(/\/+$/, '');
  return {
    ...env,
    // The function's public base URL: where clients reach it, not the http:// URL it sees.
    MCP_SERVER_URL: env.MCP_SERVER_URL || (supabaseUrl ? `${supabaseUrl}/functions/v1/${name}` : undefined),
    MCP_BASE_PATH: env.MCP_BASE_PATH || `/${name}`,
    DB_POOL_SIZE: env.DB_POOL_SIZE || EDGE_POOL_SIZE,
  };
}

export interface EdgeFunction {
  fetch(request: Request): Promise<Response>;
  /** Closes the pool (the platform's `beforeunload`, when it retires the isolate). */
  close(): Promise<void>;
}

/**
 * The server, started once per isolate as soon as the isolate boots, so the database and key-set
 * round trips overlap the platform's own start-up. A failed start answers 503 (the reason goes to
 * the function's log, not to the caller: it names the database host) and is retried by the next
 * request, so a database that was briefly out of reach does not leave the isolate broken.
 */
export function edgeFunction(env: Record<string, string | undefined>, name: string): EdgeFunction {
  let starting: Promise<RunningServer> | null = null;
  const start = () =>
    (starting ??= startServer(edgeEnvironment(env, name)).catch((error: unknown) => {
      starting = null;
      throw error;
    }));
  start().catch(() => {
    // Reported by the request that awaits it.
  });

  return {
    async fetch(request) {
      let server: RunningServer;
      try {
        server = await start();
      } catch (error) {
        const known = error instanceof ConfigError || error instanceof StartupError;
        console.error(known ? error.message : error);
        return Response.json(
          {
            error: 'temporarily_unavailable',
            error_description:
              'The MCP server cannot start: its reason is in the Edge Function logs; `npm run doctor` checks the setup.',
          },
          { status: 503, headers: { 'Retry-After': '5' } },
        );
      }
      return server.fetch(request);
    },
    async close() {
      const server = await starting?.catch(() => null);
      await server?.close();
    },
  };
}
