/**
 * The Edge Function as the platform runs it, for tests: `npm run build:edge` into a fresh folder,
 * Deno started in that folder with the function's own deno.json (npm: specifiers, fetched by Deno
 * into its own cache; no package.json, no node_modules), and a gateway in front that plays
 * Supabase's: `/functions/v1/NAME/…` → the function as `/NAME/…`, `/auth/v1/…` and the AS
 * metadata → the Auth stand-in, and 404 for the host-root protected-resource metadata, which the
 * real gateway does not forward either. SUPABASE_URL is the gateway, as on the platform.
 *
 * @example
 *   const edge = await startEdgeStack();
 *   const client = await connectWithToken(edge.url, await edge.token(edge.users.alice));
 *   await edge.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { startDelayProxy, type DelayProxy } from '../../bench/proxy.js';
import { startAuthServer, type MintOverrides, type RunningAuthServer } from '../../dev/auth/server.js';
import { freePort } from '../../dev/ports.js';
import { asMintUser, DEMO_USERS, type DemoUser } from '../../dev/seed.js';
import { buildEdgeFunction, FUNCTION_DIR, FUNCTION_NAME } from '../../scripts/build-edge.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { DENO } from './runtimes.js';

/** Deno's own npm cache, kept between runs: the first run downloads the packages (about a minute). */
const DENO_DIR = path.join(tmpdir(), 'atomic-crm-mcp-deno-edge-cache');
/** First run: build, download the npm packages, start. */
const READY_TIMEOUT_MS = 180_000;

export interface EdgeStack {
  db: TestDatabase;
  auth: RunningAuthServer;
  /** The database as the function reaches it, through a proxy that counts round trips. */
  dbProxy: DelayProxy;
  /** The gateway: SUPABASE_URL. */
  projectUrl: string;
  /** https://REF.supabase.co/functions/v1/NAME, locally. */
  functionUrl: string;
  /** The MCP endpoint clients are given. */
  url: string;
  /** Milliseconds from spawning Deno to the first answered request (build excluded). */
  coldStartMs: number;
  /** The status of that first answer: 200, or 503 when the server refused to start. */
  firstStatus: number;
  /** The Deno process. */
  pid: number;
  output(): string;
  /** The server's `started` log line (its startupMs say which start-up step took how long). */
  startedLine(): string;
  users: { admin: DemoUser; alice: DemoUser; bob: DemoUser };
  token(user: DemoUser, overrides?: MintOverrides): Promise<string>;
  stop(): Promise<void>;
}

export interface EdgeStackOptions {
  /** One-way delay on the database proxy, in ms. */
  dbDelayMs?: number;
  /** The DATABASE_URL secret: the least-privilege role (default), or a copy of SUPABASE_DB_URL. */
  secret?: 'login-role' | 'platform-db-url';
}

export async function startEdgeStack({
  dbDelayMs = 0,
  secret = 'login-role',
}: EdgeStackOptions = {}): Promise<EdgeStack> {
  const db = await createTestDatabase('edge');
  const login = new URL(db.loginUrl);
  const dbProxy = await startDelayProxy({
    targetHost: login.hostname,
    targetPort: Number(login.port),
    delayMs: dbDelayMs,
  });
  login.hostname = dbProxy.host;
  login.port = String(dbProxy.port);

  const functionPort = await freePort();
  const gatewayPort = await freePort();
  const projectUrl = `http://127.0.0.1:${gatewayPort}`;
  const authPort = await freePort();
  const auth = await startAuthServer({ sql: db.admin, port: authPort, issuerBase: projectUrl });
  const gateway = startGateway(gatewayPort, `http://127.0.0.1:${authPort}`, `http://127.0.0.1:${functionPort}`);

  const folder = mkdtempSync(path.join(tmpdir(), 'edge-function-'));
  const functionDir = path.join(folder, FUNCTION_NAME);
  await buildEdgeFunction(functionDir);
  copyFileSync(path.join(FUNCTION_DIR, 'index.ts'), path.join(functionDir, 'index.ts'));

  let output = '';
  const spawned = performance.now();
  const child: ChildProcess = spawn(
    DENO,
    [
      'run',
      '--config',
      'deno.json',
      '--no-prompt',
      '--allow-net',
      '--allow-env',
      '--allow-read',
      '--allow-sys',
      'index.ts',
    ],
    {
      cwd: functionDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...registryAccess(),
        DENO_DIR,
        // As the Supabase CLI bundles: no package.json discovery, so nothing resolves from node_modules.
        DENO_NO_PACKAGE_JSON: '1',
        NO_COLOR: '1',
        PORT: String(functionPort),
        // What the platform sets: the project URL and its privileged connection, which must stay unused.
        SUPABASE_URL: projectUrl,
        SUPABASE_DB_URL: db.adminUrl,
        // The operator's secret: the least-privilege role.
        DATABASE_URL: secret === 'login-role' ? login.toString() : db.adminUrl,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));

  const functionUrl = `${projectUrl}/functions/v1/${FUNCTION_NAME}`;
  const stop = async () => {
    child.kill('SIGKILL');
    await new Promise<void>((resolve) => (gateway.listening ? gateway.close(() => resolve()) : resolve()));
    (gateway as { closeAllConnections?: () => void }).closeAllConnections?.();
    await auth.stop();
    await dbProxy.close();
    await db.drop();
    rmSync(folder, { recursive: true, force: true });
  };

  let coldStartMs = -1;
  let firstStatus = 0;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    // 502 is the gateway's while Deno is not listening yet; the function's first answer waits for
    // the server's start-up, so it says whether the server started.
    const status = await fetch(`${functionUrl}/healthz`, { signal: AbortSignal.timeout(30_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status !== 0 && status !== 502) {
      coldStartMs = Math.round(performance.now() - spawned);
      firstStatus = status;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (coldStartMs < 0) {
    await stop();
    throw new Error(
      `the edge function did not become ready within ${READY_TIMEOUT_MS / 1000} s:\n${output.slice(-4000)}`,
    );
  }

  const admin = DEMO_USERS.find((u) => u.administrator)!;
  const others = DEMO_USERS.filter((u) => !u.administrator && !u.disabled);
  return {
    db,
    auth,
    dbProxy,
    projectUrl,
    functionUrl,
    url: `${functionUrl}/mcp`,
    coldStartMs,
    firstStatus,
    pid: child.pid!,
    output: () => output,
    startedLine: () => output.split('\n').find((line) => line.includes('"started"')) ?? '(no started line)',
    users: { admin, alice: others[0]!, bob: others[1]! },
    token: (user, overrides) => auth.mintAccessToken(asMintUser(user), overrides),
    stop,
  };
}

/** How this machine reaches the npm registry (its CA store, a proxy): Deno needs it to fetch. */
function registryAccess(): Record<string, string> {
  const names = [
    'SSL_CERT_FILE',
    'SSL_CERT_DIR',
    'DENO_CERT',
    'DENO_TLS_CA_STORE',
    'HTTPS_PROXY',
    'HTTP_PROXY',
    'NO_PROXY',
    'NPM_CONFIG_REGISTRY',
  ];
  const found: Record<string, string> = {};
  for (const name of names.flatMap((n) => [n, n.toLowerCase()])) {
    const value = process.env[name];
    if (value) found[name] = value;
  }
  // Deno reads extra CAs from DENO_CERT only; a machine behind a TLS-inspecting proxy names its CA
  // in SSL_CERT_FILE or NODE_EXTRA_CA_CERTS.
  const ca = process.env.DENO_CERT ?? process.env.SSL_CERT_FILE ?? process.env.NODE_EXTRA_CA_CERTS;
  if (ca) found.DENO_CERT = ca;
  return found;
}

/** Response headers that describe the hop, not the content (fetch has already decoded the body). */
const HOP_HEADERS = ['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive'];

function startGateway(port: number, authOrigin: string, functionOrigin: string) {
  const prefix = '/functions/v1/';
  // Its own fetch, taken now: a test that records the client's fetches must not see the gateway's.
  const forward = globalThis.fetch;
  return serve({
    port,
    hostname: '127.0.0.1',
    fetch: async (request) => {
      const url = new URL(request.url);
      let target: string;
      if (url.pathname.startsWith(`${prefix}${FUNCTION_NAME}/`) || url.pathname === `${prefix}${FUNCTION_NAME}`) {
        target = `${functionOrigin}${url.pathname.slice(prefix.length - 1)}${url.search}`;
      } else if (
        url.pathname.startsWith('/functions/') ||
        url.pathname.startsWith('/.well-known/oauth-protected-resource')
      ) {
        return Response.json({ message: 'no Route matched with those values' }, { status: 404 });
      } else {
        target = `${authOrigin}${url.pathname}${url.search}`;
      }
      const headers = new Headers(request.headers);
      headers.delete('host');
      const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers, redirect: 'manual' };
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        init.body = request.body;
        init.duplex = 'half';
      }
      const upstream = await forward(target, init).catch(() => null);
      if (!upstream) return Response.json({ message: 'upstream unreachable' }, { status: 502 });
      const out = new Headers(upstream.headers);
      for (const name of HOP_HEADERS) out.delete(name);
      return new Response(upstream.body, { status: upstream.status, headers: out });
    },
  });
}
