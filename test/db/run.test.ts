/**
 * The transaction that runs a statement as a user, at the database layer and through HTTP:
 * the integrity check, cancellation when the client goes away, bounded waits for a connection,
 * claims that reach PostgreSQL intact, and the start-up check of the login role.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_USERS } from '../../dev/seed.js';
import { openPool, type Sql } from '../../src/db/pool.js';
import { DbError, runStatement, type Limits } from '../../src/db/run.js';
import { inspectLoginRole } from '../../src/db/login-role.js';
import { startServer, StartupError } from '../../src/main.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { rows, startStack, toolError, type Stack } from '../support/stack.js';

const LIMITS: Limits = {
  statementTimeoutMs: 5_000,
  lockTimeoutMs: 1_000,
  maxRows: 100,
  maxBytes: 100_000,
  poolWaitMs: 2_000,
  userConcurrency: 100,
  userHeavyMs: 0,
};
const alice = DEMO_USERS[1]!;
const identity = (user = alice, extra: Record<string, unknown> = {}) => ({
  sub: user.id,
  claims: { sub: user.id, role: 'authenticated', aud: 'authenticated', email: user.email, ...extra },
});

describe('runStatement', () => {
  let db: TestDatabase;
  let sql: Sql;
  before(async () => {
    db = await createTestDatabase('run');
    sql = openPool(db.loginUrl, { max: 2 });
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  test('a statement that forges its identity is rolled back and returns nothing', async () => {
    // The policy refuses this before it reaches the database; here it is sent straight to the
    // runner to prove the last line of defence: the check after the statement, in its transaction.
    const forged = `with w as (insert into tags (name, color) values ('forged', '#000') returning id)
      select set_config('request.jwt.claims', '{"sub":"${DEMO_USERS[0]!.id}"}', true) as x, (select count(*) from w) as n`;
    await assert.rejects(
      runStatement(sql, identity(), forged, { access: 'write', limits: LIMITS }),
      (error: unknown) => error instanceof DbError && error.code === 'INTEGRITY_VIOLATION',
    );
    const written = await db.admin`select count(*)::int as n from tags where name = 'forged'`;
    assert.equal(written[0]!.n, 0);
    const next = await runStatement(sql, identity(), 'select auth.uid() as uid', { access: 'read', limits: LIMITS });
    assert.deepEqual(next.rows, [{ uid: alice.id }]);
  });

  test('a subject PostgreSQL cannot hold (a NUL) is refused, and leaves every pooled connection free', async () => {
    const nul = { ...identity(), sub: `${alice.id}\u0000` };
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        runStatement(sql, nul, 'select 1', { access: 'read', limits: LIMITS }),
        (error: unknown) => error instanceof DbError && error.code === 'SQL_ERROR' && /NUL/.test(error.message),
      );
    }
    // The pool holds two connections: had each refusal kept one, this would wait and fail.
    const next = await runStatement(sql, identity(), 'select auth.uid() as uid', { access: 'read', limits: LIMITS });
    assert.deepEqual(next.rows, [{ uid: alice.id }]);
  });

  test("a user's next token with other claims is what auth.jwt() sees", async () => {
    const read = (who: ReturnType<typeof identity>) =>
      runStatement(sql, who, "select auth.jwt()->'user_metadata'->>'team' as team", { access: 'read', limits: LIMITS });
    const before = identity(alice, { user_metadata: { team: 'north' } });
    assert.deepEqual((await read(before)).rows, [{ team: 'north' }]);
    assert.deepEqual((await read(before)).rows, [{ team: 'north' }]);
    const after = identity(alice, { user_metadata: { team: 'south' } });
    assert.deepEqual((await read(after)).rows, [{ team: 'south' }]);
  });

  test('a column named __proto__ stays a column of the row', async () => {
    const result = await runStatement(sql, identity(), `select 1 as "__proto__", 2::bigint as n`, {
      access: 'read',
      limits: LIMITS,
    });
    assert.deepEqual(Object.entries(result.rows[0]!), [
      ['__proto__', 1],
      ['n', 2],
    ]);
    assert.equal(Object.getPrototypeOf(result.rows[0]), Object.prototype);
    assert.deepEqual(result.values, [[1, 2]]);
  });

  test('several statements are a syntax error in PostgreSQL itself (extended protocol), even past the policy', async () => {
    await assert.rejects(
      runStatement(sql, identity(), "insert into tags (name, color) values ('two', '#000'); delete from tags", {
        access: 'write',
        limits: LIMITS,
      }),
      (error: unknown) => error instanceof DbError && error.pg?.sqlstate === '42601',
    );
    assert.equal((await db.admin`select count(*)::int as n from tags where name = 'two'`)[0]!.n, 0);
    assert.ok((await db.admin`select count(*)::int as n from tags`)[0]!.n > 0, 'nothing was deleted');
  });

  test('a role switch is refused by the database for the least-privilege login, and caught for a privileged one', async () => {
    await assert.rejects(
      runStatement(sql, identity(), "select set_config('role', 'anon', true)", { access: 'read', limits: LIMITS }),
      (error: unknown) => error instanceof DbError && error.pg?.sqlstate === '42501',
    );
    const privileged = openPool(db.adminUrl, { max: 1 });
    try {
      await assert.rejects(
        runStatement(privileged, identity(), "select set_config('role', 'anon', true)", {
          access: 'read',
          limits: LIMITS,
        }),
        (error: unknown) => error instanceof DbError && error.code === 'INTEGRITY_VIOLATION',
      );
    } finally {
      await privileged.end({ timeout: 5 });
    }
  });

  test('claims with quotes, backslashes, dollar quotes and unicode reach auth.jwt() intact', async () => {
    const nasty = "a'b\\c $$ $x$ \\' '' \u{1F600} \u2028 end";
    const result = await runStatement(
      sql,
      identity(alice, { user_metadata: { note: nasty } }),
      "select auth.jwt() -> 'user_metadata' ->> 'note' as note",
      {
        access: 'read',
        limits: LIMITS,
      },
    );
    assert.deepEqual(result.rows, [{ note: nasty }]);
  });

  test('strings are read as the policy read them, even if a role default turns standard_conforming_strings off', async () => {
    const loginRole = decodeURIComponent(new URL(db.loginUrl).username);
    await db.admin.unsafe(`alter role ${loginRole} in database ${db.name} set standard_conforming_strings = off`);
    const fresh = openPool(db.loginUrl, { max: 1 });
    try {
      const result = await runStatement(fresh, identity(), String.raw`select 'a\b' as text, length('a\b') as n`, {
        access: 'read',
        limits: LIMITS,
      });
      // Standard strings: a, backslash, b. With the setting off PostgreSQL would read \b as a
      // backspace: another string than the policy parsed, and in general another statement.
      assert.deepEqual(result.rows, [{ text: String.raw`a\b`, n: 3 }]);
    } finally {
      await fresh.end({ timeout: 5 });
      await db.admin.unsafe(`alter role ${loginRole} in database ${db.name} reset standard_conforming_strings`);
    }
  });

  test('a failed statement leaves the connection clean for the next caller', async () => {
    const single = openPool(db.loginUrl, { max: 1 });
    try {
      await assert.rejects(
        runStatement(single, identity(), 'select 1/0', { access: 'read', limits: LIMITS }),
        /division by zero/,
      );
      const next = await runStatement(
        single,
        identity(DEMO_USERS[2]),
        'select auth.uid() as uid, current_user as role',
        { access: 'read', limits: LIMITS },
      );
      assert.deepEqual(next.rows, [{ uid: DEMO_USERS[2]!.id, role: 'authenticated' }]);
    } finally {
      await single.end({ timeout: 5 });
    }
  });

  test('a READ ONLY transaction refuses writes that hide in functions', async () => {
    await assert.rejects(
      runStatement(sql, identity(), 'select merge_contacts(1, 2)', { access: 'read', limits: LIMITS }),
      (error: unknown) => error instanceof DbError && error.pg?.sqlstate === '25006',
    );
  });
});

describe('cancellation and a busy pool, over HTTP', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { DB_POOL_SIZE: '1', DB_POOL_WAIT_MS: '400', STATEMENT_TIMEOUT_MS: '20000' } });
  });
  after(async () => {
    await stack?.stop();
  });

  const SLOW = 'select count(*) from contacts a, contacts b, contacts c';
  const active = async () =>
    (
      await stack.db.admin`select count(*)::int as n from pg_stat_activity
       where application_name = 'atomic-crm-mcp' and state = 'active' and datname = current_database()`
    )[0]!.n;

  test('a client that goes away stops its statement in PostgreSQL within a second', async () => {
    const token = await stack.token(stack.users.alice);
    const controller = new AbortController();
    const call = fetch(stack.url, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'query', arguments: { sql: SLOW } },
      }),
    }).catch(() => 'aborted');
    const deadline = Date.now() + 5_000;
    while ((await active()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await active(), 1, 'the slow statement is running');
    controller.abort();
    assert.equal(await call, 'aborted');
    const abortedAt = Date.now();
    while ((await active()) > 0 && Date.now() - abortedAt < 3_000) await new Promise((r) => setTimeout(r, 20));
    const stoppedAfter = Date.now() - abortedAt;
    assert.equal(await active(), 0, 'the statement was cancelled');
    assert.ok(stoppedAfter < 1_000, `stopped ${stoppedAfter} ms after the client left`);
    const settleBy = Date.now() + 3_000;
    while (stack.server.inFlight() > 0 && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 20));
    assert.equal(
      stack.server.inFlight(),
      0,
      'the abandoned request is no longer in flight (shutdown would wait for it)',
    );
    const client = await stack.connect(stack.users.alice);
    assert.deepEqual(
      rows(await client.callTool({ name: 'query', arguments: { sql: 'select 1 as ok' } })),
      [{ ok: 1 }],
      'the pool is healthy',
    );
  });

  test('when every connection stays busy, a call gets POOL_BUSY instead of hanging', async () => {
    const [slow, quick] = await Promise.all([stack.connect(stack.users.alice), stack.connect(stack.users.bob)]);
    const running = slow.callTool({ name: 'query', arguments: { sql: SLOW } }, undefined, { timeout: 60_000 });
    const deadline = Date.now() + 5_000;
    while ((await active()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const busy = toolError(await quick.callTool({ name: 'query', arguments: { sql: 'select 1' } }));
    assert.equal(busy.code, 'POOL_BUSY');
    assert.match(busy.message, /Retry/);
    await stack.db
      .admin`select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'atomic-crm-mcp' and state = 'active'`;
    await running;
    assert.deepEqual(rows(await quick.callTool({ name: 'query', arguments: { sql: 'select 1 as ok' } })), [{ ok: 1 }]);
  });
});

describe('the login role at start-up', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase('login_role');
  });
  after(async () => {
    await db?.drop();
  });

  test('the least-privilege role passes the check', async () => {
    const sql = openPool(db.loginUrl, { max: 1 });
    try {
      const report = await inspectLoginRole(sql);
      assert.equal(report.canActAsUser, true);
      assert.deepEqual(report.problems, []);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  test('a superuser login refuses to start, and says how to fix it', async () => {
    const env = { SUPABASE_URL: 'http://127.0.0.1:9', DATABASE_URL: db.adminUrl, LOG_LEVEL: 'silent' };
    await assert.rejects(startServer(env), (error: unknown) => {
      assert.ok(error instanceof StartupError);
      assert.match(error.message, /superuser/);
      assert.match(error.message, /BYPASSRLS/);
      assert.match(error.message, /npm run login-role-sql/);
      assert.match(error.message, /ALLOW_PRIVILEGED_LOGIN_ROLE/);
      return true;
    });
  });

  test('with the explicit opt-in it starts, and warns', async () => {
    const lines: string[] = [];
    const server = await startServer(
      { SUPABASE_URL: 'http://127.0.0.1:9', DATABASE_URL: db.adminUrl, ALLOW_PRIVILEGED_LOGIN_ROLE: 'true' },
      [],
      { write: (line) => lines.push(line) },
    );
    await server.close();
    assert.ok(lines.some((l) => l.includes('"event":"privileged_login_role"') && l.includes('"level":"warn"')));
  });

  test('a role that cannot act as authenticated cannot start', async () => {
    const role = `nobody_${Date.now()}`;
    await db.admin.unsafe(`create role ${role} login password 'pw'`);
    const url = new URL(db.loginUrl);
    url.username = role;
    url.password = 'pw';
    await assert.rejects(
      startServer({ SUPABASE_URL: 'http://127.0.0.1:9', DATABASE_URL: url.href, LOG_LEVEL: 'silent' }),
      /cannot act as "authenticated"/,
    );
  });
});
