/**
 * Behind a transaction-mode pooler (Supabase's :6543 Supavisor, PgBouncer): PgBouncer from Debian
 * (`apt-get install -y pgbouncer`) in `pool_mode = transaction` in front of the test PostgreSQL,
 * with FEWER server connections than client connections, so consecutive transactions of one client
 * connection land on different server connections and a session-level leak would show.
 *
 * Proves: concurrent tool calls of different users each see their own identity and their own
 * private rows (no cross-talk); writes land as their author; failing calls roll back and leave
 * nothing behind; the full server (startServer) works through it; and a call is still one round trip.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { startDelayProxy, type DelayProxy } from '../../bench/proxy.js';
import { startCountingAuth } from '../../bench/setup.js';
import { freePort } from '../../dev/ports.js';
import { asMintUser, DEMO_USERS } from '../../dev/seed.js';
import { openPool, type Sql } from '../../src/db/pool.js';
import { DbError, runStatement, type Identity, type Limits } from '../../src/db/run.js';
import { startServer } from '../../src/main.js';
import { createTestDatabase, testEnvironment, type TestDatabase } from '../support/database.js';
import { commandComplete } from '../support/faults.js';
import { pgBouncerPath } from '../support/prerequisites.js';

const INSTALL = 'apt-get install -y pgbouncer';
const LIMITS: Limits = {
  statementTimeoutMs: 5_000,
  lockTimeoutMs: 1_000,
  maxRows: 100,
  maxBytes: 100_000,
  poolWaitMs: 10_000,
  userConcurrency: 100,
  userHeavyMs: 0,
};
const USERS = DEMO_USERS.filter((u) => !u.disabled);
const identity = (user: (typeof USERS)[number]): Identity => ({
  sub: user.id,
  claims: { sub: user.id, role: 'authenticated', aud: 'authenticated', email: user.email },
});
/** Server connections PgBouncer may open per user/database: fewer than the client pool. */
const SERVER_POOL = 3;
const CLIENT_POOL = 10;

function findPgBouncer(): string {
  const found = pgBouncerPath();
  if (!found)
    throw new Error(
      `PgBouncer is not installed: this test needs it (npm test installs it as root on Debian). Run: ${INSTALL}`,
    );
  return found;
}

interface RunningBouncer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** PgBouncer in transaction mode with a generated ini and userlist in a temp dir, on a free port. */
async function startPgBouncer(db: TestDatabase, via?: { host: string; port: number }): Promise<RunningBouncer> {
  const binary = findPgBouncer();
  const env = testEnvironment();
  const target = new URL(db.adminUrl);
  if (via) {
    target.hostname = via.host;
    target.port = String(via.port);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'pgbouncer-'));
  const port = await freePort();
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  await writeFile(path.join(dir, 'userlist.txt'), `${quote(env.loginRole)} ${quote(env.loginPassword)}\n`);
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${db.name} = host=${target.hostname} port=${target.port} dbname=${db.name}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = plain',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${SERVER_POOL}`,
      'min_pool_size = 0',
      'reserve_pool_size = 0',
      'max_client_conn = 200',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      'server_login_retry = 1',
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root: run it as the OS user that runs PostgreSQL (dev/postgres.ts).
  const asRoot = process.getuid?.() === 0;
  const args = asRoot ? ['-u', 'postgres', path.join(dir, 'pgbouncer.ini')] : [path.join(dir, 'pgbouncer.ini')];
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) await chown(path.join(dir, f), uid, gid);
    await chmod(path.join(dir, 'userlist.txt'), 0o600);
  }
  const output: string[] = [];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = async () =>
    `${output.join('')}${await readFile(path.join(dir, 'pgbouncer.log'), 'utf8').catch(() => '')}`;

  const url = new URL(db.loginUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}):\n${await log()}`);
    const probe = openPool(url.toString(), { max: 1 });
    try {
      await probe.unsafe('select 1');
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `pgbouncer did not accept connections within 15 s (${(error as Error).message}):\n${await log()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await probe.end({ timeout: 1 });
    }
  }
  return {
    port,
    url: url.toString(),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('behind PgBouncer in transaction mode', () => {
  let db: TestDatabase;
  let bouncer: RunningBouncer;
  let sql: Sql;
  const salesIdOf = new Map<string, number>();

  before(async () => {
    db = await createTestDatabase('pooler');
    bouncer = await startPgBouncer(db);
    sql = openPool(bouncer.url, { max: CLIENT_POOL });
    for (const row of await db.admin<{ id: string; user_id: string }[]>`select id, user_id from sales`) {
      salesIdOf.set(row.user_id, Number(row.id));
    }
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await bouncer?.stop();
    await db?.drop();
  });

  test('the pooler really multiplexes: fewer server connections than concurrent client transactions', async () => {
    const pids = await Promise.all(
      Array.from({ length: 30 }, () =>
        runStatement(sql, identity(USERS[0]!), 'select pg_backend_pid() as pid, pg_sleep(0.02) as s', {
          access: 'read',
          limits: LIMITS,
        }),
      ),
    );
    const distinct = new Set(pids.map((r) => r.rows[0]!.pid));
    assert.ok(distinct.size <= SERVER_POOL, `${distinct.size} server connections`);
  });

  test('concurrent reads and writes of different users: each sees and writes only as itself', async () => {
    const calls = Array.from({ length: 120 }, (_, i) => {
      const user = USERS[i % USERS.length]!;
      const kind = i % 4;
      const run = async () => {
        if (kind === 3) {
          const r = await runStatement(
            sql,
            identity(user),
            `insert into private_notes (text) values ('pooler ${i}') returning sales_id`,
            {
              access: 'write',
              limits: LIMITS,
            },
          );
          assert.equal(Number(r.rows[0]!.sales_id), salesIdOf.get(user.id), `write ${i} landed as someone else`);
          return;
        }
        const r = await runStatement(
          sql,
          identity(user),
          "select auth.uid() as uid, current_setting('request.jwt.claims', true)::jsonb ->> 'email' as email, current_user as who," +
            ' (select coalesce(array_agg(distinct sales_id), array[]::bigint[]) from private_notes) as owners',
          { access: 'read', limits: LIMITS },
        );
        const row = r.rows[0]!;
        assert.equal(row.uid, user.id, `call ${i}: identity of another call`);
        assert.equal(row.email, user.email);
        assert.equal(row.who, 'authenticated');
        for (const owner of row.owners as unknown[])
          assert.equal(Number(owner), salesIdOf.get(user.id), `call ${i} read another user's private notes`);
      };
      return run();
    });
    await Promise.all(calls);
    const written = await db.admin<{ sales_id: string; n: number }[]>`
      select sales_id, count(*)::int as n from private_notes where text like 'pooler %' group by sales_id`;
    assert.equal(
      written.reduce((a, r) => a + r.n, 0),
      30,
    );
  });

  test('failing calls roll back and the connections stay clean for the next callers', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => {
        const user = USERS[i % USERS.length]!;
        return i % 2 === 0
          ? runStatement(
              sql,
              identity(user),
              `insert into private_notes (text) values ('doomed ${i}'), (null) returning id`,
              { access: 'write', limits: LIMITS },
            )
          : runStatement(sql, identity(user), 'select auth.uid() as uid, current_user as who', {
              access: 'read',
              limits: LIMITS,
            }).then((r) => {
              assert.deepEqual(r.rows, [{ uid: user.id, who: 'authenticated' }]);
            });
      }),
    );
    outcomes.forEach((o, i) => {
      if (i % 2 === 0) {
        assert.equal(o.status, 'rejected');
        const error = (o as PromiseRejectedResult).reason;
        assert.ok(error instanceof DbError && error.pg?.sqlstate === '23502', String(error)); // not-null violation
      } else {
        assert.equal(o.status, 'fulfilled', String((o as PromiseRejectedResult).reason));
      }
    });
    const [{ n }] =
      (await db.admin`select count(*)::int as n from private_notes where text like 'doomed %'`) as unknown as [
        { n: number },
      ];
    assert.equal(n, 0);
    // Every server connection is back outside any transaction, with no identity left on it.
    const leftovers = await db.admin`
      select state, backend_xid from pg_stat_activity
      where datname = ${db.name} and usename = ${testEnvironment().loginRole} and state <> 'idle'`;
    assert.deepEqual([...leftovers], []);
    const direct = openPool(bouncer.url, { max: 1 });
    try {
      for (let i = 0; i < SERVER_POOL * 3; i++) {
        const [state] = await direct.unsafe(
          "select current_user as who, current_setting('request.jwt.claims', true) as claims",
        );
        assert.equal(state!.who, testEnvironment().loginRole);
        assert.ok(!state!.claims, `identity left on a server connection: ${state!.claims}`);
      }
    } finally {
      await direct.end({ timeout: 5 });
    }
  });

  test('a tool call through PgBouncer is still one round trip', async () => {
    const proxy = await startDelayProxy({
      targetPort: bouncer.port,
      delayMs: 3,
      ...(process.env.TRACE_RT
        ? {
            trace: (c: number, d: string, data: Buffer, n: boolean) =>
              console.error(
                c,
                d,
                n ? 'NEW' : '   ',
                data.length,
                JSON.stringify(data.subarray(0, 60).toString('latin1')),
              ),
          }
        : {}),
    });
    const url = new URL(bouncer.url);
    url.port = String(proxy.port);
    const viaProxy = openPool(url.toString(), { max: 1 });
    try {
      await runStatement(viaProxy, identity(USERS[1]!), 'select 1', { access: 'read', limits: LIMITS });
      for (const [statement, access] of [
        ['select id, name from companies order by id limit 10', 'read'],
        ["insert into private_notes (text) values ('pooler rt') returning id", 'write'],
      ] as const) {
        proxy.reset();
        await runStatement(viaProxy, identity(USERS[1]!), statement, { access, limits: LIMITS });
        assert.equal(proxy.stats().roundTrips, 1, access);
      }
    } finally {
      await viaProxy.end({ timeout: 5 });
      await proxy.close();
    }
  });

  test('the whole server (startServer) works through PgBouncer, concurrently, per user', async () => {
    const auth = await startCountingAuth(db.admin);
    const server = await startServer({
      SUPABASE_URL: auth.projectUrl,
      DATABASE_URL: bouncer.url,
      MCP_SERVER_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'silent',
      DB_POOL_SIZE: String(CLIENT_POOL),
      // This test is about multiplexing 60 concurrent calls, not about a fair share per user.
      DB_USER_CONCURRENCY: String(CLIENT_POOL),
      MAX_IN_FLIGHT: '100',
    });
    try {
      const tokens = await Promise.all(USERS.map((u) => auth.auth.mintAccessToken(asMintUser(u))));
      const call = async (i: number, tool: 'query' | 'mutate', text: string) => {
        const response = await server.fetch(
          new Request('http://127.0.0.1:9/mcp', {
            method: 'POST',
            headers: {
              authorization: `Bearer ${tokens[i % USERS.length]}`,
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'mcp-protocol-version': '2025-06-18',
            },
            body: JSON.stringify({
              jsonrpc: '2.0',
              id: i,
              method: 'tools/call',
              params: { name: tool, arguments: { sql: text } },
            }),
          }),
        );
        return (await response.json()) as {
          result: {
            isError?: boolean;
            structuredContent?: { rows: Record<string, unknown>[] };
            content: { text: string }[];
          };
        };
      };
      const results = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const user = USERS[i % USERS.length]!;
          if (i % 3 === 2) {
            const bad = await call(
              i,
              'mutate',
              "insert into tasks (contact_id, type, text) values (999999, 'call', 'pooler-orphan')",
            );
            assert.equal(bad.result.isError, true, JSON.stringify(bad));
            return;
          }
          const ok = await call(
            i,
            'query',
            'select auth.uid() as uid, (select count(*) from private_notes where sales_id <> public.current_sales_id()) as foreign_notes',
          );
          assert.ok(!ok.result.isError, String(ok.result.content[0]?.text));
          assert.equal(ok.result.structuredContent!.rows[0]!.uid, user.id);
          assert.equal(ok.result.structuredContent!.rows[0]!.foreign_notes, 0);
        }),
      );
      assert.equal(results.length, 60);
      const [{ n }] =
        (await db.admin`select count(*)::int as n from tasks where text = 'pooler-orphan'`) as unknown as [
          { n: number },
        ];
      assert.equal(n, 0);
    } finally {
      await server.close();
      await auth.stop();
    }
  });
});

describe('behind PgBouncer, with PostgreSQL failing behind it', () => {
  let db: TestDatabase;
  let proxy: DelayProxy;
  let bouncer: RunningBouncer;
  let sql: Sql;

  before(async () => {
    db = await createTestDatabase('pooler_faults');
    // The fault-injection proxy sits between PgBouncer and PostgreSQL.
    proxy = await startDelayProxy({ targetPort: Number(new URL(db.adminUrl).port) });
    bouncer = await startPgBouncer(db, proxy);
    sql = openPool(bouncer.url, { max: CLIENT_POOL });
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await bouncer?.stop();
    await proxy?.close();
    await db?.drop();
  });

  const write = (name: string) =>
    runStatement(
      sql,
      identity(USERS[1]!),
      `insert into tags (name, color) values ('${name}', '#000000') returning name`,
      { access: 'write', limits: LIMITS },
    ).then(
      (r) => ({ name, code: 'ok', rows: r.rows }),
      (e: unknown) => ({ name, code: e instanceof DbError ? e.code : String(e), rows: [] }),
    );

  test('server connections cut and PostgreSQL refusing for a second: every call answers, no committed write is lost, the next calls succeed', async () => {
    const started = performance.now();
    const calls = Array.from({ length: 12 }, (_, i) => write(`bouncer-outage-${i}`));
    await new Promise((r) => setTimeout(r, 10));
    await proxy.faults.refuse(true);
    proxy.faults.cutAll();
    setTimeout(() => void proxy.faults.refuse(false), 1_000);
    const results = await Promise.all(calls);
    assert.ok(performance.now() - started < LIMITS.poolWaitMs + 5_000, 'no call hangs');
    for (const r of results)
      assert.match(r.code, /^(ok|DATABASE_UNAVAILABLE|WRITE_IN_DOUBT|WRITE_ROLLED_BACK)$/, r.code);
    const present = new Set(
      (await db.admin<{ name: string }[]>`select name from tags where name like 'bouncer-outage-%'`).map((r) => r.name),
    );
    assert.deepEqual(
      results.filter((r) => r.code === 'ok' && !present.has(r.name)).map((r) => r.name),
      [],
      'no write reported committed is missing',
    );
    assert.deepEqual(
      results.filter((r) => r.code === 'WRITE_ROLLED_BACK' && present.has(r.name)).map((r) => r.name),
      [],
    );
    await new Promise((r) => setTimeout(r, 1_200));
    for (let i = 0; i < 4; i++) assert.equal((await write(`bouncer-after-${i}`)).code, 'ok');
  });

  test('the reply to COMMIT lost between PostgreSQL and PgBouncer: the write is reported truthfully', async () => {
    proxy.faults.cutBeforeReply(commandComplete('COMMIT'));
    // The marker must arrive within one chunk: write until the proxy has cut one.
    const cuts = proxy.faults.cutCount();
    let result: Awaited<ReturnType<typeof write>> | undefined;
    for (let i = 0; i < 10 && proxy.faults.cutCount() === cuts; i++) result = await write(`bouncer-commit-lost-${i}`);
    assert.ok(result && proxy.faults.cutCount() > cuts, 'the proxy cut a COMMIT reply');
    const [row] = await db.admin`select count(*)::int as n from tags where name = ${result.name}`;
    if (result.code === 'ok') assert.equal(row!.n, 1, 'reported committed, and present');
    else if (result.code === 'WRITE_ROLLED_BACK') assert.equal(row!.n, 0);
    else assert.equal(result.code, 'WRITE_IN_DOUBT');
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal((await write('bouncer-commit-next')).code, 'ok');
  });
});
