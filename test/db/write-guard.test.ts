/**
 * The write guard counts a transaction's changes from PostgreSQL's per-table counters, read
 * through src/db/run.ts's XACT_TABLES rather than the pg_stat_xact_user_tables view it stands in
 * for (a third of the database's CPU per read). If the two ever disagreed, a cascade could commit
 * unconfirmed or a confirmed count be refused: here they must give the same rows, relation for
 * relation, after a transaction that inserts, updates and deletes across schemas and relation
 * kinds (tables, a partitioned table and its partition, a materialised view, toast-backed text, a
 * temporary table).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { XACT_TABLES } from '../../src/db/run.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase('write-guard');
  await db.admin.unsafe(`
    create schema ledger;
    create table ledger.entries (id bigint generated always as identity primary key, note text);
    create table ledger.parts (id int, at date) partition by range (at);
    create table ledger.parts_2026 partition of ledger.parts for values from ('2026-01-01') to ('2027-01-01');
    create materialized view ledger.totals as select count(*) as n from ledger.entries;
  `);
});
after(() => db.drop());

const COLUMNS =
  'relid::text as relid, schemaname::text as schemaname, relname::text as relname, n_tup_ins, n_tup_upd, n_tup_del';

test("the guard's counters are pg_stat_xact_user_tables', relation for relation, inside a writing transaction", async () => {
  const [view, ours] = await db.admin.begin(async (sql) => {
    await sql.unsafe(`
      insert into ledger.entries (note) select repeat('x', 5000) || g from generate_series(1, 3) g;
      update ledger.entries set note = note || '!' where id = 1;
      delete from ledger.entries where id = 2;
      insert into ledger.parts values (1, '2026-06-01'), (2, '2026-07-01');
      refresh materialized view ledger.totals;
      update public.companies set name = name where id in (select id from public.companies order by id limit 2);
      delete from public.tags where id = (select min(id) from public.tags);
      create temporary table scratch (n int) on commit drop;
      insert into scratch select generate_series(1, 4);
    `);
    const order = ' order by relid::oid';
    return [
      await sql.unsafe(`select ${COLUMNS} from pg_catalog.pg_stat_xact_user_tables${order}`),
      await sql.unsafe(`select ${COLUMNS} from ${XACT_TABLES} as t${order}`),
    ];
  });
  assert.ok(view.length > 10, `the view lists the database's user tables (${view.length})`);
  assert.ok(
    view.some((r) => r.relname === 'entries' && Number(r.n_tup_ins) === 3 && Number(r.n_tup_del) === 1),
    'the transaction shows in the counters',
  );
  assert.ok(view.some((r) => r.relname === 'parts_2026' && Number(r.n_tup_ins) === 2));
  assert.ok(
    view.some((r) => r.relname === 'scratch' && Number(r.n_tup_ins) === 4),
    'temporary tables count too',
  );
  assert.deepEqual(ours, view);
});

test('an operator planted on the search path does not change what the guard counts', async () => {
  // `oid >= integer` in a schema on the path is an exact match for `oid >= 16384` and would beat
  // pg_catalog's `oid >= oid`, hiding every table from the guard; XACT_TABLES types its operands.
  await db.admin.unsafe(`
    create schema planted;
    create function planted.never(oid, integer) returns boolean language sql immutable as 'select false';
    create operator planted.>= (leftarg = oid, rightarg = integer, function = planted.never);
    create function planted.never(text, text) returns boolean language sql immutable as 'select false';
    create operator planted.!~ (leftarg = text, rightarg = text, function = planted.never);
    create function planted.never("char", text) returns boolean language sql immutable as 'select false';
    create operator planted.= (leftarg = "char", rightarg = text, function = planted.never);
  `);
  const [view, ours] = await db.admin.begin(async (sql) => {
    await sql.unsafe(`set local search_path = planted, public, extensions`);
    await sql.unsafe(`insert into ledger.entries (note) values ('planted')`);
    const order = ' order by relid::oid';
    return [
      await sql.unsafe(`select ${COLUMNS} from pg_catalog.pg_stat_xact_user_tables${order}`),
      await sql.unsafe(`select ${COLUMNS} from ${XACT_TABLES} as t${order}`),
    ];
  });
  assert.ok(view.some((r) => r.relname === 'entries' && Number(r.n_tup_ins) >= 1));
  assert.deepEqual(ours, view);
});
