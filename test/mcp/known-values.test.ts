/**
 * Known values over real HTTP as non-admin users: a write of a slug the CRM's configuration does
 * not know is refused with the allowed values and the nearest one; a read filtering on one gets
 * its rows and a notice. The configuration row is merged over Atomic CRM's defaults.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { rows, startStack, text, toolError, type Stack } from '../support/stack.js';

let stack: Stack;
let alice: Client;

before(async () => {
  stack = await startStack();
  alice = await stack.connect(stack.users.alice);
});
after(async () => {
  await stack?.stop();
});

const query = (client: Client, sql: string) => client.callTool({ name: 'query', arguments: { sql } });
const mutate = (client: Client, sql: string) => client.callTool({ name: 'mutate', arguments: { sql } });
const DEFAULT_STAGES = ['opportunity', 'proposal-sent', 'in-negociation', 'won', 'lost', 'delayed'];

describe('writes of unknown values', () => {
  test("the natural spelling 'in-negotiation' is refused with Atomic CRM's slug as the nearest", async () => {
    const [deal] = await stack.db
      .admin`select id, stage from deals where stage <> 'in-negociation' order by id limit 1`;
    const sql = `update deals set stage = 'in-negotiation' where id = ${deal!.id}`;
    const error = toolError(await mutate(alice, sql));
    assert.equal(error.code, 'UNKNOWN_VALUE');
    assert.equal(error.column, 'stage');
    assert.equal(error.value, 'in-negotiation');
    assert.equal(error.nearest, 'in-negociation');
    assert.deepEqual(error.allowed, DEFAULT_STAGES);
    assert.equal(error.position, sql.indexOf("'in-negotiation'") + 1);
    assert.match(error.message, /Nothing was changed/);
    const [after] = await stack.db.admin`select stage from deals where id = ${deal!.id}`;
    assert.equal(after!.stage, deal!.stage);
  });

  test('every route into a known column is checked: insert values, casts, on conflict, merge', async () => {
    const cases: [string, string][] = [
      ["insert into contact_notes (contact_id, text, status) values (1, 'Met at fair', 'Warm') returning id", 'warm'],
      ["insert into tasks (contact_id, type, text) select 1, 'phone-call'::text, 'Call back'", 'call'],
      [
        "insert into companies (id, name) values (1, 'x') on conflict (id) do update set sector = 'tech'",
        'information-technology',
      ],
      [
        "merge into deals d using (select 1 as id) s on d.id = s.id when matched then update set category = 'web-design'",
        'website-design',
      ],
    ];
    for (const [sql, nearest] of cases) {
      const error = toolError(await mutate(alice, sql));
      assert.equal(error.code, 'UNKNOWN_VALUE', sql);
      assert.equal(error.nearest, nearest, sql);
    }
    const [notes] = await stack.db.admin`select count(*)::int as n from contact_notes where text = 'Met at fair'`;
    assert.equal(notes!.n, 0);
  });

  test('known values, NULLs and expressions pass', async () => {
    const result = await mutate(
      alice,
      "insert into contact_notes (contact_id, text, status) values (1, 'Signed', 'in-contract') returning status",
    );
    assert.deepEqual(rows(result), [{ status: 'in-contract' }]);
    const copy = await mutate(
      alice,
      'update deals set stage = stage, category = null where id = (select min(id) from deals) returning id',
    );
    assert.equal(rows(copy).length, 1);
  });
});

describe('reads filtering on unknown values', () => {
  test('the rows come back with a notice naming the configured values', async () => {
    const result = await query(alice, "select count(*)::int as n from deals d where d.stage = 'negotiation'");
    assert.deepEqual(rows(result), [{ n: 0 }]);
    const notices = (result.structuredContent as { notices?: string[] }).notices ?? [];
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /deals\.stage is compared with 'negotiation'/);
    assert.match(notices[0]!, /'in-negociation'/);
    assert.match(text(result), /nearest: 'in-negociation'/);
  });

  test('IN lists and views are checked; known values get no notice', async () => {
    const result = await query(alice, "select id from contacts_summary where status in ('hot', 'Cold') limit 1");
    const notices = (result.structuredContent as { notices?: string[] }).notices ?? [];
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /contacts_summary\.status is compared with 'Cold'.*nearest: 'cold'/);
    const clean = await query(
      alice,
      "select count(*)::int as n from deals where stage = 'won' and category <> 'other'",
    );
    assert.equal((clean.structuredContent as { notices?: string[] }).notices, undefined);
  });
});

describe('the configuration row overrides the defaults', () => {
  test("an administrator's own stages become the known ones (another user, fresh cache)", async () => {
    await stack.db.admin`update configuration set config = config || ${stack.db.admin.json({
      dealStages: [
        { value: 'discovery', label: 'Discovery' },
        { value: 'signed', label: 'Signed' },
      ],
    })} where id = 1`;
    const bob = await stack.connect(stack.users.bob);
    const ok = await mutate(
      bob,
      "update deals set stage = 'signed' where id = (select min(id) from deals) returning stage",
    );
    assert.deepEqual(rows(ok), [{ stage: 'signed' }]);
    const error = toolError(await mutate(bob, "update deals set stage = 'won' where id = (select min(id) from deals)"));
    assert.equal(error.code, 'UNKNOWN_VALUE');
    assert.deepEqual(error.allowed, ['discovery', 'signed']);
    // Lists the row does not override keep Atomic CRM's defaults.
    const task = await mutate(
      bob,
      "insert into tasks (contact_id, type, text) values (1, 'demo', 'Show it') returning type",
    );
    assert.deepEqual(rows(task), [{ type: 'demo' }]);
  });
});
