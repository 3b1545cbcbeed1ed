/**
 * The statement policy on its own, with the functions of the fixture database analysed (no
 * statement reaches the database). Attack and legitimate statements come from
 * test/security/statements.ts (shared with the end-to-end red-team suite); the cases below them pin
 * down positions, the statement text handed to the database and messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadFunctionCatalogue } from '../../src/db/functions.js';
import { checkStatement, loadPolicy, type Refusal, type Verdict } from '../../src/db/policy.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { attacks, legitimate } from '../security/statements.js';

let db: TestDatabase;
before(async () => {
  await loadPolicy();
  db = await createTestDatabase('policy');
  await loadFunctionCatalogue(db.admin);
});
after(() => db?.drop());

function refusalOf(verdict: Verdict): Refusal {
  assert.equal(verdict.ok, false, `expected a refusal, got ${JSON.stringify(verdict)}`);
  return (verdict as { refusal: Refusal }).refusal;
}

/** The text at a 1-based PostgreSQL character position. */
function at(sql: string, position: number | undefined): string {
  assert.notEqual(position, undefined, 'expected a position');
  return [...sql].slice((position ?? 1) - 1).join('');
}

describe('the shared statement lists', () => {
  test('are large enough and cover every attack class the policy can see', () => {
    assert.ok(attacks.length >= 100, `${attacks.length} attacks`);
    assert.ok(legitimate.length >= 60, `${legitimate.length} legitimate statements`);
    const classes = new Set(attacks.map((a) => a.class));
    for (const cls of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]) assert.ok(classes.has(cls), `class ${cls}`);
    assert.equal(new Set(attacks.map((a) => a.name)).size, attacks.length, 'attack names are unique');
    assert.equal(new Set(legitimate.map((l) => l.name)).size, legitimate.length, 'legitimate names are unique');
  });
});

describe('attacks are refused', () => {
  for (const attack of attacks) {
    test(`[${attack.tool}] ${attack.name}`, () => {
      const refusal = refusalOf(checkStatement(attack.sql, attack.tool));
      if (attack.code) assert.equal(refusal.code, attack.code, refusal.message);
      assert.ok(refusal.message.length > 20, 'the message explains the refusal');
      if (refusal.position !== undefined) {
        assert.ok(refusal.position >= 1 && refusal.position <= [...attack.sql].length, `position ${refusal.position}`);
      }
    });
  }
});

describe('legitimate statements are accepted', () => {
  for (const statement of legitimate) {
    test(`[${statement.tool}] ${statement.name}`, () => {
      const verdict = checkStatement(statement.sql, statement.tool);
      assert.ok(verdict.ok, JSON.stringify(verdict));
      assert.equal(verdict.kind, statement.kind);
    });
  }
});

describe('positions point at the offending construct', () => {
  test('a denied function in the select list', () => {
    const sql = `select id, pg_sleep(1) from contacts`;
    assert.ok(at(sql, refusalOf(checkStatement(sql, 'query')).position).startsWith('pg_sleep(1)'));
  });

  test('a denied function deep in a data-modifying CTE of a write', () => {
    const sql = `with d as (delete from tasks where id = 1 returning contact_id)\ninsert into contact_notes (contact_id, text)\nselect contact_id, set_config('role', 'postgres', true) from d`;
    const refusal = refusalOf(checkStatement(sql, 'mutate'));
    assert.equal(refusal.code, 'FUNCTION_NOT_ALLOWED');
    assert.ok(at(sql, refusal.position).startsWith(`set_config('role'`));
  });

  test('a qualified, quoted, escaped name points at its first character', () => {
    const sql = `select 1, "pg_catalog".U&"\\0073et_config"('a', 'b', true)`;
    assert.ok(at(sql, refusalOf(checkStatement(sql, 'query')).position).startsWith('"pg_catalog"'));
  });

  test('positions count characters, not bytes or UTF-16 units', () => {
    const sql = `select 'é🙂李', pg_sleep(1)`;
    const refusal = refusalOf(checkStatement(sql, 'query'));
    assert.equal(refusal.position, 15);
    assert.ok(at(sql, refusal.position).startsWith('pg_sleep'));
  });

  test('a denied relation', () => {
    const sql = `select c.id from contacts c join auth.users u on u.id = c.id::text::uuid`;
    const refusal = refusalOf(checkStatement(sql, 'query'));
    assert.equal(refusal.construct, 'auth.users');
    assert.ok(at(sql, refusal.position).startsWith('auth.users'));
  });

  test('attribute notation points at the enclosing expression', () => {
    const sql = `select id, ('/etc/passwd').pg_read_file from contacts`;
    const refusal = refusalOf(checkStatement(sql, 'query'));
    assert.equal(refusal.construct, 'pg_read_file()');
    assert.ok(at(sql, refusal.position).startsWith(`('/etc/passwd')`));
  });

  test('the second statement', () => {
    const sql = `select 1;\n  delete from contacts`;
    assert.ok(at(sql, refusalOf(checkStatement(sql, 'query')).position).startsWith('delete'));
  });

  test('a refused statement type', () => {
    const sql = `-- tidy up\ntruncate contacts`;
    const refusal = refusalOf(checkStatement(sql, 'mutate'));
    assert.equal(refusal.construct, 'TRUNCATE');
    assert.ok(at(sql, refusal.position).startsWith('truncate'));
  });
});

describe('syntax errors carry PostgreSQL message and cursor', () => {
  test('a misspelt keyword', () => {
    const refusal = refusalOf(checkStatement(`selec id from contacts`, 'query'));
    assert.equal(refusal.code, 'SYNTAX_ERROR');
    assert.match(refusal.message, /^syntax error at or near "selec"/);
    assert.equal(refusal.position, 1);
  });

  test('the cursor counts characters after multi-byte text', () => {
    const sql = `select 'Müller' from contacts where`;
    const refusal = refusalOf(checkStatement(sql, 'query'));
    assert.equal(refusal.code, 'SYNTAX_ERROR');
    assert.match(refusal.message, /at end of input/);
    assert.equal(refusal.position, [...sql].length + 1);
  });

  test('an unterminated quote', () => {
    const refusal = refusalOf(checkStatement(`select 'abc from contacts`, 'query'));
    assert.equal(refusal.code, 'SYNTAX_ERROR');
    assert.match(refusal.message, /unterminated quoted string/);
  });

  test('absurd nesting is a parse error, not a crash, and the parser keeps working', () => {
    const sql = `select ${'('.repeat(20_000)}1${')'.repeat(20_000)}`;
    assert.equal(refusalOf(checkStatement(sql, 'query')).code, 'SYNTAX_ERROR');
    assert.equal(checkStatement('select 1', 'query').ok, true);
  });

  test('deep but accepted nesting is walked without overflowing the stack', () => {
    const sql = `select ${'coalesce('.repeat(1_500)}pg_sleep(1)${')'.repeat(1_500)}`;
    assert.equal(refusalOf(checkStatement(sql, 'query')).code, 'FUNCTION_NOT_ALLOWED');
  });
});

describe('empty input', () => {
  for (const sql of ['', '   \n\t', '-- just a comment', '/* nothing */ ;', ';;']) {
    test(JSON.stringify(sql), () => {
      assert.equal(refusalOf(checkStatement(sql, 'query')).code, 'EMPTY');
    });
  }
});

describe('the statement handed to the database', () => {
  const cases: [string, string][] = [
    ['select 1', 'select 1'],
    ['select 1;', 'select 1'],
    ['  select 1 ;  \n', 'select 1'],
    ['/* why */ select 1; -- done\n', 'select 1'],
    ['select 1 -- trailing\n;', 'select 1 -- trailing'],
    [`select 'é;' ;`, `select 'é;'`],
    ['select 1 as a\u00a0', 'select 1 as a\u00a0'],
  ];
  for (const [sql, statement] of cases) {
    test(JSON.stringify(sql), () => {
      const verdict = checkStatement(sql, 'query');
      assert.ok(verdict.ok, JSON.stringify(verdict));
      assert.equal(verdict.statement, statement);
    });
  }
});

describe('messages tell the agent what to do', () => {
  test('a write sent to query points to mutate', () => {
    const refusal = refusalOf(checkStatement(`update tasks set done_date = now() where id = 1`, 'query'));
    assert.equal(refusal.code, 'WRONG_TOOL');
    assert.match(refusal.message, /mutate tool/);
  });

  test('a read sent to mutate points to query', () => {
    const refusal = refusalOf(checkStatement(`select 1`, 'mutate'));
    assert.equal(refusal.code, 'WRONG_TOOL');
    assert.match(refusal.message, /query tool/);
  });

  test('set_config explains that the server sets identity and limits', () => {
    const refusal = refusalOf(checkStatement(`select set_config('statement_timeout', '0', true)`, 'query'));
    assert.equal(
      refusal.message,
      'set_config() is not allowed: it changes session settings, and the server sets your identity and limits itself. Remove it from the statement.',
    );
    assert.equal(refusal.construct, 'set_config()');
  });

  test('merge_contacts explains how to merge instead', () => {
    const refusal = refusalOf(checkStatement(`select merge_contacts(1, 2)`, 'query'));
    assert.match(refusal.message, /explicit UPDATE and DELETE statements through the mutate tool/);
  });

  test('auth relations name the helpers that remain available', () => {
    const refusal = refusalOf(checkStatement(`select * from auth.users`, 'query'));
    assert.match(refusal.message, /auth only uid\(\), jwt\(\), role\(\) and email\(\)/);
  });

  test('a refused statement type gives its reason', () => {
    const refusal = refusalOf(checkStatement(`truncate contacts`, 'mutate'));
    assert.match(refusal.message, /^TRUNCATE is not allowed: .*row level security/);
  });
});

describe('boundaries of the name rules', () => {
  test('a column that merely contains a denied name is fine', () => {
    assert.equal(
      checkStatement(`select c.sleep_count, pg_sleep_ from (select 1 as sleep_count, 2 as pg_sleep_) c`, 'query').ok,
      true,
    );
  });

  test('a quoted upper-case name is a different function, as in PostgreSQL (here an unknown one)', () => {
    assert.equal(
      refusalOf(checkStatement(`select "SET_CONFIG"('a', 'b', true)`, 'query')).code,
      'FUNCTION_UNCLASSIFIED',
    );
  });

  test('current_setting reads built-ins and request.* with or without missing_ok', () => {
    for (const sql of [
      `select current_setting('search_path')`,
      `select current_setting('request.jwt.claim.sub', true)`,
      `select current_setting(setting_name => 'REQUEST.JWT.CLAIMS', missing_ok => true)`,
      `select pg_catalog.current_setting('work_mem'::text)`,
    ]) {
      assert.equal(checkStatement(sql, 'query').ok, true, sql);
    }
  });

  test('auth helpers are allowed only by their own names', () => {
    assert.equal(checkStatement(`select auth.uid(), auth.jwt(), auth.role(), auth.email()`, 'query').ok, true);
    assert.equal(refusalOf(checkStatement(`select auth.users()`, 'query')).code, 'SCHEMA_NOT_ALLOWED');
  });

  test('a write tool may lock rows in its subqueries', () => {
    assert.equal(
      checkStatement(
        `delete from tasks where id in (select id from tasks where done_date is not null for update skip locked)`,
        'mutate',
      ).ok,
      true,
    );
  });
});
