/**
 * The whole product for one test file: a fresh database from the fixture template, the local
 * Supabase Auth stand-in, and the MCP server started in this process on a free port, exactly as
 * runtimes/node.ts starts it (startServer + @hono/node-server). Tests talk to it over real HTTP
 * with the SDK's client.
 *
 * @example
 *   const stack = await startStack();
 *   const client = await stack.connect(stack.users.admin);
 *   await client.callTool({ name: 'query', arguments: { sql: 'select 1' } });
 *   await stack.stop();
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type postgres from 'postgres';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
  type ClientCapabilities,
} from '@modelcontextprotocol/client';
import { startDelayProxy, type DelayProxy } from '../../bench/proxy.js';
import { startAuthServer, type MintOverrides, type RunningAuthServer } from '../../dev/auth/server.js';
import { asMintUser, DEMO_USERS, type DemoUser } from '../../dev/seed.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { createTestDatabase, testEnvironment, type TestDatabase } from './database.js';

export interface StackOptions {
  /** Extra environment for the MCP server (limits, flags). */
  env?: Record<string, string>;
  /** Connect as the superuser instead of the least-privilege login role. */
  superuserLogin?: boolean;
  /** Collect log lines instead of printing them. */
  captureLogs?: boolean;
  /** Rewrites the server's DATABASE_URL, e.g. to reach PostgreSQL through a fault-injection proxy. */
  databaseUrl?: (url: string) => string;
}

export interface Stack {
  db: TestDatabase;
  auth: RunningAuthServer;
  server: RunningServer;
  /** The MCP endpoint, e.g. http://127.0.0.1:PORT/mcp */
  url: string;
  baseUrl: string;
  /** Every log line the server wrote (when captureLogs). */
  logs: string[];
  /** Every HTTP request the MCP server answered, in order: `POST /mcp tools/call → 200`. Clear it to count. */
  requests: string[];
  users: { admin: DemoUser; alice: DemoUser; bob: DemoUser; all: readonly DemoUser[] };
  token(user: DemoUser, overrides?: MintOverrides): Promise<string>;
  /** An SDK client connected with a bearer token for `user`. */
  connect(user: DemoUser, overrides?: MintOverrides): Promise<Client>;
  stop(): Promise<void>;
}

export { asMintUser };

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const db = await createTestDatabase();
  const auth = await startAuthServer({ sql: db.admin });
  const logs: string[] = [];
  // Listen first so the server can advertise its real address in metadata and challenges.
  let fetchHandler: (request: Request) => Promise<Response> = async () => new Response('starting', { status: 503 });
  const http = serve({ fetch: (request) => fetchHandler(request), port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    http.once('listening', resolve);
    http.once('error', reject);
  });
  const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const server = await startServer(
    {
      SUPABASE_URL: auth.projectUrl,
      DATABASE_URL: (options.databaseUrl ?? ((url: string) => url))(options.superuserLogin ? db.adminUrl : db.loginUrl),
      ALLOW_PRIVILEGED_LOGIN_ROLE: options.superuserLogin ? 'true' : 'false',
      MCP_SERVER_URL: baseUrl,
      LOG_LEVEL: options.captureLogs ? 'debug' : 'warn',
      ...options.env,
    },
    [],
    { write: (line) => (options.captureLogs ? logs.push(line) : undefined) },
  );
  const requests: string[] = [];
  fetchHandler = async (request) => {
    const rpc =
      request.method === 'POST'
        ? await request
            .clone()
            .json()
            .then(
              (b: { method?: string }) => b?.method,
              () => undefined,
            )
        : undefined;
    const response = await server.fetch(request);
    requests.push(`${request.method} ${new URL(request.url).pathname}${rpc ? ` ${rpc}` : ''} → ${response.status}`);
    return response;
  };

  const admin = DEMO_USERS.find((u) => u.administrator)!;
  const others = DEMO_USERS.filter((u) => !u.administrator && !u.disabled);
  const users = { admin, alice: others[0]!, bob: others[1]!, all: DEMO_USERS };

  const token = (user: DemoUser, overrides?: MintOverrides) => auth.mintAccessToken(asMintUser(user), overrides);
  const clients: Client[] = [];
  return {
    db,
    auth,
    server,
    url: `${baseUrl}/mcp`,
    baseUrl,
    logs,
    requests,
    users,
    token,
    async connect(user, overrides) {
      const client = await connectWithToken(`${baseUrl}/mcp`, await token(user, overrides));
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        (http as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await server.close();
      await auth.stop();
      await db.drop();
    },
  };
}

/** An SDK client on `url` sending `Authorization: Bearer <token>`. */
export async function connectWithToken(url: string, token: string, name = 'atomic-crm-mcp-tests'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  return client;
}

/** How a v2 SDK client picks its protocol era: pinned to 2026-07-28, or probing ('auto'). */
export type Negotiation = 'auto' | { pin: string };

/**
 * A v2 SDK client (`@modelcontextprotocol/client`) on `url` with a bearer token. `fetch` lets a
 * test count or inspect the HTTP requests it sends.
 */
export async function connectModern(
  url: string,
  token: string,
  options: { mode?: Negotiation; fetch?: typeof fetch; capabilities?: ClientCapabilities } = {},
): Promise<ModernClient> {
  const client = new ModernClient(
    { name: 'atomic-crm-mcp-tests-v2', version: '1.0.0' },
    { versionNegotiation: { mode: options.mode ?? { pin: '2026-07-28' } }, capabilities: options.capabilities },
  );
  await client.connect(
    new ModernTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
      fetch: options.fetch,
    }),
  );
  return client;
}

/** The text of a tool result's first content block. */
export function text(result: unknown): string {
  const content = (result as CallToolResult).content[0];
  return content && content.type === 'text' ? content.text : '';
}

/** The `{ error: {...} }` body of an isError result. */
export function toolError(result: unknown): { code: string; message: string; [k: string]: unknown } {
  const r = result as CallToolResult;
  if (!r.isError) throw new Error(`expected an error result, got: ${text(r).slice(0, 300)}`);
  return JSON.parse(text(r)).error;
}

/** structuredContent of a successful statement. */
export function rows(result: unknown): Record<string, unknown>[] {
  const r = result as CallToolResult;
  if (r.isError) throw new Error(`expected rows, got error: ${text(r).slice(0, 500)}`);
  return (r.structuredContent as { rows: Record<string, unknown>[] }).rows;
}

/** How many statements whose text holds `marker` PostgreSQL is running, other than this one. */
export async function runningStatements(admin: postgres.Sql, marker: string): Promise<number> {
  const [row] = await admin`select count(*)::int as n from pg_stat_activity
    where state = 'active' and pid <> pg_backend_pid() and strpos(query, ${marker}) > 0`;
  return (row as { n: number }).n;
}

/** Polls `predicate` every 50 ms until it holds; fails after `timeoutMs`, naming `what`. */
export async function until(what: string, predicate: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A stack whose database traffic crosses the bench's delay proxy, which counts round trips. */
export interface CountedStack extends Stack {
  proxy: DelayProxy;
  /** Round trips since `resetCounts`, less the function catalogue's checks (they run on a timer). */
  callRoundTrips(): number;
  resetCounts(): void;
}

export async function startCountedStack(options: StackOptions = {}): Promise<CountedStack> {
  const target = new URL(testEnvironment().adminUrl);
  let background = 0;
  const proxy = await startDelayProxy({
    targetHost: target.hostname,
    targetPort: Number(target.port),
    delayMs: 3,
    trace: (_connection, direction, data, newRoundTrip) => {
      if (direction === 'client' && newRoundTrip && data.includes('md5(coalesce(string_agg(k')) background++;
    },
  });
  const stack = await startStack({
    ...options,
    databaseUrl: (url) => {
      const u = new URL(url);
      u.hostname = proxy.host;
      u.port = String(proxy.port);
      return u.toString();
    },
  }).catch(async (error) => {
    await proxy.close();
    throw error;
  });
  const stopStack = stack.stop.bind(stack);
  return Object.assign(stack, {
    proxy,
    callRoundTrips: () => proxy.stats().roundTrips - background,
    resetCounts: () => {
      proxy.reset();
      background = 0;
    },
    stop: async () => {
      try {
        await stopStack();
      } finally {
        await proxy.close();
      }
    },
  });
}
