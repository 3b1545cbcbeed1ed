/**
 * The domain tools and the apps' tools run their own statements with values in them; each call is
 * still one database round trip (src/db/run.ts inlineParameters: a statement sent with parameters
 * would first wait for PostgreSQL to describe them). Counted by the bench's delay proxy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { inlineParameters } from '../../src/db/run.js';
import { startCountedStack, type CountedStack } from '../support/stack.js';

describe('inlineParameters', () => {
  test('binds each placeholder as a literal PostgreSQL reads back unchanged', () => {
    assert.equal(
      inlineParameters('select $1::bigint, $2::text, $3::boolean, $4::int, $10::text', [
        42,
        "O'Brien \\ 'quoted'",
        false,
        -3,
        null,
        null,
        null,
        null,
        null,
        'ten',
      ]),
      "select 42::bigint, E'O''Brien \\\\ ''quoted'''::text, false::boolean, (-3)::int, E'ten'::text",
    );
  });

  test('refuses a placeholder without a value, a number PostgreSQL cannot read, and NUL', () => {
    assert.throws(() => inlineParameters('select $2', [1]), /\$2 has no value/);
    assert.throws(() => inlineParameters('select $1', [Number.NaN]), /not a finite number/);
    assert.throws(() => inlineParameters('select $1', ['a\0b']), /NUL/);
  });
});

describe('domain and app tools through a round-trip counting proxy', () => {
  let stack: CountedStack;
  let alice: Client;
  const ids = { contact: 0, task: 0, deal: 0, company: 0 };

  before(async () => {
    stack = await startCountedStack();
    alice = await stack.connect(stack.users.alice);
    const db = stack.db.admin;
    const [row] = await db`select
      (select id from contacts order by id limit 1) as contact,
      (select id from tasks order by id limit 1) as task,
      (select id from deals where archived_at is null order by id limit 1) as deal,
      (select id from companies order by id limit 1) as company`;
    Object.assign(ids, {
      contact: Number(row!.contact),
      task: Number(row!.task),
      deal: Number(row!.deal),
      company: Number(row!.company),
    });
  });
  after(async () => {
    await stack?.stop();
  });

  test('each call is one round trip on a warm connection', async () => {
    const calls: [string, Record<string, unknown>][] = [
      ['log_contact_note', { contact_id: ids.contact, text: 'Called about the renewal', status: 'warm' }],
      ['create_task', { contact_id: ids.contact, text: "Send O'Brien the quote", type: 'email' }],
      ['complete_task', { task_id: ids.task }],
      ['postpone_task', { task_id: ids.task, until: 'next_week' }],
      ['move_deal', { deal_id: ids.deal, stage: 'won', index: 0 }],
      ['log_deal_note', { deal_id: ids.deal, text: 'Signed' }],
      ['create_contact', { first_name: 'Ada', last_name: 'Lovelace', company_id: ids.company, status: 'cold' }],
      ['show_tasks', { who: 'everyone', include_done: true }],
      ['show_pipeline', { mine: false }],
      ['show_record', { contact_id: ids.contact }],
    ];
    for (const [name, args] of calls) {
      // The first call of each reads the user's configuration once (cached); later ones do not.
      const first = await alice.callTool({ name, arguments: args });
      assert.ok(!first.isError, `${name}: ${JSON.stringify(first.content)}`);
      for (let i = 0; i < 2; i++) {
        stack.resetCounts();
        const result = await alice.callTool({ name, arguments: args });
        assert.ok(!result.isError, `${name}: ${JSON.stringify(result.content)}`);
        assert.equal(stack.proxy.stats().connections, 0, `${name}: no new connection`);
        assert.equal(stack.callRoundTrips(), 1, name);
      }
    }
  });
});
