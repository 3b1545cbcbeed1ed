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
import { cors } from 'hono/cors';
import { bearerAuth, resourceMetadata, resourceMetadataUrl, type AuthEnv } from './auth/bearer.js';
import type { TokenVerifier } from './auth/verify.js';
import type { Config } from './config.js';
import { runDoctor, type CheckStatus } from './doctor.js';
import type { Sql } from './db/pool.js';
import type { Logger } from './log.js';
import { createMcpHandler } from './mcp/handler.js';

export type AppConfig = Pick<
  Config,
  | 'supabaseUrl' | 'issuer' | 'publicUrl' | 'resourceUrl' | 'allowedOrigins' | 'statementTimeoutMs' | 'lockTimeoutMs'
  | 'maxRows' | 'maxResultBytes' | 'poolWaitMs' | 'logStatements' | 'userConcurrency'
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
}

type Env = AuthEnv & { Variables: { requestId: string } };

const MCP_HEADERS = ['Mcp-Session-Id', 'Mcp-Protocol-Version', 'Last-Event-ID'];

export function createApp({ config, sql, verifier, log, typeNames = new Map(), shutdownSignal }: AppDeps) {
  const app = new Hono<Env>();
  const doctorSummary = doctorSummaryFor(config, sql);
  const metadataUrl = resourceMetadataUrl(config.resourceUrl);
  const ownOrigin = new URL(config.publicUrl).origin;
  const allowed = new Set([ownOrigin, ...config.allowedOrigins]);
  const handleMcp = createMcpHandler({
    sql,
    log,
    shutdownSignal,
    typeNames,
    logStatements: config.logStatements,
    limits: {
      statementTimeoutMs: config.statementTimeoutMs,
      lockTimeoutMs: config.lockTimeoutMs,
      maxRows: config.maxRows,
      maxBytes: config.maxResultBytes,
      poolWaitMs: config.poolWaitMs,
      userConcurrency: config.userConcurrency,
    },
  });

  // A caller's X-Request-Id ties our lines to its proxy's; only a plain token, so it cannot forge
  // log lines (newlines, quotes) in the pretty format.
  app.use(async (c, next) => {
    const given = c.req.header('X-Request-Id');
    c.set('requestId', given && /^[\w.:-]{1,64}$/.test(given) ? given : crypto.randomUUID());
    await next();
  });

  // A browser page on another origin must not drive the server (DNS rebinding, CSRF). Requests
  // without Origin (every non-browser client) pass; the token still decides who they are.
  app.use(async (c, next) => {
    const origin = c.req.header('Origin');
    if (origin !== undefined && !allowed.has(origin)) {
      log.warn('security_event', { kind: 'origin_refused', requestId: c.get('requestId'), origin: origin.slice(0, 200) });
      return c.json({ error: 'forbidden_origin', error_description: `Origin ${origin} is not allowed. Add it to ALLOWED_ORIGINS.` }, 403);
    }
    await next();
  });

  app.use(
    cors({
      origin: (origin) => (allowed.has(origin) ? origin : null),
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Authorization', 'Content-Type', 'Accept', ...MCP_HEADERS],
      exposeHeaders: ['WWW-Authenticate', ...MCP_HEADERS],
      maxAge: 600,
    }),
  );

  const metadata = resourceMetadata({ resource: config.resourceUrl, issuer: config.issuer });
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
      withTimeout(sql`select 1 as ok`.then(() => true), 3_000).catch(() => false),
      withTimeout(verifier.ready(), 6_000).catch(() => false),
    ]);
    const ready = database && keys;
    const body: Record<string, unknown> = {
      status: ready ? 'ready' : 'not_ready',
      checks: { database: database ? 'ok' : 'unreachable', jwks: keys ? 'ok' : `no usable signing key: ${verifier.problem()}` },
    };
    // ?details=1: the doctor's verdicts (id, status, code only: no hosts, roles or table names),
    // cached and single-flight so an anonymous caller cannot turn it into load. `npm run doctor`
    // prints what each code means and the fix.
    if (c.req.query('details') !== undefined) body.doctor = await doctorSummary();
    return c.json(body, ready ? 200 : 503);
  });

  app.on(['GET', 'DELETE'], '/mcp', (c) => {
    c.header('Allow', 'POST');
    return c.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this server is stateless; use POST.' }, id: null }, 405);
  });
  app.post(
    '/mcp',
    bearerAuth({
      verifier,
      metadataUrl,
      // A missing token is every client's first step of discovery: not a security event.
      onRefused: (reason, c) =>
        reason === 'TOKEN_MISSING'
          ? log.debug('auth_challenge', { requestId: c.get('requestId') })
          : log.warn('security_event', { kind: 'auth_failure', requestId: c.get('requestId'), reason }),
    }),
    (c) =>
      handleMcp({
        request: c.req.raw,
        principal: c.get('principal'),
        token: c.get('token'),
        requestId: c.get('requestId'),
      }),
  );

  app.notFound((c) => c.json({ error: 'not_found', error_description: `No route for ${c.req.method} ${new URL(c.req.url).pathname}.` }, 404));
  app.onError((error, c) => {
    log.error('http_error', { requestId: c.get('requestId'), error: error.message });
    return c.json({ error: 'internal_error', error_description: 'The server failed to handle this request.' }, 500);
  });
  return app;
}

type DoctorSummary = { checkedAt: string; ok: boolean; checks: { id: string; status: CheckStatus; code: string }[] };

const DOCTOR_CACHE_MS = 60_000;

/** The doctor's non-secret verdicts for /readyz?details=1: at most one run per minute, shared by concurrent callers. */
function doctorSummaryFor(config: AppConfig, sql: Sql): () => Promise<DoctorSummary> {
  let cached: { at: number; value: Promise<DoctorSummary> } | null = null;
  return () => {
    if (cached && Date.now() - cached.at < DOCTOR_CACHE_MS) return cached.value;
    const value = runDoctor({ env: { SUPABASE_URL: config.supabaseUrl }, sql, probeRegistration: false, timeoutMs: 5_000 })
      .then((report) => ({
        checkedAt: new Date().toISOString(),
        ok: report.ok,
        checks: report.checks.filter((check) => check.status !== 'skip').map(({ id, status, code }) => ({ id, status, code })),
      }))
      .catch(() => ({ checkedAt: new Date().toISOString(), ok: false, checks: [{ id: 'doctor', status: 'fail' as const, code: 'DOCTOR_FAILED' }] }));
    cached = { at: Date.now(), value };
    return value;
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms))),
  ]).finally(() => clearTimeout(timer));
}
