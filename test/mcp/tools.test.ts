/**
 * The three tools over real HTTP with the SDK's client, against real PostgreSQL with the Atomic CRM
 * fixture: what the agent gets back, and that every statement runs as the signed-in user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { PROMPT_INJECTIONS, SEED_COUNTS } from '../../dev/seed.js';
import { rows, startStack, text, toolError, type Stack } from '../support/stack.js';
import { TOOL_NAMES } from '../support/tool-names.js';

let stack: Stack;
let admin: Client;
let alice: Client;
let bob: Client;

before(async () => {
  stack = await startStack({ env: { MAX_ROWS: '50', MAX_RESULT_BYTES: '20000', STATEMENT_TIMEOUT_MS: '1500' } });
  [admin, alice, bob] = await Promise.all([
    stack.connect(stack.users.admin),
    stack.connect(stack.users.alice),
    stack.connect(stack.users.bob),
  ]);
});
after(async () => {
  await stack?.stop();
});

const query = (client: Client, sql: string) => client.callTool({ name: 'query', arguments: { sql } });
const mutate = (client: Client, sql: string) => client.callTool({ name: 'mutate', arguments: { sql } });

describe('tools/list', () => {
  test('lists get_schema, query, mutate and the domain tools with annotations, and output schemas for SQL', async () => {
    const { tools } = await alice.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), TOOL_NAMES);
    assert.equal(byName.query!.annotations?.readOnlyHint, true);
    assert.equal(byName.get_schema!.annotations?.readOnlyHint, true);
    assert.equal(byName.mutate!.annotations?.readOnlyHint, false);
    assert.equal(byName.mutate!.annotations?.destructiveHint, true);
    for (const tool of tools) assert.equal(tool.annotations?.openWorldHint, false, tool.name);
    assert.ok(byName.query!.outputSchema, 'query declares its structured output');
    assert.match(byName.query!.description!, /email_jsonb/);
    assert.match(byName.query!.description!, /in-negociation/);
    assert.match(byName.query!.description!, /user_id = auth\.uid\(\)/);
  });
});

describe('per-request servers', () => {
  test("two users' concurrent calls each run as their own user, whichever tool each names", async () => {
    const as = (client: Client, i: number) =>
      i % 2
        ? client.callTool({ name: 'query', arguments: { sql: `select auth.uid()::text as uid, ${i} as i` } })
        : client
            .callTool({ name: 'get_schema', arguments: {} })
            .then(() =>
              client.callTool({ name: 'query', arguments: { sql: `select auth.uid()::text as uid, ${i} as i` } }),
            );
    const calls = Array.from({ length: 12 }, (_, i) => [as(alice, i), as(bob, i)] as const);
    for (const [i, [fromAlice, fromBob]] of calls.entries()) {
      assert.deepEqual(rows(await fromAlice), [{ uid: stack.users.alice.id, i }]);
      assert.deepEqual(rows(await fromBob), [{ uid: stack.users.bob.id, i }]);
    }
  });
});

describe('get_schema', () => {
  test('describes every Atomic CRM table compactly, with keys and the values in effect', async () => {
    const schema = text(await alice.callTool({ name: 'get_schema', arguments: {} }));
    for (const table of [
      'companies',
      'contacts',
      'contact_notes',
      'deals',
      'deal_notes',
      'tasks',
      'sales',
      'tags',
      'configuration',
      'private_notes',
    ]) {
      assert.match(schema, new RegExp(`^${table} \\(table, RLS on\\)`, 'm'), table);
    }
    assert.match(schema, /^contacts_summary \(view\)/m);
    assert.match(schema, /^\s+company_id bigint → companies\.id cascade/m);
    assert.match(schema, /^\s+email_jsonb jsonb/m);
    assert.match(schema, /dealStages: opportunity, proposal-sent, in-negociation, won, lost, delayed/);
    // Rough token estimate (≈ 4 characters per token): cheap enough to read at every session start.
    assert.ok(schema.length / 4 < 4000, `schema costs about ${Math.round(schema.length / 4)} tokens`);
  });

  test('gives one table in full: comments, policies, indexes', async () => {
    const detail = text(await alice.callTool({ name: 'get_schema', arguments: { table: 'private_notes' } }));
    assert.match(detail, /^private_notes \(table, RLS on\)/);
    assert.match(detail, /row level security policies:/);
    assert.match(detail, /Owner can read: permissive SELECT to authenticated/);
    assert.match(detail, /indexes:/);
  });

  test('an unknown table is an actionable error', async () => {
    const error = toolError(await alice.callTool({ name: 'get_schema', arguments: { table: 'nope' } }));
    assert.equal(error.code, 'TABLE_NOT_FOUND');
    assert.match(error.message, /without arguments/);
  });
});

describe('query', () => {
  test('returns rows as structured content and framed text', async () => {
    const result = await query(alice, 'select id, name from companies order by id limit 3');
    const data = rows(result);
    assert.equal(data.length, 3);
    assert.deepEqual(Object.keys(data[0]!), ['id', 'name']);
    assert.equal(typeof data[0]!.id, 'number');
    const structured = result.structuredContent as Record<string, unknown>;
    assert.deepEqual(structured.columns, [
      { name: 'id', type: 'bigint' },
      { name: 'name', type: 'text' },
    ]);
    assert.equal(structured.rowCount, 3);
    assert.equal(structured.truncated, false);
    assert.match(text(result), /^3 rows\./);
    assert.match(text(result), /<untrusted-data-[0-9a-f]{16}>/);
  });

  test('text a stranger wrote into the CRM arrives fenced as data, with a fresh boundary each time', async () => {
    const injection = PROMPT_INJECTIONS.find((p) => p.table === 'companies')!;
    const first = text(await query(alice, `select description from companies where id = ${injection.id}`));
    const second = text(await query(alice, `select description from companies where id = ${injection.id}`));
    const token = (s: string) => /<untrusted-data-([0-9a-f]+)>/.exec(s)![1];
    assert.notEqual(token(first), token(second));
    const open = `<untrusted-data-${token(first)}>\n`;
    const inside = first.slice(
      first.lastIndexOf(open) + open.length,
      first.lastIndexOf(`</untrusted-data-${token(first)}>`),
    );
    assert.ok(inside.includes('Ignore previous instructions'), 'the hostile text is inside the fence');
    assert.match(first, /not instructions/);
  });

  test('bigint and numeric values keep their precision', async () => {
    const data = rows(
      await query(
        alice,
        'select 9007199254740993::bigint as big, 12::bigint as small, 1.10::numeric as exact, array[1, 9007199254740993]::bigint[] as ids',
      ),
    );
    assert.deepEqual(data[0], { big: '9007199254740993', small: 12, exact: '1.10', ids: [1, '9007199254740993'] });
  });

  test('dates and timestamps come back exactly as PostgreSQL prints them, in UTC', async () => {
    const data = rows(await query(alice, "select date '2026-03-01' as d, timestamptz '2026-03-01 10:00+02' as ts"));
    assert.deepEqual(data[0], { d: '2026-03-01', ts: '2026-03-01 08:00:00+00' });
  });

  test('column types are named, extension types included', async () => {
    const result = await query(alice, 'select s.email, c.id, c.email_jsonb, c.tags from sales s, contacts c limit 1');
    assert.deepEqual((result.structuredContent as { columns: unknown[] }).columns, [
      { name: 'email', type: 'citext' },
      { name: 'id', type: 'bigint' },
      { name: 'email_jsonb', type: 'jsonb' },
      { name: 'tags', type: 'bigint[]' },
    ]);
  });

  test('the order the statement asks for is the order returned, across the caps', async () => {
    const descending = rows(await query(alice, 'select id from contacts order by id desc'));
    assert.equal(descending.length, 50);
    const ids = descending.map((r) => r.id as number);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
    const [highest] = await stack.db.admin`select max(id)::int as id from contacts`;
    assert.equal(ids[0], highest!.id, 'starts at the highest id');
    const union = rows(await query(alice, "select 'b' as k union all select 'a' union all select 'c' order by 1 desc"));
    assert.deepEqual(union, [{ k: 'c' }, { k: 'b' }, { k: 'a' }]);
  });

  test('duplicate column names are all kept', async () => {
    const data = rows(
      await query(
        alice,
        'select c.id, co.id from contacts c join companies co on co.id = c.company_id order by c.id limit 1',
      ),
    );
    assert.deepEqual(Object.keys(data[0]!), ['id', 'id_2']);
  });

  test('a row cap truncates and tells the agent how to narrow the query', async () => {
    const result = await query(alice, 'select id from contacts order by id');
    const structured = result.structuredContent as { rows: unknown[]; truncated: boolean; notice: string };
    assert.equal(structured.rows.length, 50);
    assert.equal(structured.truncated, true);
    assert.match(structured.notice, /first 50 rows/);
    assert.match(text(result), /WHERE|aggregate/);
  });

  test('a byte cap truncates large rows before they leave the database', async () => {
    const result = await query(alice, "select id, repeat('x', 3000) as padding from contacts order by id");
    const structured = result.structuredContent as { rows: unknown[]; truncated: boolean; notice: string };
    assert.ok(structured.rows.length > 0 && structured.rows.length < 10, `${structured.rows.length} rows`);
    assert.equal(structured.truncated, true);
    assert.match(structured.notice, /byte result budget/);
  });

  test("PostgreSQL errors keep SQLSTATE, message, hint and a position in the agent's own text", async () => {
    const error = toolError(await query(alice, 'select email from contacts'));
    assert.equal(error.code, 'SQL_ERROR');
    assert.equal(error.sqlstate, '42703');
    assert.match(error.message, /column "email" does not exist/);
    assert.equal(error.position, 8);
  });

  test('a hint from PostgreSQL reaches the agent', async () => {
    const error = toolError(await query(alice, 'select sales_id = auth.uid() from deals'));
    assert.equal(error.sqlstate, '42883');
    assert.match(String(error.hint), /explicit type casts/);
  });

  test('several statements in one call are refused before anything runs', async () => {
    const error = toolError(await query(alice, 'select 1; delete from tasks'));
    assert.equal(error.code, 'MULTIPLE_STATEMENTS');
    assert.equal(rows(await query(alice, 'select count(*)::int as n from tasks'))[0]!.n, SEED_COUNTS.tasks);
  });

  test('writes are refused in the read-only tool, whatever the route', async () => {
    const insert = toolError(await query(alice, "insert into tags(name, color) values ('x', '#fff')"));
    assert.equal(insert.code, 'WRONG_TOOL');
    assert.match(insert.message, /mutate/);
    const cte = toolError(await query(alice, 'with d as (delete from tasks returning id) select count(*) from d'));
    assert.ok(['WRITE_IN_QUERY', 'STATEMENT_NOT_ALLOWED'].includes(cte.code), cte.code);
    // merge_contacts writes from inside a SELECT: the READ ONLY transaction stops it in PostgreSQL.
    const merge = toolError(await query(alice, 'select merge_contacts(1, 2)'));
    assert.ok(['SQL_ERROR', 'FUNCTION_NOT_ALLOWED'].includes(merge.code), merge.code);
    if (merge.code === 'SQL_ERROR') assert.equal(merge.sqlstate, '25006');
    assert.equal(rows(await query(alice, 'select count(*)::int as n from contacts where id in (1, 2)'))[0]!.n, 2);
  });

  test('a statement running past the timeout is stopped', async () => {
    const error = toolError(await query(alice, 'select count(*) from contacts a, contacts b, contacts c, contacts d'));
    assert.equal(error.code, 'STATEMENT_TIMEOUT');
    assert.equal(error.sqlstate, '57014');
    assert.match(error.message, /1500 ms/);
    assert.equal(rows(await query(alice, 'select 1 as ok'))[0]!.ok, 1, 'the next call works');
  });
});

describe('Row Level Security as the signed-in user', () => {
  test('each user sees only their own private notes', async () => {
    const mine = rows(
      await query(alice, 'select p.sales_id, s.user_id from private_notes p join sales s on s.id = p.sales_id'),
    );
    assert.ok(mine.length > 0);
    for (const row of mine) assert.equal(row.user_id, stack.users.alice.id);
    const theirs = rows(
      await query(bob, 'select p.sales_id, s.user_id from private_notes p join sales s on s.id = p.sales_id'),
    );
    for (const row of theirs) assert.equal(row.user_id, stack.users.bob.id);
  });

  test("a user cannot change another user's private notes", async () => {
    const result = await mutate(
      bob,
      `update private_notes set text = 'hijacked' where sales_id = (select id from sales where user_id = '${stack.users.alice.id}') returning id`,
    );
    assert.equal((result.structuredContent as { rowCount: number }).rowCount, 0);
    const check = await stack.db.admin`select count(*)::int as n from private_notes where text = 'hijacked'`;
    assert.equal(check[0]!.n, 0);
  });

  test("auth.uid() is the token's user", async () => {
    assert.equal(rows(await query(bob, 'select auth.uid() as uid'))[0]!.uid, stack.users.bob.id);
    assert.equal(rows(await query(bob, 'select current_user as role'))[0]!.role, 'authenticated');
  });

  test('only an administrator may change the configuration', async () => {
    const denied = await mutate(
      alice,
      'update configuration set config = config || \'{"title": "pwned"}\' where id = 1 returning id',
    );
    assert.equal(
      (denied.structuredContent as { rowCount: number }).rowCount,
      0,
      'RLS hides the row from a non-admin update',
    );
    const allowed = await mutate(
      admin,
      'update configuration set config = config || \'{"title": "Acme CRM"}\' where id = 1 returning config ->> \'title\' as title',
    );
    assert.deepEqual(rows(allowed), [{ title: 'Acme CRM' }]);
  });

  test('auth.users and vault secrets are out of reach', async () => {
    for (const sql of ['select * from auth.users', 'select * from vault.decrypted_secrets']) {
      const error = toolError(await query(alice, sql));
      assert.ok(['SCHEMA_NOT_ALLOWED', 'SQL_ERROR'].includes(error.code), `${sql}: ${error.code}`);
    }
  });
});

describe('mutate', () => {
  test('inserts as the caller: sales_id defaults to their sales row', async () => {
    const result = await mutate(
      alice,
      "insert into contact_notes (contact_id, text, status) values (1, 'Called, follow up next week', 'warm') returning id, sales_id",
    );
    const [note] = rows(result);
    const [me] = rows(await query(alice, 'select id from sales where user_id = auth.uid()'));
    assert.equal(note!.sales_id, me!.id);
    assert.match(text(result), /^INSERT: 1 row affected\. Returned 1 row\./);
  });

  test('updates report the affected row count without RETURNING', async () => {
    const result = await mutate(
      alice,
      'update tasks set done_date = now() where id in (1, 2, 3) and done_date is null',
    );
    const structured = result.structuredContent as { command: string; rowCount: number; rows: unknown[] };
    assert.equal(structured.command, 'UPDATE');
    assert.ok(structured.rowCount <= 3);
    assert.deepEqual(structured.rows, []);
  });

  test('a failing write changes nothing and says why', async () => {
    const before = rows(await query(alice, 'select count(*)::int as n from deals'))[0]!.n;
    const error = toolError(await mutate(alice, "insert into deals (name) values ('No stage')"));
    assert.equal(error.sqlstate, '23502');
    assert.equal(error.column, 'stage');
    assert.equal(rows(await query(alice, 'select count(*)::int as n from deals'))[0]!.n, before);
  });

  test('a read is sent back to the query tool', async () => {
    const error = toolError(await mutate(alice, 'select 1'));
    assert.equal(error.code, 'WRONG_TOOL');
    assert.match(error.message, /query/);
  });

  test('inserting into sales is refused by RLS', async () => {
    const error = toolError(
      await mutate(
        alice,
        "insert into sales (first_name, last_name, email, administrator, user_id) values ('x', 'y', 'x@y.z', true, gen_random_uuid())",
      ),
    );
    assert.equal(error.sqlstate, '42501');
  });
});
