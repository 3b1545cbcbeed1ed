/**
 * `npm run demo`: the whole product on your machine, with nothing to configure.
 *
 *   1. PostgreSQL 17 (embedded, from npm) with its data in `.demo/pgdata`: on the first run it is
 *      loaded with a Supabase-shaped `auth` schema, Atomic CRM's schema and deterministic demo data,
 *      and gets the least-privilege login role `mcp_login` the server connects as.
 *   2. A local stand-in for Supabase Auth's OAuth 2.1 server, with the consent page a person signs
 *      in on (nothing is auto-approved).
 *   3. The MCP server itself, started exactly as runtimes/node.ts starts it.
 *
 * Then it prints how to connect Claude Code, VS Code or the MCP Inspector. Ctrl-C stops everything.
 *
 *   npm run demo                       ports 3000 (MCP) and 54321 (auth), database kept in .demo/
 *   npm run demo -- --reset            start over from a fresh database
 *   npm run demo -- --port=3100 --auth-port=54400 --db-port=55432
 *   npm run demo -- --free-ports       let the OS pick free ports
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import postgres from 'postgres';
import { ConfigError } from '../src/config.js';
import { startServer, StartupError, type RunningServer } from '../src/main.js';
import { startAuthServer, type RunningAuthServer } from './auth/server.js';
import { createLoginRole } from './login-role.js';
import { DataDirUnreachableError, startPostgres, type RunningPostgres } from './postgres.js';
import { applySchema, DEMO_PASSWORD, DEMO_USERS, seed } from './seed.js';

const DEFAULT_DEMO_DIR = fileURLToPath(new URL('../.demo/', import.meta.url));
const DATABASE = 'atomic_crm';
const LOGIN_ROLE = 'mcp_login';
/** Everything listens on loopback only: the demo users' password is printed below. */
const BIND_HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 20_000;
/** How often the demo checks that whoever started it (npm, a terminal) is still there. */
const PARENT_CHECK_MS = 500;

/** A problem the user can fix from the message alone: printed without a stack trace. */
class DemoError extends Error {}

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: npm run demo -- [--reset] [--port=N] [--auth-port=N] [--db-port=N] [--free-ports]

  --reset        delete .demo/pgdata and load the demo data again
  --port=N       MCP server port (default 3000)
  --auth-port=N  Supabase Auth stand-in port (default 54321)
  --db-port=N    PostgreSQL port (default: any free port)
  --free-ports   pick free ports for everything
  --data-dir=P   keep the database in P instead of .demo/`;

const OPTIONS = {
  reset: { type: 'boolean', default: false },
  port: { type: 'string' },
  'auth-port': { type: 'string' },
  'db-port': { type: 'string' },
  'free-ports': { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function readOptions() {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ options: OPTIONS }));
  } catch (error) {
    throw new DemoError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = (flag: string, value: string | undefined, fallback: number | undefined) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new DemoError(`${flag} must be a port number (1-65535), got "${value}".`);
    return n;
  };
  const free = values['free-ports'];
  return {
    reset: values.reset,
    freePorts: free,
    mcpPort: port('--port', values.port, free ? undefined : 3000),
    authPort: port('--auth-port', values['auth-port'], free ? undefined : 54321),
    dbPort: port('--db-port', values['db-port'], undefined),
    dataDir: path.resolve(values['data-dir'] ?? DEFAULT_DEMO_DIR),
  };
}

// ---------------------------------------------------------------------------------------------
// Ports

/** Resolves to `port` if it can be bound (or a free port when `port` is undefined). */
function probePort(port: number | undefined, flag: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES'
          ? new DemoError(
              `Port ${port} (${what}) is ${error.code === 'EACCES' ? 'not allowed' : 'already in use'}. Choose another with ${flag}=N, or pass --free-ports.`,
            )
          : error,
      ),
    );
    probe.listen(port ?? 0, BIND_HOST, () => {
      const chosen = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(chosen));
    });
  });
}

function listen(fetch: (request: Request) => Promise<Response>, port: number, flag: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname: BIND_HOST }) as Server;
    server.once('listening', () => resolve(server));
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new DemoError(
              `Port ${port} (MCP server) is already in use. Choose another with ${flag}=N, or pass --free-ports.`,
            )
          : error,
      ),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Database

/** The password of `mcp_login`, generated once and kept in .demo/ so restarts reuse it. */
async function loginPassword(dataDir: string, regenerate: boolean): Promise<string> {
  const file = path.join(dataDir, 'mcp_login.password');
  if (!regenerate && existsSync(file)) {
    const saved = (await readFile(file, 'utf8')).trim();
    if (saved) return saved;
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

/** True when an earlier run finished loading the demo data into `atomic_crm`. */
async function isLoaded(db: postgres.Sql): Promise<boolean> {
  const [row] = await db`select to_regclass('public.sales') is not null as has_schema`;
  if (!row?.has_schema) return false;
  const [count] = await db`select count(*)::int as n from public.sales`;
  return (count?.n ?? 0) > 0;
}

/**
 * Makes sure `atomic_crm` holds the schema and demo data (loading them on the first run, or again
 * after an interrupted one) and that `mcp_login` exists with least privilege. Returns the
 * superuser connection to `atomic_crm` (the auth stand-in reads `auth.users` through it).
 */
async function prepareDatabase(
  pg: RunningPostgres,
  dataDir: string,
  regenerate: boolean,
): Promise<{ admin: postgres.Sql; loginUrl: string; loaded: boolean }> {
  const quiet = { onnotice: () => undefined, connect_timeout: 10 };
  const cluster = postgres(pg.adminUrl, { ...quiet, max: 1 });
  let loaded = false;
  try {
    const [exists] = await cluster`select 1 from pg_database where datname = ${DATABASE}`;
    if (exists) {
      const probe = postgres(pg.urlFor('postgres', 'postgres', DATABASE), { ...quiet, max: 1 });
      const complete = await isLoaded(probe).finally(() => probe.end({ timeout: 5 }));
      if (!complete) await cluster`drop database ${cluster(DATABASE)} with (force)`;
      loaded = !complete;
    } else {
      loaded = true;
    }
    if (loaded) await cluster`create database ${cluster(DATABASE)}`;

    const admin = postgres(pg.urlFor('postgres', 'postgres', DATABASE), { ...quiet, max: 4 });
    if (loaded) {
      console.log('Loading the Atomic CRM schema and demo data (first run only)…');
      await applySchema(admin); // also creates Supabase's roles (anon, authenticated, …)
      await seed(admin); // deterministic: the same rows on every machine
    }
    // Roles belong to the cluster: create it, or bring it back to least privilege, at every start.
    const password = await loginPassword(dataDir, regenerate);
    await createLoginRole(cluster, LOGIN_ROLE, password);
    return { admin, loginUrl: pg.urlFor(LOGIN_ROLE, password, DATABASE), loaded };
  } finally {
    await cluster.end({ timeout: 5 });
  }
}

// ---------------------------------------------------------------------------------------------
// Readiness and the banner

async function waitUntilReady(baseUrl: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
      if (response.ok) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new DemoError(
    `The MCP server did not become ready within ${READY_TIMEOUT_MS / 1000}s (last /readyz: ${last}).`,
  );
}

function banner(mcpUrl: string, authUrl: string, dataDir: string): string {
  const vscode = JSON.stringify({ servers: { 'atomic-crm': { type: 'http', url: mcpUrl } } }, null, 2);
  const width = Math.max(...DEMO_USERS.map((u) => u.email.length));
  const users = DEMO_USERS.map((u) => {
    const note = u.administrator ? '  (administrator)' : u.disabled ? '  (disabled: sign-in is refused)' : '';
    return `    ${u.email.padEnd(width)}  ${u.firstName} ${u.lastName}${note}`;
  }).join('\n');
  const indent = (text: string) => text.replace(/^/gm, '    ');
  return `
────────────────────────────────────────────────────────────────────────────
  Atomic CRM MCP server (demo) is ready

  MCP endpoint     ${mcpUrl}
  Sign-in page     ${authUrl}  (local stand-in for Supabase Auth)

  Claude Code:
    claude mcp add --transport http atomic-crm ${mcpUrl}
  then run /mcp in Claude Code and choose "Authenticate".

  VS Code (.vscode/mcp.json):
${indent(vscode)}

  MCP Inspector (2.x, Node 22.19+):
    npx @modelcontextprotocol/inspector@latest
  Add a server: transport "Streamable HTTP", URL ${mcpUrl}, then Connect: it opens the sign-in page.

  When the sign-in page opens, sign in as one of the demo users:
${users}
    password: ${DEMO_PASSWORD}

  Data lives in ${path.relative(process.cwd(), dataDir) || '.'}/, sign-ins included: a restart keeps clients signed in
  (npm run demo -- --reset starts over). Ctrl-C stops everything.
────────────────────────────────────────────────────────────────────────────
`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = readOptions();
  // Check the fixed ports before starting anything, so a clash costs nothing to fix.
  const mcpPort = await probePort(options.mcpPort, '--port', 'MCP server');
  const authPort = await probePort(options.authPort, '--auth-port', 'Supabase Auth stand-in');
  if (options.dbPort !== undefined) await probePort(options.dbPort, '--db-port', 'PostgreSQL');

  // Stop in reverse order of start, whatever happened.
  const stops: Array<() => Promise<unknown>> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const stop of stops.reverse())
        await stop().catch((error: unknown) => console.error('while stopping:', (error as Error).message));
    })());
  const stopAndExit = (why: string, code: number) => {
    if (stopping) return console.log('Still stopping…');
    console.log(`\nStopping the demo (${why})…`);
    void stopAll().then(() => {
      console.log('Stopped.');
      process.exit(code);
    });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stopAndExit(signal, 0));
  // npm forwards signals to its child, but if npm itself dies (SIGKILL, a closed terminal) the demo
  // is re-parented: notice, and stop rather than keep PostgreSQL and the ports busy unattended.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stopAndExit(`The process that started the demo (pid ${parent}) is gone`, 1);
  }, PARENT_CHECK_MS).unref();

  try {
    await mkdir(options.dataDir, { recursive: true });
    const pgData = path.join(options.dataDir, 'pgdata');
    if (options.reset) {
      console.log(`--reset: deleting ${pgData}`);
      await rm(pgData, { recursive: true, force: true });
    }
    console.log('Starting PostgreSQL…');
    const pg = await startPostgres({ dataDir: pgData, port: options.dbPort }).catch((error: Error) => {
      if (error instanceof DataDirUnreachableError) {
        throw new DemoError(
          `${error.message}. Pass --data-dir=DIR with a folder it can enter, e.g. --data-dir=/var/tmp/atomic-crm-demo`,
        );
      }
      if (/is in use by PostgreSQL/.test(error.message)) throw new DemoError(`${error.message}, e.g. --data-dir=DIR.`);
      if (options.dbPort !== undefined && /could not (bind|create listen socket)|already in use/i.test(error.message)) {
        throw new DemoError(
          `Port ${options.dbPort} (PostgreSQL) is already in use. Choose another with --db-port=N, or leave it out.`,
        );
      }
      throw error;
    });
    stops.push(() => pg.stop());
    void pg.stoppedOutside.then((what) => stopAndExit(`PostgreSQL ${what}`, 1));

    const { admin, loginUrl } = await prepareDatabase(pg, options.dataDir, options.reset);
    stops.push(() => admin.end({ timeout: 5 }));

    const authUrl = `http://localhost:${authPort}`;
    const auth: RunningAuthServer = await startAuthServer({
      sql: admin,
      port: authPort,
      host: BIND_HOST,
      issuerBase: authUrl,
      persist: true,
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE')
        throw new DemoError(
          `Port ${authPort} (Supabase Auth stand-in) is already in use. Choose another with --auth-port=N, or pass --free-ports.`,
        );
      throw error;
    });
    stops.push(() => auth.stop());

    const publicUrl = `http://localhost:${mcpPort}`;
    const server: RunningServer = await startServer({
      SUPABASE_URL: authUrl,
      DATABASE_URL: loginUrl,
      MCP_SERVER_URL: publicUrl,
      PORT: String(mcpPort),
      HOST: BIND_HOST,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'pretty',
    });
    stops.push(() => server.close());
    const http = await listen(server.fetch, mcpPort, '--port');
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections?.();
        }),
    );

    await waitUntilReady(`http://${BIND_HOST}:${mcpPort}`);
    console.log(banner(`${publicUrl}/mcp`, authUrl, options.dataDir));
  } catch (error) {
    await stopAll();
    throw error;
  }
}

main().catch((error: unknown) => {
  const known = error instanceof DemoError || error instanceof ConfigError || error instanceof StartupError;
  console.error(known ? `\n${(error as Error).message}` : error);
  process.exit(1);
});
