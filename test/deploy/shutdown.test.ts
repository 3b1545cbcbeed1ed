/**
 * Graceful shutdown under load, on every runtime as users start it: while slow (but allowed)
 * queries are in flight, SIGTERM. In-flight calls complete (or, past SHUTDOWN_TIMEOUT_MS, are
 * cancelled in PostgreSQL), new connections are refused at once, the process exits 0, and no
 * database connection is left behind (pg_stat_activity, from the admin connection).
 * Run: node --import tsx test/run.ts test/deploy/shutdown.test.ts
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { DEMO_USERS } from '../../dev/seed.js';
import { asMintUser, connectModern, connectWithToken, rows } from '../support/stack.js';
import { RUNTIMES, startServerProcess, type Runtime, type ServerProcess } from '../support/runtimes.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const APP = 'atomic-crm-mcp';
/** ~1–3 s of CPU in PostgreSQL, allowed by the statement policy (pg_sleep is not). */
const SLOW = (n: number) =>
  `select ${n} as call, count(*)::int as n from generate_series(1, 6000) a, generate_series(1, 6000) b`;
const IN_FLIGHT = 4;

let db: TestDatabase;
let auth: RunningAuthServer;
const servers: ServerProcess[] = [];

before(async () => {
  db = await createTestDatabase('shutdown');
  auth = await startAuthServer({ sql: db.admin });
});
after(async () => {
  for (const server of servers) server.kill();
  await auth?.stop();
  await db?.drop();
});

async function start(runtime: Runtime, env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServerProcess(runtime, {
    SUPABASE_URL: auth.projectUrl,
    DATABASE_URL: db.loginUrl,
    STATEMENT_TIMEOUT_MS: '60000',
    // One user runs all IN_FLIGHT slow calls at once: above the default fair share per user.
    DB_USER_CONCURRENCY: String(IN_FLIGHT),
    ...env,
  });
  servers.push(server);
  return server;
}

/** The exit of a signalled server, bounded: a hang fails with the server's output (and SIGKILLs it). */
async function exitOf(server: ServerProcess, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      server.kill();
      reject(new Error(`the server did not exit within ${ms} ms of SIGTERM:\n${server.output().slice(-3000)}`));
    }, ms);
  });
  try {
    return await Promise.race([server.exited, hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function backends(filter = ''): Promise<{ pid: number; state: string; query: string }[]> {
  return (await db.admin.unsafe(
    `select pid, state, query from pg_stat_activity where datname = current_database() and application_name = $1 ${filter}`,
    [APP],
  )) as unknown as { pid: number; state: string; query: string }[];
}

async function until(what: string, fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Resolves with the connect error code, or 'CONNECTED'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve('CONNECTED');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'ERROR'));
  });
}

async function clientFor(baseUrl: string): Promise<Client> {
  const token = await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!));
  return connectWithToken(`${baseUrl}/mcp`, token, 'shutdown-test');
}

for (const runtime of (process.env.SHUTDOWN_RUNTIMES?.split(',') as Runtime[] | undefined) ?? RUNTIMES) {
  describe(`graceful shutdown on ${runtime}`, () => {
    test('SIGTERM with slow calls in flight: they complete, new connections are refused, exit 0, no connection leaked', async () => {
      const server = await start(runtime, { SHUTDOWN_TIMEOUT_MS: '30000' });
      const client = await clientFor(server.baseUrl);
      const started = Date.now();
      const calls = Array.from({ length: IN_FLIGHT }, (_, i) =>
        client.callTool({ name: 'query', arguments: { sql: SLOW(i + 1) } }),
      );
      await until(
        'the slow queries to run in PostgreSQL',
        async () => (await backends(`and state = 'active' and query like '%generate_series%'`)).length === IN_FLIGHT,
      );

      server.child.kill('SIGTERM');
      // The listener goes away at once; the in-flight calls keep running.
      await until(
        'new connections to be refused',
        async () => (await tryConnect(server.port)) === 'ECONNREFUSED',
        5_000,
      );
      assert.ok(
        (await backends(`and state = 'active' and query like '%generate_series%'`)).length > 0,
        'calls were still in flight when the listener closed',
      );

      const results = await Promise.all(calls);
      results.forEach((result, i) => assert.deepEqual(rows(result), [{ call: i + 1, n: 36_000_000 }]));
      const { code, signal } = await exitOf(server, 15_000);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, server.output());
      assert.match(server.output(), /"event":"stopped"/);
      await until('no backend of the server left', async () => (await backends()).length === 0, 5_000);
      await client.close().catch(() => {});
      console.log(`# ${runtime}: ${IN_FLIGHT} calls completed ${Date.now() - started} ms after they started`);
    });

    test('SIGTERM past SHUTDOWN_TIMEOUT_MS: running statements of both protocol eras are cancelled in PostgreSQL, exit 0, no connection leaked', async () => {
      const server = await start(runtime, { SHUTDOWN_TIMEOUT_MS: '300' });
      const client = await clientFor(server.baseUrl);
      const modern = await connectModern(
        `${server.baseUrl}/mcp`,
        await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!)),
      );
      // Far longer than the shutdown bound: only cancellation can end them in time.
      const long = `select count(*) from generate_series(1, 30000) a, generate_series(1, 30000) b`;
      const calls = [client, modern].map((c) =>
        c.callTool({ name: 'query', arguments: { sql: long } }).then(
          (r) => ({ ok: true as const, r }),
          (e: unknown) => ({ ok: false as const, e }),
        ),
      );
      await until(
        'the long queries to run',
        async () => (await backends(`and state = 'active' and query like '%generate_series%'`)).length === 2,
      );
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      const { code, signal } = await exitOf(server, 15_000);
      const took = Date.now() - signalled;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, server.output());
      assert.ok(took < 8_000, `shutdown took ${took} ms`);
      assert.match(server.output(), /"event":"shutdown_cancelling"/);
      // Each call ends: either a CANCELLED tool error or a dropped connection; never a hang.
      const outcomes = await Promise.all(calls);
      for (const o of outcomes) if (o.ok) assert.equal((o.r as { isError?: boolean }).isError, true);
      await until('no backend of the server left', async () => (await backends()).length === 0, 5_000);
      const still = (await db.admin.unsafe(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and query like '%generate_series(1, 30000)%' and pid <> pg_backend_pid()`,
      )) as unknown as [{ n: number }];
      assert.equal(still[0].n, 0, 'the cancelled statements are not running any more');
      await client.close().catch(() => {});
      await modern.close().catch(() => {});
    });
  });
}
