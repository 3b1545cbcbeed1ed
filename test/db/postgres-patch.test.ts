/**
 * The fixes patches/postgres+3.4.9.patch makes to postgres.js (applied by `npm install`), each
 * driven through a fault-injection proxy: without the patch the first test kills this process
 * (an uncaught TypeError from the deferred socket write) and the second hangs until its bound.
 * Run: node --import tsx test/run.ts test/db/postgres-patch.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { startDelayProxy, type DelayProxy } from '../../bench/proxy.js';
import { openPool } from '../../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { via } from '../support/faults.js';

let db: TestDatabase;
let proxy: DelayProxy;

before(async () => {
  db = await createTestDatabase('postgres_patch');
  proxy = await startDelayProxy({ targetPort: Number(new URL(db.loginUrl).port) });
});
after(async () => {
  await proxy?.close();
  await db?.drop();
});

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);

test('a query written to a reserved connection whose socket is gone is rejected (CONNECTION_CLOSED), not thrown from a timer', async () => {
  const sql = openPool(via(db.loginUrl, proxy), { max: 1 });
  try {
    const reserved = await sql.reserve();
    await reserved`select 1`;
    proxy.faults.cutAll();
    await new Promise((r) => setTimeout(r, 100));
    // A statement is buffered and written after the current task (unpatched, in a setImmediate):
    // the case that crashed.
    const error = await within(
      reserved`select 1`.then(
        () => null,
        (e: Error & { code?: string }) => e,
      ),
      2_000,
      'the query',
    );
    assert.equal(error?.code, 'CONNECTION_CLOSED');
    await new Promise((r) => setTimeout(r, 100));
    const [row] = await sql`select 2 as n`;
    assert.equal(row!.n, 2, 'the pool reconnects');
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('reserving while the database refuses connects fails fast, and reserving once it is back succeeds', async () => {
  const sql = openPool(via(db.loginUrl, proxy), { max: 2 });
  try {
    await sql`select 1`;
    await proxy.faults.refuse(true);
    proxy.faults.cutAll();
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 4; i++) {
      const error = await within(
        sql.reserve().then(
          (c) => (c.release(), null),
          (e: Error & { code?: string }) => e,
        ),
        5_000,
        'reserve while down',
      );
      assert.equal(error?.code, 'ECONNREFUSED');
    }
    await proxy.faults.refuse(false);
    // Every slot must come back: none may be lost to a reserve that was refused earlier.
    const reserved = await within(
      Promise.all([sql.reserve(), sql.reserve()]),
      5_000,
      'reserve after the database is back',
    );
    for (const c of reserved) {
      const [row] = await c`select 3 as n`;
      assert.equal(row!.n, 3);
      c.release();
    }
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('the patch is applied to the copy every runtime loads', async () => {
  // Node (import), Bun ("bun" export) and Deno (node_modules, "import") all load src/.
  const { readFile } = await import('node:fs/promises');
  const source = await readFile(new URL('../../node_modules/postgres/src/connection.js', import.meta.url), 'utf8');
  assert.match(source, /if \(!socket\) \{/);
  assert.equal(typeof postgres, 'function');
});
