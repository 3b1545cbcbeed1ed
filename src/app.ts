/**
 * The HTTP surface, the same on every runtime: protected-resource metadata, health, and the MCP
 * endpoint behind origin checks and bearer authentication. It receives its dependencies and knows
 * nothing of the runtime, the environment or how the pool was opened.
 *
 * @example
 *   const app = createApp({ config, sql, verifier, log });
 *   Bun.serve({ fetch: app.fetch, port: config.port });
 */
import { Hono } from 'hono';
import { localhostHostValidation } from '@modelcontextprotocol/hono';
import { cors } from 'hono/cors';
import { requestId, type RequestIdVariables } from 'hono/request-id';
import { bearerAuth, resourceMetadata, type AuthEnv } from './auth/bearer.js';
import type { TokenVerifier } from './auth/verify.js';
import type { Config } from './config.js';
import type { Sql } from './db/pool.js';
import { errorCodes, securityEvent } from './errors.js';
import type { Logger } from './log.js';
import { confirmCodec } from './mcp/confirm.js';
import { createMcpHandler } from './mcp/handler.js';
import { withTimeout } from './timeout.js';

/** The settings the HTTP surface reads; groups are passed on as they are. */
export type AppConfig = Pick<
  Config,
  | 'supabaseUrl'
  | 'host'
  | 'publicUrl'
  | 'basePath'
  | 'resourceUrl'
  | 'metadataUrl'
  | 'allowedOrigins'
  | 'auth'
  | 'limits'
  | 'log'
  | 'confirmWriteRows'
  | 'atomicCrmUrl'
  | 'databaseUrl'
>;

export interface AppDeps {
  config: AppConfig;
  sql: Sql;
  verifier: TokenVerifier;
  log: Logger;
  /** Column type names by oid, read at start-up (loadTypeNames). */
  typeNames?: ReadonlyMap<number, string>;
  /** Aborted when a shutdown stops waiting: running tool calls are then cancelled. */
  shutdownSignal?: AbortSignal;
  /** Non-secret verdicts for `/readyz?details=1` (main.ts hands in the doctor's). */
  doctorSummary?: () => Promise<object>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

type Env = AuthEnv & { Variables: RequestIdVariables };

/** Request headers a browser-based client sends: 2026-07-28 names the method and tool in headers. */
const MCP_REQUEST_HEADERS = ['Mcp-Protocol-Version', 'Mcp-Method', 'Mcp-Name', 'Mcp-Session-Id', 'Last-Event-ID'];
const EXPOSED_HEADERS = ['WWW-Authenticate', 'Mcp-Protocol-Version', 'Mcp-Session-Id'];

export function createApp({
  config,
  sql,
  verifier,
  log,
  typeNames = new Map(),
  shutdownSignal,
  doctorSummary,
}: AppDeps) {
  // Routes sit under the prefix requests arrive with (an Edge Function receives /NAME/…).
  const app = config.basePath ? new Hono<Env>().basePath(config.basePath) : new Hono<Env>();
  const metadataUrl = config.metadataUrl;
  const ownOrigin = new URL(config.publicUrl).origin;
  const allowed = new Set([ownOrigin, ...config.allowedOrigins]);
  const handleMcp = createMcpHandler({
    sql,
    log,
    shutdownSignal,
    typeNames,
    logStatements: config.log.statements,
    confirmWriteRows: config.confirmWriteRows,
    atomicCrmUrl: config.atomicCrmUrl,
    // Every replica of a deployment shares DATABASE_URL, a secret: a key derived from it lets any
    // replica finish a confirmation another one started, with nothing more to configure.
    confirmCodec: confirmCodec(`atomic-crm-mcp/write-confirmation\0${config.databaseUrl}`),
    limits: config.limits,
  });

  // A caller's X-Request-Id ties our lines to its proxy's. Hono keeps it only when it is a plain
  // token (letters, digits, _ - =), so it cannot forge log lines (spaces, quotes, newlines) in the
  // pretty format; otherwise a fresh UUID. The id is echoed in the response for the caller's logs.
  app.use(requestId({ limitLength: 64 }));

  // Listening on loopback only (the demo, a local install), the server must also refuse a page
  // whose DNS name was rebound to 127.0.0.1 and that sends no Origin: the SDK's Hono adapter
  // checks that the Host header names localhost. Elsewhere a proxy or a gateway sets Host.
  if (LOOPBACK_HOSTS.has(config.host)) app.use('/mcp', localhostHostValidation());

  // A browser page on another origin must not drive the server (DNS rebinding, CSRF). Requests
  // without Origin (every non-browser client) pass; the token still decides who they are.
  app.use(async (c, next) => {
    const origin = c.req.header('Origin');
    if (origin !== undefined && !allowed.has(origin)) {
      log.warn('security_event', {
        kind: errorCodes.ORIGIN_NOT_ALLOWED.securityEvent,
        requestId: c.get('requestId'),
        origin: origin.slice(0, 200),
      });
      return c.json(
        { error: 'forbidden_origin', error_description: `Origin ${origin} is not allowed. Add it to ALLOWED_ORIGINS.` },
        errorCodes.ORIGIN_NOT_ALLOWED.status,
      );
    }
    await next();
  });

  // Preflights go to Hono's CORS middleware. Every other response gets its headers set on the
  // response itself, after the route: Hono's middleware sets them through the context, which
  // rebuilds a finished response from its body (a web stream), and the Node adapter then copies
  // that stream chunk by chunk instead of writing the body it already holds.
  const preflight = cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'Accept', ...MCP_REQUEST_HEADERS],
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  app.use(async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    await next();
    const headers = c.res.headers;
    headers.set('X-Request-Id', c.get('requestId'));
    const origin = c.req.header('Origin');
    if (origin !== undefined && allowed.has(origin)) {
      headers.set('Access-Control-Allow-Origin', origin);
      headers.set('Access-Control-Expose-Headers', EXPOSED_HEADERS.join(','));
    }
    headers.append('Vary', 'Origin');
  });

  const metadata = resourceMetadata({ resource: config.resourceUrl, issuer: config.auth.issuer });
  const serveMetadata = (c: { json: (body: unknown) => Response; header: (k: string, v: string) => void }) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(metadata);
  };
  app.get('/.well-known/oauth-protected-resource/mcp', serveMetadata);
  app.get('/.well-known/oauth-protected-resource', serveMetadata);
  // Clients of the 2025-03-26 spec look for the AS metadata on the resource's host.
  app.get('/.well-known/oauth-authorization-server', (c) =>
    c.redirect(`${config.supabaseUrl}/.well-known/oauth-authorization-server/auth/v1`, 302),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const [database, keys] = await Promise.all([
      withTimeout(
        sql`select 1 as ok`.then(() => true),
        3_000,
        'database ping',
      ).catch(() => false),
      withTimeout(verifier.ready(), 6_000, 'signing keys').catch(() => false),
    ]);
    const ready = database && keys;
    const body: Record<string, unknown> = {
      status: ready ? 'ready' : 'not_ready',
      checks: {
        database: database ? 'ok' : 'unreachable',
        jwks: keys ? 'ok' : `no usable signing key: ${verifier.problem()}`,
      },
    };
    // ?details=1: the doctor's verdicts, codes only and cached (src/doctor/summary.ts).
    if (doctorSummary && c.req.query('details') !== undefined) body.doctor = await doctorSummary();
    return c.json(body, ready ? 200 : 503);
  });

  app.on(['GET', 'DELETE'], '/mcp', (c) => {
    c.header('Allow', 'POST');
    return c.json(
      {
        jsonrpc: '2.0',
        error: { code: -32000, message: 'Method not allowed: this server is stateless; use POST.' },
        id: null,
      },
      405,
    );
  });
  app.post(
    '/mcp',
    bearerAuth({
      verifier,
      metadataUrl,
      // A missing token is every client's first step of discovery: not a security event.
      onRefused: (reason, c) => {
        const event = securityEvent(reason);
        if (event) log[event.level]('security_event', { kind: event.kind, requestId: c.get('requestId'), reason });
        else log.debug('auth_challenge', { requestId: c.get('requestId') });
      },
    }),
    (c) =>
      handleMcp({
        request: c.req.raw,
        principal: c.get('principal'),
        token: c.get('token'),
        requestId: c.get('requestId'),
      }),
  );

  app.notFound((c) =>
    c.json(
      { error: 'not_found', error_description: `No route for ${c.req.method} ${new URL(c.req.url).pathname}.` },
      404,
    ),
  );
  app.onError((error, c) => {
    log.error('http_error', { requestId: c.get('requestId'), error: error.message });
    return c.json({ error: 'internal_error', error_description: 'The server failed to handle this request.' }, 500);
  });
  return app;
}
