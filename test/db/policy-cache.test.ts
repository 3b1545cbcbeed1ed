/**
 * The policy remembers its verdicts by exact statement text (src/db/policy.ts, `seen`): a verdict
 * it gives again must be the one it would give now. A function changed in the database after a
 * statement calling it was accepted, the same text through the other tool, a statement one
 * character away: none may be answered from memory. And the audit fingerprint read from the same
 * parse groups statements by shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { watchFunctionCatalogue, type FunctionWatch } from '../../src/db/functions.js';
import { checkStatement, loadPolicy, statementFingerprint } from '../../src/db/policy.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('remembered verdicts', () => {
  let db: TestDatabase;
  let watch: FunctionWatch;
  before(async () => {
    await loadPolicy();
    db = await createTestDatabase('policy_cache');
    await db.admin.unsafe(`CREATE FUNCTION public.open_deals() RETURNS bigint LANGUAGE sql AS $$
      SELECT count(*) FROM public.deals WHERE archived_at IS NULL $$`);
    watch = await watchFunctionCatalogue(db.admin, { intervalMs: 60_000 });
  });
  after(async () => {
    watch?.stop();
    await db?.drop();
  });

  test('a function that starts writing is refused in the very statement accepted before it changed', async () => {
    const statement = 'select public.open_deals() as n';
    assert.equal(checkStatement(statement, 'query').ok, true);
    assert.equal(checkStatement(statement, 'query').ok, true, 'the remembered verdict');
    await db.admin.unsafe(`CREATE OR REPLACE FUNCTION public.open_deals() RETURNS bigint LANGUAGE sql AS $$
      DELETE FROM public.deals WHERE archived_at IS NOT NULL RETURNING id $$`);
    await watch.refresh();
    const verdict = checkStatement(statement, 'query');
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.refusal.code, 'FUNCTION_NOT_ALLOWED');
    assert.match(!verdict.ok ? verdict.refusal.message : '', /DELETE public\.deals/);
  });

  test('the same text through the other tool gets its own verdict', () => {
    const statement = 'select name from companies order by name limit 3';
    assert.equal(checkStatement(statement, 'query').ok, true);
    const viaMutate = checkStatement(statement, 'mutate');
    assert.equal(!viaMutate.ok && viaMutate.refusal.code, 'WRONG_TOOL');
    assert.equal(checkStatement(statement, 'query').ok, true);
  });

  test('a statement one character away from an accepted one is judged on its own', () => {
    const allowed = "select current_setting('request.jwt.claims') as c";
    const secret = "select current_setting('request.jwt.claims')  as c; select current_setting('app.secret')";
    assert.equal(checkStatement(allowed, 'query').ok, true);
    const refused = checkStatement(secret, 'query');
    assert.equal(!refused.ok && refused.refusal.code, 'MULTIPLE_STATEMENTS');
    const read = checkStatement("select current_setting('app.secre') as c", 'query');
    assert.equal(!read.ok && read.refusal.code, 'FUNCTION_NOT_ALLOWED');
  });

  test('a remembered verdict cannot be altered by the caller it was handed to', () => {
    const statement = 'select pg_sleep(1)';
    const first = checkStatement(statement, 'query');
    assert.equal(first.ok, false);
    assert.throws(() => {
      (first as { ok: boolean }).ok = true;
    }, TypeError);
    assert.equal(checkStatement(statement, 'query').ok, false);
  });

  test('more distinct statements than it keeps: old and new texts still get their own verdicts', () => {
    for (let i = 0; i < 3_000; i++) {
      const verdict = checkStatement(`select ${i} as n from companies where id = ${i}`, 'query');
      assert.equal(verdict.ok, true);
    }
    const denied = checkStatement('select pg_sleep(0) from companies where id = 0', 'query');
    assert.equal(!denied.ok && denied.refusal.code, 'FUNCTION_NOT_ALLOWED');
    assert.equal(checkStatement('select 0 as n from companies where id = 0', 'query').ok, true);
  });
});

describe('the audit fingerprint', () => {
  before(() => loadPolicy());

  test('is the same for the same shape with other values, aliases, spacing, comments and case', () => {
    const one = statementFingerprint("select d.name from deals d where d.stage = 'won' and d.amount > 100");
    assert.match(one ?? '', /^[0-9a-f]{16}$/);
    assert.equal(
      statementFingerprint("SELECT  d.name AS n\nFROM deals AS d -- hot\nWHERE d.stage = 'lost' AND d.amount > 5"),
      one,
    );
    assert.equal(
      statementFingerprint('select id from contacts where id in (1, 2, 3)'),
      statementFingerprint('select id from contacts where id in (7)'),
    );
  });

  test('differs for another table, column, operator, function or write target', () => {
    const prints = [
      'select name from deals where amount > 1',
      'select name from companies where amount > 1',
      'select stage from deals where amount > 1',
      'select name from deals where amount < 1',
      'select count(name) from deals where amount > 1',
      'update deals set stage = 1',
      'update deals set amount = 1',
      'insert into tasks (text) values (1) returning id',
      'insert into tasks (type) values (1) returning id',
    ].map(statementFingerprint);
    assert.equal(new Set(prints).size, prints.length, prints.join(' '));
  });

  test('is absent for what is not a statement, and stable across repeated calls', () => {
    assert.equal(statementFingerprint(undefined), undefined);
    assert.equal(statementFingerprint(42), undefined);
    assert.equal(statementFingerprint('select ('), undefined);
    assert.equal(statementFingerprint('-- nothing'), undefined);
    const text = 'select id from tags order by id';
    const before = statementFingerprint(text);
    assert.equal(checkStatement(text, 'query').ok, true);
    assert.equal(statementFingerprint(text), before);
  });
});
