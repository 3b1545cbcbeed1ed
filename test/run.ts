/**
 * Test entry point: `node --import tsx test/run.ts [test files…]`.
 *
 * 0. Makes sure Chromium and PgBouncer are installed (test/support/prerequisites.ts): installs them
 *    with apt-get as root on Debian/Ubuntu, else stops before anything runs, naming the command.
 * 1. Starts ONE embedded PostgreSQL 17 (or uses TEST_DATABASE_URL, an admin/superuser URL).
 * 2. Builds the template database `atomic_template`: supabase.sql + atomic-crm.sql + seed.
 * 3. Creates the least-privilege login role `mcp_login` with a random password.
 * 4. Runs `node --test` on the files (default: every test/**\/*.test.ts), one file at a time, with
 *    TEST_PG_ADMIN_URL, TEST_PG_LOGIN_ROLE, TEST_PG_LOGIN_PASSWORD and TEST_PG_TEMPLATE set;
 *    test/support/database.ts clones the template per test.
 * 5. Stops PostgreSQL and exits with the test process's exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { createLoginRole } from '../dev/login-role.js';
import { startPostgres, type RunningPostgres } from '../dev/postgres.js';
import { applySchema, seed } from '../dev/seed.js';
import { withTimeout } from '../src/timeout.js';
import { ensurePrerequisites } from './support/prerequisites.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TEMPLATE = 'atomic_template';
const LOGIN_ROLE = 'mcp_login';
const SETUP_TIMEOUT_MS = 120_000;
/**
 * Per test (node --test-timeout): a hung test fails instead of hanging the run. Node applies it to
 * each test file's whole run as well, and the slowest files (a clean clone's npm ci and the
 * production build, the demo's restarts) take two to six minutes on a busy 2-core machine.
 */
const TEST_TIMEOUT_MS = 600_000;
/** Whole test process. */
const RUN_TIMEOUT_MS = Number(process.env.TEST_RUN_TIMEOUT_MS ?? 30 * 60_000);
/** After forwarding a signal or a timeout, how long the test process gets before SIGKILL. */
const CHILD_GRACE_MS = 10_000;

const log = (message: string): void => void process.stderr.write(`[test/run] ${message}\n`);

function findTestFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts') && !file.split(path.sep).includes('node_modules'))
    .map((file) => path.relative(ROOT, path.join(dir, file)))
    .sort();
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

const connect = (url: string): postgres.Sql =>
  postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10, idle_timeout: 5 });

async function buildTemplate(adminUrl: string): Promise<void> {
  const maintenance = connect(adminUrl);
  try {
    // A template left by an earlier run (shared TEST_DATABASE_URL cluster) is rebuilt from scratch.
    const [existing] = await maintenance`SELECT 1 FROM pg_database WHERE datname = ${TEMPLATE}`;
    if (existing) {
      await maintenance`ALTER DATABASE ${maintenance(TEMPLATE)} WITH IS_TEMPLATE false`;
      await maintenance`DROP DATABASE ${maintenance(TEMPLATE)} WITH (FORCE)`;
    }
    await maintenance`CREATE DATABASE ${maintenance(TEMPLATE)} TEMPLATE template0`;
  } finally {
    await maintenance.end({ timeout: 5 });
  }

  const sql = connect(withDatabase(adminUrl, TEMPLATE));
  try {
    let started = performance.now();
    await applySchema(sql);
    log(`schema loaded in ${Math.round(performance.now() - started)} ms`);
    started = performance.now();
    await seed(sql);
    log(`seeded in ${Math.round(performance.now() - started)} ms`);
    await sql`VACUUM ANALYZE`;
  } finally {
    await sql.end({ timeout: 5 });
  }

  const maintenanceAgain = connect(adminUrl);
  try {
    // No connections allowed: a stray session on the template would make every clone fail.
    await maintenanceAgain`ALTER DATABASE ${maintenanceAgain(TEMPLATE)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`;
  } finally {
    await maintenanceAgain.end({ timeout: 5 });
  }
}

async function setUp(cluster: { current?: RunningPostgres }): Promise<{ adminUrl: string; loginPassword: string }> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (adminUrl) {
    log('using TEST_DATABASE_URL');
  } else {
    const started = performance.now();
    // With TLS, as Supabase's databases: test/db/tls.test.ts and the runtimes connect with sslmode=require.
    cluster.current = await startPostgres({ tls: true });
    adminUrl = cluster.current.adminUrl;
    log(`PostgreSQL started on port ${cluster.current.port} in ${Math.round(performance.now() - started)} ms`);
  }

  const started = performance.now();
  await buildTemplate(adminUrl);
  log(`template ${TEMPLATE} built in ${Math.round(performance.now() - started)} ms`);

  const loginPassword = randomBytes(18).toString('base64url');
  const sql = connect(adminUrl);
  try {
    await createLoginRole(sql, LOGIN_ROLE, loginPassword);
  } finally {
    await sql.end({ timeout: 5 });
  }
  return { adminUrl, loginPassword };
}

function runTests(files: string[], env: NodeJS.ProcessEnv, onChild: (child: ChildProcess) => void): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files],
    { cwd: ROOT, env, stdio: 'inherit' },
  );
  onChild(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      log(`tests still running after ${RUN_TIMEOUT_MS} ms: stopping them`);
      terminate(child);
    }, RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 128 + (signalNumber[signal] ?? 1) : 1));
    });
  });
}

const signalNumber: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function terminate(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  setTimeout(() => child.kill('SIGKILL'), CHILD_GRACE_MS).unref();
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const files =
    args.length > 0
      ? args.map((file) => path.relative(ROOT, path.resolve(file)))
      : findTestFiles(path.join(ROOT, 'test'));
  if (files.length === 0) {
    log('no test files found');
    return 1;
  }
  const missing = await ensurePrerequisites();
  if (missing) {
    log(missing);
    return 1;
  }

  const cluster: { current?: RunningPostgres } = {};
  let child: ChildProcess | undefined;
  let interrupted: NodeJS.Signals | undefined;

  const stopCluster = async (): Promise<void> => {
    if (!cluster.current) return;
    const started = performance.now();
    await cluster.current.stop();
    log(`PostgreSQL stopped in ${Math.round(performance.now() - started)} ms`);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      // Second signal: the user insists. PostgreSQL still gets SIGINT from dev/postgres.ts on exit.
      process.exit(128 + (signalNumber[signal] ?? 1));
    }
    interrupted = signal;
    if (child) {
      // The test process shuts down; main() then stops PostgreSQL as usual.
      terminate(child, signal);
    } else {
      // Setup (bounded) is finished first, so PostgreSQL and its temp dir are stopped cleanly.
      log(`${signal}: stopping after setup`);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const { adminUrl, loginPassword } = await withTimeout(setUp(cluster), SETUP_TIMEOUT_MS, 'test database setup');
    if (interrupted) return 128 + (signalNumber[interrupted] ?? 1);
    const code = await runTests(
      files,
      {
        ...process.env,
        TEST_PG_ADMIN_URL: adminUrl,
        TEST_PG_LOGIN_ROLE: LOGIN_ROLE,
        TEST_PG_LOGIN_PASSWORD: loginPassword,
        TEST_PG_TEMPLATE: TEMPLATE,
      },
      (spawned) => (child = spawned),
    );
    return interrupted ? 128 + (signalNumber[interrupted] ?? 1) : code;
  } catch (error) {
    // Setup broken by the interruption itself: report the signal, not the consequence.
    if (interrupted) return 128 + (signalNumber[interrupted] ?? 1);
    throw error;
  } finally {
    await stopCluster();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
