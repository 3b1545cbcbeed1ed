/**
 * Issue 5: one network round trip per tool call, and no network call per request for tokens.
 *
 * Round trips are counted by bench/proxy.ts (a client turn: see its header for the exact
 * definition) with a delay on each direction, so a client that waited for an answer shows up as a
 * second turn. Also: a failing call rolls back, reports the right error, costs one round trip and
 * leaves its connection clean (a pool of ONE connection, so the next call reuses it); the JWKS is
 * fetched once, whatever the number of calls; and the quick benchmark (server spawned under Node,
 * four MCP clients over HTTP) stays at ≤ 1.5 round trips per call.
 */
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runBench } from '../../bench/bench.js';
import { startDelayProxy, startDelayProxyProcess, type DelayProxy } from '../../bench/proxy.js';
import { startCountingAuth, type BenchDatabase } from '../../bench/setup.js';
import { asMintUser, DEMO_USERS } from '../../dev/seed.js';
import { openPool, type Sql } from '../../src/db/pool.js';
import { DbError, runStatement, type Identity, type Limits, type RunOptions } from '../../src/db/run.js';
import { startServer } from '../../src/main.js';
import { createTestDatabase, testEnvironment, type TestDatabase } from '../support/database.js';

const LIMITS: Limits = {
  statementTimeoutMs: 5_000,
  lockTimeoutMs: 1_000,
  maxRows: 100,
  maxBytes: 100_000,
  poolWaitMs: 5_000,
  userConcurrency: 100,
  userHeavyMs: 0,
};
const alice = DEMO_USERS[1]!;
const bob = DEMO_USERS[2]!;
const identity = (user = alice, extra: Record<string, unknown> = {}): Identity => ({
  sub: user.id,
  claims: { sub: user.id, role: 'authenticated', aud: 'authenticated', email: user.email, ...extra },
});
/** A one-way delay large enough that an answer never overtakes the rest of a pipeline. */
const DELAY_MS = 3;

/** Round trips `fn` cost through the proxy. */
async function roundTrips(proxy: DelayProxy, fn: () => Promise<unknown>): Promise<number> {
  proxy.reset();
  await fn();
  return proxy.stats().roundTrips;
}

describe('runStatement round trips', () => {
  let db: TestDatabase;
  let proxy: DelayProxy;
  let sql: Sql;
  before(async () => {
    db = await createTestDatabase('round_trips');
    const url = new URL(db.loginUrl);
    proxy = await startDelayProxy({ targetHost: url.hostname, targetPort: Number(url.port), delayMs: DELAY_MS });
    url.port = String(proxy.port);
    url.hostname = proxy.host;
    // One connection: every call below reuses the connection the previous one left behind.
    sql = openPool(url.toString(), { max: 1 });
    await runStatement(sql, identity(), 'select 1', { access: 'read', limits: LIMITS }); // connect + type fetch
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await proxy?.close();
    await db?.drop();
  });

  test('a read costs one round trip', async () => {
    for (let i = 0; i < 10; i++) {
      const n = await roundTrips(proxy, () =>
        runStatement(sql, identity(), 'select id, name, sector from companies order by name limit 20', {
          access: 'read',
          limits: LIMITS,
        }),
      );
      assert.equal(n, 1);
    }
    assert.equal(proxy.stats().connections, 0, 'no new connection after warm-up');
  });

  test('a write costs one round trip', async () => {
    for (let i = 0; i < 10; i++) {
      const n = await roundTrips(proxy, () =>
        runStatement(sql, identity(), `insert into private_notes (text) values ('rt ${i}') returning id, sales_id`, {
          access: 'write',
          limits: LIMITS,
        }),
      );
      assert.equal(n, 1);
    }
  });

  test('a guarded write (the mutate confirmation gate) costs one round trip, committed or held', async () => {
    const guard = { maxRows: 20 };
    const committed = await roundTrips(proxy, () =>
      runStatement(sql, identity(), `insert into private_notes (text) values ('rt guarded')`, {
        access: 'write',
        limits: LIMITS,
        guard,
      }),
    );
    assert.equal(committed, 1);
    const held = await roundTrips(proxy, () =>
      runStatement(sql, identity(), `delete from private_notes where text = 'rt guarded'`, {
        access: 'write',
        limits: LIMITS,
        guard,
      }).catch((e: unknown) => e),
    );
    assert.equal(held, 1);
    const [{ n }] = (
      await runStatement(sql, identity(), `select count(*)::int as n from private_notes where text = 'rt guarded'`, {
        access: 'read',
        limits: LIMITS,
      })
    ).rows as [{ n: number }];
    assert.equal(n, 1, 'the held delete was rolled back');
  });

  test('still one round trip with claims and a statement well over 1 KiB (postgres.js flushes mid-pipeline)', async () => {
    const big = identity(alice, { user_metadata: { bio: 'x'.repeat(3_000) } });
    const statement = `select id, name from companies where name <> '${'y'.repeat(2_000)}' order by id limit 5`;
    for (const access of ['read', 'write'] as const) {
      const text =
        access === 'read'
          ? statement
          : `update contacts set last_seen = now() where id = 1 and first_name <> '${'z'.repeat(2_000)}'`;
      const n = await roundTrips(proxy, () => runStatement(sql, big, text, { access, limits: LIMITS }));
      assert.equal(n, 1, access);
    }
  });

  test('one round trip even when the server stalls mid-call and the database answers at once', async () => {
    // On a loaded machine the server is descheduled at any point. A pipeline written in several
    // pieces then has its head answered before its tail leaves: a second round trip (1.2 per call
    // in the bench at 0 ms). Here every socket write to the database is followed by a 20 ms stall,
    // with no delay in the proxy (a separate process, so it answers during the stall).
    const url = new URL(db.loginUrl);
    const near = await startDelayProxyProcess({ targetHost: url.hostname, targetPort: Number(url.port), delayMs: 0 });
    url.hostname = near.host;
    url.port = String(near.port);
    const pool = openPool(url.toString(), { max: 1 });
    const write = Socket.prototype.write;
    try {
      await runStatement(pool, identity(), 'select 1', { access: 'read', limits: LIMITS }); // connect + type fetch
      Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
        const written = write.apply(this, args);
        if (this.remotePort === near.port) for (const until = performance.now() + 20; performance.now() < until; );
        return written;
      } as Socket['write'];
      const big = identity(alice, { user_metadata: { bio: 'x'.repeat(3_000) } });
      const calls: [Identity, string, Pick<RunOptions, 'access' | 'guard'>][] = [
        [identity(), 'select id, name from companies order by name limit 20', { access: 'read' }],
        [big, 'select id, name from companies order by name limit 20', { access: 'read' }],
        [identity(), "insert into private_notes (text) values ('rt stalled')", { access: 'write' }],
        [
          identity(),
          "insert into private_notes (text) values ('rt stalled')",
          { access: 'write', guard: { maxRows: 20 } },
        ],
      ];
      for (const [who, statement, options] of calls) {
        for (let i = 0; i < 3; i++) {
          await near.reset();
          await runStatement(pool, who, statement, { ...options, limits: LIMITS });
          assert.equal((await near.stats()).roundTrips, 1, `${options.access}: ${statement}`);
        }
      }
    } finally {
      Socket.prototype.write = write;
      await pool.end({ timeout: 5 });
      await near.close();
    }
  });

  test('a failing write rolls back, says why, costs one round trip, and leaves the connection clean', async () => {
    let failure: unknown;
    const n = await roundTrips(proxy, () =>
      runStatement(sql, identity(), "insert into tasks (contact_id, type, text) values (999999, 'call', 'rt-orphan')", {
        access: 'write',
        limits: LIMITS,
      }).catch((error) => void (failure = error)),
    );
    assert.ok(failure instanceof DbError, String(failure));
    assert.equal(failure.code, 'SQL_ERROR');
    assert.equal(failure.pg?.sqlstate, '23503'); // foreign key violation
    assert.equal(n, 1);
    const written = await db.admin`select count(*)::int as n from tasks where text = 'rt-orphan'`;
    assert.equal(written[0]!.n, 0);

    // The same (only) connection, as someone else: right identity, nothing left over.
    const next = await runStatement(
      sql,
      identity(bob),
      "select auth.uid() as uid, current_setting('request.jwt.claims', true)::jsonb ->> 'email' as email",
      {
        access: 'read',
        limits: LIMITS,
      },
    );
    assert.deepEqual(next.rows, [{ uid: bob.id, email: bob.email }]);
    const [state] = await sql.unsafe(
      "select current_user as who, current_setting('request.jwt.claims', true) as claims, pg_current_xact_id_if_assigned() as xact, now() = statement_timestamp() as fresh",
    );
    assert.equal(state!.who, testEnvironment().loginRole);
    assert.ok(!state!.claims, `claims left on the connection: ${state!.claims}`);
    assert.equal(state!.xact, null);
    assert.equal(state!.fresh, true, 'a transaction was left open');
  });

  test('a failing read, a timeout and an integrity violation each leave the connection clean', async () => {
    const cases: [string, Limits, (e: DbError) => boolean][] = [
      [
        'select 1 / (select count(*) - count(*) from tags) as boom',
        LIMITS,
        (e) => e.code === 'SQL_ERROR' && e.pg?.sqlstate === '22012',
      ],
      ['select pg_sleep(2)', { ...LIMITS, statementTimeoutMs: 100 }, (e) => e.code === 'STATEMENT_TIMEOUT'],
      [
        `select set_config('request.jwt.claims', '{"sub":"${bob.id}"}', true)`,
        LIMITS,
        (e) => e.code === 'INTEGRITY_VIOLATION',
      ],
    ];
    for (const [statement, limits, expected] of cases) {
      await assert.rejects(
        runStatement(sql, identity(), statement, { access: 'read', limits }),
        (e: unknown) => e instanceof DbError && expected(e),
      );
      const next = await runStatement(sql, identity(), 'select auth.uid() as uid, count(*)::int as tags from tags', {
        access: 'read',
        limits: LIMITS,
      });
      assert.equal(next.rows[0]!.uid, alice.id, statement);
    }
  });
});

describe('token verification', () => {
  test('N calls fetch the JWKS once (at start-up), not per request', async () => {
    const db = await createTestDatabase('jwks');
    const auth = await startCountingAuth(db.admin);
    const JWKS = '/auth/v1/.well-known/jwks.json';
    const server = await startServer({
      SUPABASE_URL: auth.projectUrl,
      DATABASE_URL: db.loginUrl,
      MCP_SERVER_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'silent',
      // 8 concurrent calls per user: this test counts JWKS fetches, not the fair share per user.
      DB_USER_CONCURRENCY: '10',
    });
    try {
      const fetchesAtStart = auth.count(JWKS);
      assert.ok(fetchesAtStart <= 1, `start-up fetched the JWKS ${fetchesAtStart} times`);
      const users = DEMO_USERS.filter((u) => !u.disabled);
      const tokens = await Promise.all(users.map((u) => auth.auth.mintAccessToken(asMintUser(u))));
      const N = 40;
      const results = await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const response = await server.fetch(
            new Request('http://127.0.0.1:9/mcp', {
              method: 'POST',
              headers: {
                authorization: `Bearer ${tokens[i % tokens.length]}`,
                'content-type': 'application/json',
                accept: 'application/json, text/event-stream',
                'mcp-protocol-version': '2025-06-18',
              },
              body: JSON.stringify({
                jsonrpc: '2.0',
                id: i,
                method: 'tools/call',
                params: { name: 'query', arguments: { sql: 'select auth.uid() as uid' } },
              }),
            }),
          );
          const body = (await response.json()) as { result?: { structuredContent?: { rows: { uid: string }[] } } };
          return body.result?.structuredContent?.rows[0]?.uid;
        }),
      );
      assert.deepEqual(
        results,
        Array.from({ length: N }, (_, i) => users[i % users.length]!.id),
      );
      assert.equal(auth.count(JWKS), 1, `${N} calls → ${auth.count(JWKS)} JWKS fetches`);
    } finally {
      await server.close();
      await auth.stop();
      await db.drop();
    }
  });
});

describe('bench --quick', () => {
  test('the server as built: ≤ 1.5 database round trips per tool call, no failed call', {
    timeout: 300_000,
  }, async (t) => {
    const db = await createTestDatabase('bench_quick');
    const url = new URL(db.adminUrl);
    const env = testEnvironment();
    const bench: BenchDatabase = {
      host: url.hostname,
      port: Number(url.port),
      database: db.name,
      adminUrl: db.adminUrl,
      loginRole: env.loginRole,
      loginPassword: env.loginPassword,
      loginUrlVia: (host, port) => {
        const u = new URL(db.loginUrl);
        u.hostname = host;
        u.port = String(port);
        return u.toString();
      },
      admin: db.admin,
      stop: () => db.drop(),
    };
    try {
      const started = Date.now();
      const report = await runBench(
        { delays: [4], clients: 4, calls: 150, runtimes: ['node'], log: () => {} },
        { db: bench },
      );
      const summary = report.phases
        .map((p) => `${p.mode}: ${p.roundTripsPerCall} rt/call, ${p.errors} errors ${p.firstError ?? ''}`)
        .join('; ');
      assert.deepEqual(report.failures, []);
      for (const p of report.phases) assert.equal(p.errors, 0, summary);
      const server = report.phases.find((p) => p.mode === 'node' && p.request === 'tools/call');
      assert.ok(server, summary);
      // One round trip per call is proven exactly, call by call, above. Here, under four clients'
      // load, a few percent more come from the server's own background queries (the function
      // catalogue's change check, each user's first configuration read) and from a busy machine
      // delaying a pipeline's tail (1.15 measured while another benchmark ran, up to 1.32 with the load
      // average at 18 on two cores: fewer calls share each background query). The defects this
      // guards against cost far more: Nagle's algorithm 2.0, no pipelining 5.0.
      assert.ok(server.roundTripsPerCall <= 1.5, summary);
      const baseline = report.phases.find((p) => p.mode === 'node' && p.request === 'tools/list');
      // tools/list never touches the database; the only traffic the proxy may see meanwhile is the
      // function catalogue's change check, one tiny query every 5 s (0.007 per call measured).
      assert.ok(
        baseline !== undefined && baseline.roundTripsPerCall < 0.05,
        `the no-database baseline must not reach the database per call: ${summary}`,
      );
      assert.ok(
        report.phases.find((p) => p.mode === 'naive')!.roundTripsPerCall >= 4.9,
        `the proxy must see the naive anchor's five steps: ${summary}`,
      );
      t.diagnostic(`bench --quick took ${Date.now() - started} ms`);
    } finally {
      await db.drop();
    }
  });
});
