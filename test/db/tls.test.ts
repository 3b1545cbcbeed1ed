/**
 * Supabase's databases take TLS, and a deployment's DATABASE_URL says `sslmode=require`. The
 * patched postgres.js (docs/postgres-js-patch.md, item 6) gathers a transaction into one socket
 * write; over TLS that write goes through the TLS socket, so the one round trip, a statement past
 * the patch's 64 KiB limit and a large answer must come through there as they do in the clear. npm test's
 * cluster accepts TLS (test/run.ts); the round trips are counted by the delay proxy, which passes
 * the encrypted bytes through unchanged.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startDelayProxy, type DelayProxy } from '../../bench/proxy.js';
import { DEMO_USERS } from '../../dev/seed.js';
import { openPool, type Sql } from '../../src/db/pool.js';
import { runStatement, type Identity, type Limits } from '../../src/db/run.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { via } from '../support/faults.js';

const LIMITS: Limits = {
  statementTimeoutMs: 10_000,
  lockTimeoutMs: 1_000,
  maxRows: 100,
  maxBytes: 1_000_000,
  poolWaitMs: 5_000,
  userConcurrency: 100,
  userHeavyMs: 0,
};
const read = { access: 'read', limits: LIMITS } as const;
const write = { access: 'write', limits: LIMITS } as const;
const alice = DEMO_USERS[1]!;
const identity: Identity = {
  sub: alice.id,
  claims: { sub: alice.id, role: 'authenticated', aud: 'authenticated', email: alice.email },
};

describe('the database over TLS (sslmode=require)', () => {
  let db: TestDatabase;
  let proxy: DelayProxy;
  let sql: Sql;
  before(async () => {
    db = await createTestDatabase('tls');
    const target = new URL(db.loginUrl);
    proxy = await startDelayProxy({ targetHost: target.hostname, targetPort: Number(target.port), delayMs: 3 });
    const url = new URL(via(db.loginUrl, proxy));
    url.searchParams.set('sslmode', 'require');
    // One connection, so every call below reuses the one the warm-up opened (and its handshake).
    sql = openPool(url.toString(), { max: 1 });
    await runStatement(sql, identity, 'select 1', read);
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await proxy?.close();
    await db?.drop();
  });

  test('the connection is encrypted', async () => {
    const [row] = await sql`select ssl, version from pg_catalog.pg_stat_ssl where pid = pg_catalog.pg_backend_pid()`;
    assert.equal(row!.ssl, true);
    assert.match(String(row!.version), /^TLSv1\.[23]$/);
  });

  test('a read, a write and a guarded write each cost one round trip', async () => {
    const cases: [string, () => Promise<{ command: string }>][] = [
      ['read', () => runStatement(sql, identity, 'select id, name from companies order by id limit 20', read)],
      ['write', () => runStatement(sql, identity, `insert into private_notes (text) values ('tls')`, write)],
      [
        'guarded write',
        () =>
          runStatement(sql, identity, `update private_notes set text = 'tls!' where text = 'tls'`, {
            ...write,
            guard: { maxRows: 20 },
          }),
      ],
    ];
    for (const [what, run] of cases) {
      for (let i = 0; i < 5; i++) {
        proxy.reset();
        assert.ok((await run()).command, `the ${what} succeeded`);
        assert.equal(proxy.stats().roundTrips, 1, what);
      }
    }
    assert.equal(proxy.stats().connections, 0, 'no new connection after the warm-up');
  });

  test('a statement past 64 KiB and its 300 KB answer arrive whole', async () => {
    // Text no record boundary leaves intact by accident: the hex of a hash chain. (A buffer past
    // 64 KiB leaves at once and the rest of its pipeline after it, so no round-trip count here.)
    let text = '';
    for (let block = 'tls'; text.length < 150_000; ) text += block = createHash('sha256').update(block).digest('hex');
    const written = await runStatement(
      sql,
      identity,
      `insert into private_notes (text) values ('${text}') returning id`,
      write,
    );
    const id = Number(written.rows[0]!.id);
    proxy.reset();
    const answer = await runStatement(
      sql,
      identity,
      `select text, text || text as twice from private_notes where id = ${id}`,
      read,
    );
    assert.equal(proxy.stats().roundTrips, 1, 'a large answer is one round trip');
    assert.equal(answer.rows[0]!.text, text);
    assert.equal(answer.rows[0]!.twice, text + text);
  });
});
