/**
 * Start-up shared by every runtime entrypoint: configuration, the pool, the statement policy,
 * the login-role check, the token verifier and the app; plus in-flight tracking so a shutdown can
 * let running calls finish within a bound. Runtimes only bind `fetch` to a port and call `close`.
 *
 * @example
 *   const server = await startServer(process.env, process.argv.slice(2));
 *   Bun.serve({ fetch: server.fetch, port: server.config.port, hostname: server.config.host });
 */
import { setMaxListeners } from 'node:events';
import { createApp } from './app.js';
import { cachedVerifier } from './auth/verified-cache.js';
import { createTokenVerifier } from './auth/verify.js';
import { loadConfig, maskDatabaseUrl, type Config } from './config.js';
import { watchFunctionCatalogue, type FunctionWatch } from './db/functions.js';
import { inspectLoginRole, LEAST_PRIVILEGE_FIX } from './db/login-role.js';
import { loadPolicy } from './db/policy.js';
import { openPool, type Sql } from './db/pool.js';
import { loadTypeNames } from './db/run.js';
import { createDoctorSummary } from './doctor/summary.js';
import { errorCodes } from './errors.js';
import { watchEventLoop } from './event-loop-lag.js';
import { createLogger, type Logger } from './log.js';

export class StartupError extends Error {
  readonly code = 'STARTUP_FAILED';
}

export interface RunningServer {
  config: Config;
  log: Logger;
  sql: Sql;
  fetch: (request: Request) => Promise<Response>;
  /** Requests being handled right now. */
  inFlight(): number;
  /** Waits for in-flight requests (at most SHUTDOWN_TIMEOUT_MS), cancels the rest, closes the pool. */
  close(): Promise<void>;
}

/** Seconds a shed request is told to wait. */
const OVERLOAD_RETRY_AFTER_SECONDS = 1;

function overloaded(why: string): Response {
  return Response.json(
    { error: 'overloaded', error_description: `${why}; retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s.` },
    { status: errorCodes.OVERLOADED.status, headers: { 'Retry-After': String(OVERLOAD_RETRY_AFTER_SECONDS) } },
  );
}

export async function startServer(
  env: Record<string, string | undefined>,
  argv: readonly string[] = [],
  options: { write?: (line: string) => void } = {},
): Promise<RunningServer> {
  const config = loadConfig(env, argv);
  const log = createLogger({ ...config.log, write: options.write });
  const sql = openPool(config.databaseUrl, { max: config.poolSize });
  // An agent sends one token on every call: its signature is checked once a minute, not per call.
  const verifier = cachedVerifier(
    createTokenVerifier({
      issuer: config.auth.issuer,
      jwksUrl: config.auth.jwksUrl,
      requireClientId: !config.auth.allowSessionTokens,
    }),
  );
  // The start-up steps are independent, so they run side by side: a cold start (an Edge
  // Function's isolate, a scaled-out container) costs the slowest of them, not their sum.
  // Their durations go to the `started` line, so a slow cold start says which part was slow.
  const startupMs: Record<string, number> = {};
  const timed = <T>(step: string, work: Promise<T>): Promise<T> => {
    const begun = performance.now();
    return work.finally(() => (startupMs[step] = Math.round(performance.now() - begun)));
  };
  const begun = performance.now();
  const keysReady = timed('jwks', verifier.ready());
  let typeNames: Map<number, string>;
  let functions: FunctionWatch;
  try {
    const database = Promise.all([
      timed('loginRole', inspectLoginRole(sql)),
      timed('typeNames', loadTypeNames(sql)),
    ]).catch((error: unknown) => {
      const reason = (error as { message?: string }).message ?? String(error);
      throw new StartupError(`Cannot connect to DATABASE_URL (${maskDatabaseUrl(config.databaseUrl)}): ${reason}`);
    });
    const [, [report, names]] = await Promise.all([timed('policy', loadPolicy()), database]);
    typeNames = names;
    if (!report.canActAsUser) {
      throw new StartupError(
        `The login role "${report.role}" cannot act as "authenticated" (missing role, or not a member). ${LEAST_PRIVILEGE_FIX}`,
      );
    }
    if (report.problems.length) {
      if (!config.allowPrivilegedLoginRole) {
        throw new StartupError(
          `The login role is too powerful to run agent SQL safely:\n  - ${report.problems.join('\n  - ')}\n${LEAST_PRIVILEGE_FIX}`,
        );
      }
      log.warn('privileged_login_role', { role: report.role, problems: report.problems });
    }
    functions = await watchFunctionCatalogue(sql, {
      onLoad: (summary) => log.info('function_catalogue', { ...summary }),
      onError: (error) => log.warn('function_catalogue_refresh_failed', { error: String(error) }),
    });
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw error;
  }

  if (!(await keysReady)) {
    log.warn('jwks_unavailable', {
      jwksUrl: config.auth.jwksUrl,
      hint: 'Tokens cannot be verified until the key set is reachable and holds an ES256 or RS256 key.',
    });
  }
  startupMs.total = Math.round(performance.now() - begun);
  const shutdown = new AbortController();
  // Every call in flight listens on it and detaches when done; past 10 Node would warn of a leak.
  setMaxListeners(0, shutdown.signal);
  const doctorSummary = createDoctorSummary(config, sql);
  const app = createApp({ config, sql, verifier, log, typeNames, shutdownSignal: shutdown.signal, doctorSummary });

  let inFlight = 0;
  let drained: (() => void) | null = null;
  const lag = watchEventLoop();
  const fetch = async (request: Request): Promise<Response> => {
    // Overload is shed before any work (auth, parsing, a pool wait), so memory stays bounded and
    // the requests already admitted keep their latency instead of all timing out together.
    // Liveness stays answerable: an overloaded process is alive, not one to restart.
    if (!request.url.endsWith('/healthz')) {
      if (inFlight >= config.maxInFlight) {
        return overloaded(`The server is handling its limit of ${config.maxInFlight} requests (MAX_IN_FLIGHT)`);
      }
      // Short of CPU, requests queue unread where the count above cannot see them.
      if (config.maxEventLoopLagMs > 0 && lag.lagMs() > config.maxEventLoopLagMs) {
        return overloaded(
          `The server is running ${Math.round(lag.lagMs())} ms behind, more than MAX_EVENT_LOOP_LAG_MS (${config.maxEventLoopLagMs} ms)`,
        );
      }
    }
    inFlight++;
    try {
      return await app.fetch(request);
    } finally {
      if (--inFlight === 0) drained?.();
    }
  };

  async function close(): Promise<void> {
    if (inFlight > 0) {
      const idle = new Promise<void>((resolve) => (drained = resolve));
      const bound = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref?.());
      await Promise.race([idle, bound]);
      if (inFlight > 0) {
        log.warn('shutdown_cancelling', { inFlight });
        shutdown.abort();
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise((r) => setTimeout(r, 2_000)),
        ]);
      }
    }
    functions.stop();
    lag.stop();
    await sql.end({ timeout: 5 });
    log.info('stopped');
  }

  log.info('started', {
    mcp: config.resourceUrl,
    issuer: config.auth.issuer,
    database: maskDatabaseUrl(config.databaseUrl),
    sessionTokens: config.auth.allowSessionTokens,
    startupMs,
  });
  return { config, log, sql, fetch, close, inFlight: () => inFlight };
}
