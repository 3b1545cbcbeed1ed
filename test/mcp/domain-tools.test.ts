/**
 * The web app's everyday actions over real HTTP as a non-admin user (alice): for each tool, the
 * database afterwards holds what Atomic CRM's web app writes for the same action, read from its
 * source (cited per test). Stock Atomic CRM lets every user see every row; forks add per-owner
 * policies, so this database gets one (a RESTRICTIVE policy hiding bob's rows from everyone else)
 * to prove that RLS decides: another user's private row is "not found" and nothing is written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Row } from 'postgres';
import { startStack, text, toolError, type Stack } from '../support/stack.js';

let stack: Stack;
let alice: Client;
let aliceId: number;
let bobId: number;

const PRIVATE_TABLES = ['tasks', 'deals', 'contacts', 'companies'];

before(async () => {
  stack = await startStack();
  alice = await stack.connect(stack.users.alice);
  const salesId = async (userId: string) =>
    Number((await stack.db.admin`select id from sales where user_id = ${userId}`)[0]!.id);
  aliceId = await salesId(stack.users.alice.id);
  bobId = await salesId(stack.users.bob.id);
  for (const table of PRIVATE_TABLES) {
    await stack.db.admin.unsafe(
      `create policy "bob's rows are his own" on public.${table} as restrictive for all to authenticated
       using (sales_id is distinct from ${bobId} or (select id from public.sales where user_id = auth.uid()) = ${bobId})`,
    );
  }
});
after(async () => {
  await stack?.stop();
});

const call = (name: string, args: Record<string, unknown>) => alice.callTool({ name, arguments: args });
const one = async (query: PromiseLike<readonly Row[]>): Promise<Row> => (await query)[0]!;
const dbNow = async () => (await one(stack.db.admin`select now() as now`)).now as Date;

/** A pending task of the given owner, written directly. */
async function taskOf(salesId: number, due = '2026-06-01T10:00:00Z', done: string | null = null) {
  const contact = await one(
    stack.db.admin`select id from contacts where sales_id is distinct from ${bobId} order by id limit 1`,
  );
  return one(stack.db.admin`
    insert into tasks (contact_id, type, text, due_date, done_date, sales_id)
    values (${contact.id}, 'call', 'Call back', ${due}, ${done}, ${salesId}) returning *`);
}

// tasks/Task.tsx: the checkbox sends { done_date: task.done_date ? null : new Date().toISOString() }
// and nothing else; the data provider has no tasks callback.
test('complete_task: done_date = now and nothing else changes; done: false reopens it', async () => {
  const task = await taskOf(aliceId);
  const now = await dbNow();
  const result = await call('complete_task', { task_id: Number(task.id) });
  assert.match(text(result), /is done/);
  const done = await one(stack.db.admin`select * from tasks where id = ${task.id}`);
  assert.ok((done.done_date as Date) >= now, 'done now');
  assert.deepEqual({ ...done, done_date: null }, { ...task, done_date: null }, 'no other column changes');
  assert.equal((result.structuredContent as { task: { id: number } }).task.id, Number(task.id));

  // Ticking again keeps the first done_date (a retried call does not move it).
  await call('complete_task', { task_id: Number(task.id), done: true });
  const again = await one(stack.db.admin`select done_date from tasks where id = ${task.id}`);
  assert.deepEqual(again.done_date, done.done_date);

  const reopened = await call('complete_task', { task_id: Number(task.id), done: false });
  assert.match(text(reopened), /open again/);
  assert.equal((await one(stack.db.admin`select done_date from tasks where id = ${task.id}`)).done_date, null);
});

test("complete_task: another user's private task is not found and stays pending; bad input is refused", async () => {
  const bobs = await taskOf(bobId);
  const error = toolError(await call('complete_task', { task_id: Number(bobs.id) }));
  assert.equal(error.code, 'TASK_NOT_FOUND');
  assert.match(error.message, /nothing was written/);
  assert.equal((await one(stack.db.admin`select done_date from tasks where id = ${bobs.id}`)).done_date, null);
  const bad = await call('complete_task', { task_id: 'seven' });
  assert.equal(bad.isError, true);
  assert.match(text(bad), /task_id/);
});

// tasks/Task.tsx: "Postpone to tomorrow" sends due_date = new Date(Date.now() + 24h).toISOString().slice(0, 10),
// "to next week" the same with 7 days: a UTC calendar date, stored as that day's midnight UTC.
test("postpone_task: tomorrow and next week are midnight UTC of today's UTC date + 1 and + 7 days", async () => {
  const task = await taskOf(aliceId);
  const utcDatePlus = async (days: number) => {
    const now = await dbNow();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + days)).toISOString();
  };
  const tomorrow = await call('postpone_task', { task_id: Number(task.id), until: 'tomorrow' });
  assert.match(text(tomorrow), /is now due/);
  const t1 = await one(stack.db.admin`select * from tasks where id = ${task.id}`);
  assert.equal((t1.due_date as Date).toISOString(), await utcDatePlus(1));
  assert.deepEqual({ ...t1, due_date: null }, { ...task, due_date: null }, 'no other column changes');

  await call('postpone_task', { task_id: Number(task.id), until: 'next_week' });
  const t7 = await one(stack.db.admin`select due_date from tasks where id = ${task.id}`);
  assert.equal((t7.due_date as Date).toISOString(), await utcDatePlus(7));
});

test('postpone_task: a given date is midnight UTC, a date-time is kept; unknown words and hidden tasks are refused', async () => {
  const task = await taskOf(aliceId);
  await call('postpone_task', { task_id: Number(task.id), until: '2027-01-15' });
  assert.equal(
    ((await one(stack.db.admin`select due_date from tasks where id = ${task.id}`)).due_date as Date).toISOString(),
    '2027-01-15T00:00:00.000Z',
  );
  await call('postpone_task', { task_id: Number(task.id), until: '2027-01-16T14:30:00+02:00' });
  assert.equal(
    ((await one(stack.db.admin`select due_date from tasks where id = ${task.id}`)).due_date as Date).toISOString(),
    '2027-01-16T12:30:00.000Z',
  );
  const bad = await call('postpone_task', { task_id: Number(task.id), until: 'next_month' });
  assert.equal(bad.isError, true);
  assert.match(text(bad), /until/);

  const bobs = await taskOf(bobId);
  const error = toolError(await call('postpone_task', { task_id: Number(bobs.id), until: 'tomorrow' }));
  assert.equal(error.code, 'TASK_NOT_FOUND');
  assert.equal(
    ((await one(stack.db.admin`select due_date from tasks where id = ${bobs.id}`)).due_date as Date).toISOString(),
    '2026-06-01T10:00:00.000Z',
  );
});
