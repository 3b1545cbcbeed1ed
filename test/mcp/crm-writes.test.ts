/**
 * The domain tools over real HTTP as a non-admin user: the database afterwards holds what Atomic
 * CRM's web app writes for the same action. "Add a note" on a contact (notes/NoteCreate.tsx): the
 * note by the current user with the chosen status (or the contact's), and the contact with that
 * status and last_seen = now. "Add a task" (tasks/AddTask.tsx): the task by the current user, type
 * none and due now unless chosen, and the contact's last_seen = now.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startStack, text, toolError, type Stack } from '../support/stack.js';

let stack: Stack;
let alice: Client;

before(async () => {
  stack = await startStack();
  alice = await stack.connect(stack.users.alice);
});
after(async () => {
  await stack?.stop();
});

const log = (args: Record<string, unknown>) => alice.callTool({ name: 'log_contact_note', arguments: args });
const aliceSalesId = async () =>
  (await stack.db.admin`select id from sales where user_id = ${stack.users.alice.id}`)[0]!.id;

test("a note with a status: the note is the user's, and the contact takes its status and last_seen = now", async () => {
  const [contact] = await stack.db
    .admin`select id, status from contacts where status is distinct from 'warm' order by id limit 1`;
  const [{ now }] = (await stack.db.admin`select now() as now`) as unknown as [{ now: Date }];
  const result = await log({
    contact_id: Number(contact!.id),
    text: 'Called: interested, wants a quote',
    status: 'warm',
  });
  assert.match(text(result), /the contact's status is now warm/);
  const [note] = await stack.db
    .admin`select * from contact_notes where contact_id = ${contact!.id} order by id desc limit 1`;
  assert.equal(note!.text, 'Called: interested, wants a quote');
  assert.equal(note!.status, 'warm');
  assert.equal(note!.sales_id, await aliceSalesId());
  assert.ok(note!.date >= now, 'dated now');
  const [after] = await stack.db.admin`select status, last_seen from contacts where id = ${contact!.id}`;
  assert.equal(after!.status, 'warm');
  assert.ok(after!.last_seen >= now, 'last_seen moved to now');
  assert.equal((result.structuredContent as { contact: { status: string } }).contact.status, 'warm');
});

test("without a status the note keeps the contact's; a given date is kept", async () => {
  const [contact] = await stack.db
    .admin`select id, status from contacts where status is not null order by id desc limit 1`;
  await log({ contact_id: Number(contact!.id), text: 'Sent the brochure', date: '2026-01-15T09:30:00Z' });
  const [note] = await stack.db
    .admin`select status, date from contact_notes where contact_id = ${contact!.id} order by id desc limit 1`;
  assert.equal(note!.status, contact!.status);
  assert.equal((note!.date as Date).toISOString(), '2026-01-15T09:30:00.000Z');
  const [after] = await stack.db.admin`select status from contacts where id = ${contact!.id}`;
  assert.equal(after!.status, contact!.status);
});

test('an unknown status is refused with the configured ones and the nearest; nothing is written', async () => {
  const [{ n: before }] = (await stack.db.admin`select count(*)::int as n from contact_notes`) as unknown as [
    { n: number },
  ];
  const error = toolError(await log({ contact_id: 1, text: 'Hot lead', status: 'Hot' }));
  assert.equal(error.code, 'UNKNOWN_VALUE');
  assert.equal(error.nearest, 'hot');
  assert.deepEqual(error.allowed, ['cold', 'warm', 'hot', 'in-contract']);
  const [{ n: after }] = (await stack.db.admin`select count(*)::int as n from contact_notes`) as unknown as [
    { n: number },
  ];
  assert.equal(after, before);
});

test('a contact that does not exist is an actionable error, and nothing is written', async () => {
  const error = toolError(await log({ contact_id: 987654321, text: 'Nobody' }));
  assert.equal(error.code, 'CONTACT_NOT_FOUND');
  const [{ n }] = (await stack.db
    .admin`select count(*)::int as n from contact_notes where text = 'Nobody'`) as unknown as [{ n: number }];
  assert.equal(n, 0);
});

test("create_task: a pending task by the user, type none and due now by default; the contact's last_seen = now", async () => {
  const [contact] = await stack.db.admin`select id from contacts order by id limit 1 offset 5`;
  const [{ now }] = (await stack.db.admin`select now() as now`) as unknown as [{ now: Date }];
  const result = await alice.callTool({
    name: 'create_task',
    arguments: { contact_id: Number(contact!.id), text: 'Send the quote' },
  });
  const id = (result.structuredContent as { task: { id: number } }).task.id;
  const [task] = await stack.db.admin`select * from tasks where id = ${id}`;
  assert.equal(task!.contact_id, contact!.id);
  assert.equal(task!.type, 'none');
  assert.equal(task!.text, 'Send the quote');
  assert.equal(task!.done_date, null);
  assert.equal(task!.sales_id, await aliceSalesId());
  assert.ok(task!.due_date >= now, 'due now');
  const [after] = await stack.db.admin`select last_seen from contacts where id = ${contact!.id}`;
  assert.ok(after!.last_seen >= now, 'last_seen moved to now');
});

test('create_task: a chosen type and due date are kept; an unknown type is refused with the nearest', async () => {
  const result = await alice.callTool({
    name: 'create_task',
    arguments: { contact_id: 2, text: 'Call back', type: 'call', due_date: '2026-12-24' },
  });
  const id = (result.structuredContent as { task: { id: number } }).task.id;
  const [task] = await stack.db.admin`select type, due_date from tasks where id = ${id}`;
  assert.equal(task!.type, 'call');
  assert.equal((task!.due_date as Date).toISOString(), '2026-12-24T00:00:00.000Z');
  const error = toolError(
    await alice.callTool({ name: 'create_task', arguments: { contact_id: 2, text: 'Phone', type: 'phone-call' } }),
  );
  assert.equal(error.code, 'UNKNOWN_VALUE');
  assert.equal(error.nearest, 'call');
  const missing = toolError(
    await alice.callTool({ name: 'create_task', arguments: { contact_id: 987654321, text: 'Nobody' } }),
  );
  assert.equal(missing.code, 'CONTACT_NOT_FOUND');
});
