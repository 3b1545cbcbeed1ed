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

interface BoardRow {
  id: number;
  stage: string;
  index: number;
  archived: boolean;
}

/** The deals of some stages as alice's session sees them (bob's are hidden from her). */
async function dealsOf(...stages: string[]): Promise<BoardRow[]> {
  const found = await stack.db.admin`
    select id::int, stage, index, archived_at is not null as archived from deals
    where stage in ${stack.db.admin(stages)} and sales_id is distinct from ${bobId} order by stage, index, id`;
  return found.map((d) => ({ id: d.id, stage: d.stage, index: d.index, archived: d.archived }));
}

/**
 * deals/DealListContent.tsx's onDragEnd + updateDealStage, transcribed: the dragged deal and the
 * deal now at the drop position (undefined after the last) on the board (unarchived, by index);
 * the columns are refetched by stage only, and their index values shifted by one.
 */
function appDrop(deals: BoardRow[], dealId: number, stage: string, position: number): Map<number, [string, number]> {
  const board = (s: string) => deals.filter((d) => d.stage === s && !d.archived).sort((a, b) => a.index - b.index);
  const source = deals.find((d) => d.id === dealId)!;
  const destinationDeal = board(stage)[position];
  const after = new Map(deals.map((d) => [d.id, [d.stage, d.index] as [string, number]]));
  const column = (s: string) => deals.filter((d) => d.stage === s);
  if (source.stage === stage) {
    const destinationIndex = destinationDeal?.index ?? column(stage).length + 1;
    for (const d of column(stage)) {
      if (source.index > destinationIndex && d.index >= destinationIndex && d.index < source.index)
        after.set(d.id, [stage, d.index + 1]);
      if (source.index <= destinationIndex && d.index <= destinationIndex && d.index > source.index)
        after.set(d.id, [stage, d.index - 1]);
    }
    after.set(source.id, [stage, destinationIndex]);
  } else {
    const destinationIndex = destinationDeal?.index ?? column(stage).length + 1;
    for (const d of column(source.stage)) if (d.index > source.index) after.set(d.id, [d.stage, d.index - 1]);
    for (const d of column(stage)) if (d.index >= destinationIndex) after.set(d.id, [d.stage, d.index + 1]);
    after.set(source.id, [stage, destinationIndex]);
  }
  return after;
}

/** The deal at a place on the board (unarchived, by index). */
const onBoard = (deals: BoardRow[], stage: string, place: number) =>
  deals.filter((d) => d.stage === stage && !d.archived).sort((a, b) => a.index - b.index)[place]!;

const asMap = (deals: BoardRow[]) => new Map(deals.map((d) => [d.id, [d.stage, d.index] as [string, number]]));

test('move_deal to another stage: the same indexes in both columns as the board drag and drop writes; updated_at = now', async () => {
  const before = await dealsOf('opportunity', 'proposal-sent');
  const mover = onBoard(before, 'opportunity', 1);
  const now = await dbNow();
  const result = await call('move_deal', { deal_id: mover.id, stage: 'proposal-sent', index: 1 });
  const expected = appDrop(before, mover.id, 'proposal-sent', 1);
  assert.match(text(result), new RegExp(`is in proposal-sent at index ${expected.get(mover.id)![1]}\\.`));
  assert.deepEqual(asMap(await dealsOf('opportunity', 'proposal-sent')), expected);
  const moved = await one(stack.db.admin`select updated_at from deals where id = ${mover.id}`);
  assert.ok((moved.updated_at as Date) >= now, 'updated_at = now');
  const content = result.structuredContent as { deal: { stage: string }; reindexed: unknown[] };
  assert.equal(content.deal.stage, 'proposal-sent');
  assert.ok(content.reindexed.length > 0, 'the renumbered deals are listed');
});

test('move_deal within a column, up and down, and to the top of a new stage by default', async () => {
  let before = await dealsOf('proposal-sent');
  let mover = onBoard(before, 'proposal-sent', 3);
  await call('move_deal', { deal_id: mover.id, stage: 'proposal-sent', index: 0 });
  assert.deepEqual(asMap(await dealsOf('proposal-sent')), appDrop(before, mover.id, 'proposal-sent', 0));

  before = await dealsOf('proposal-sent');
  mover = onBoard(before, 'proposal-sent', 0);
  await call('move_deal', { deal_id: mover.id, stage: 'proposal-sent', index: 2 });
  assert.deepEqual(asMap(await dealsOf('proposal-sent')), appDrop(before, mover.id, 'proposal-sent', 2));

  before = await dealsOf('proposal-sent', 'in-negociation');
  mover = onBoard(before, 'proposal-sent', 2);
  await call('move_deal', { deal_id: mover.id, stage: 'in-negociation' });
  assert.deepEqual(
    asMap(await dealsOf('proposal-sent', 'in-negociation')),
    appDrop(before, mover.id, 'in-negociation', 0),
  );
  assert.equal((await one(stack.db.admin`select index from deals where id = ${mover.id}`)).index, 0);
});

// Dropped after the last deal the app writes the column's length + 1, leaving a gap; the tool
// writes one past the stage's highest index instead (docs/atomic-crm-web-app.md), same order.
test('move_deal past the end of a column: last, one past the highest index; the old column closes up', async () => {
  const before = await dealsOf('won', 'delayed');
  const mover = onBoard(before, 'delayed', 0);
  const highest = Math.max(...before.filter((d) => d.stage === 'won').map((d) => d.index));
  await call('move_deal', { deal_id: mover.id, stage: 'won', index: 999 });
  const after = asMap(await dealsOf('won', 'delayed'));
  assert.deepEqual(after.get(mover.id), ['won', highest + 1]);
  for (const d of before.filter((d) => d.id !== mover.id)) {
    const expected = d.stage === 'delayed' && d.index > mover.index ? d.index - 1 : d.index;
    assert.deepEqual(after.get(d.id), [d.stage, expected], `deal ${d.id}`);
  }
});

test('move_deal: an unknown stage is refused with the configured ones and the nearest; nothing moves', async () => {
  const [deal] = await dealsOf('opportunity');
  const error = toolError(await call('move_deal', { deal_id: deal!.id, stage: 'in-negotiation' }));
  assert.equal(error.code, 'UNKNOWN_VALUE');
  assert.equal(error.nearest, 'in-negociation');
  assert.deepEqual(error.allowed, ['opportunity', 'proposal-sent', 'in-negociation', 'won', 'lost', 'delayed']);
  assert.equal((await one(stack.db.admin`select stage from deals where id = ${deal!.id}`)).stage, 'opportunity');
  const bad = await call('move_deal', { deal_id: deal!.id, stage: 'won', index: -1 });
  assert.equal(bad.isError, true);
  assert.match(text(bad), /index/);
});

test("move_deal: another user's private deal is not found and stays; an archived deal is refused", async () => {
  const bobs = await one(
    stack.db.admin`select id, stage, index from deals where sales_id = ${bobId} and archived_at is null limit 1`,
  );
  const error = toolError(await call('move_deal', { deal_id: Number(bobs.id), stage: 'won' }));
  assert.equal(error.code, 'DEAL_NOT_FOUND');
  assert.match(error.message, /nothing was written/);
  const after = await one(stack.db.admin`select stage, index from deals where id = ${bobs.id}`);
  assert.deepEqual([after.stage, after.index], [bobs.stage, bobs.index]);

  const archived = (await dealsOf('won', 'lost')).find((d) => d.archived)!;
  const refused = toolError(await call('move_deal', { deal_id: archived.id, stage: 'opportunity' }));
  assert.equal(refused.code, 'DEAL_ARCHIVED');
  assert.match(refused.message, /archive_deal/);
});

// deals/DealShow.tsx's Archive button sends { archived_at: new Date().toISOString() } and nothing else.
// The data provider's unarchiveDeal fetches the stage's deals (filter: stage) by index and writes
// index = place + 1 for each, 0 and archived_at = null for the unarchived one.
test('archive_deal archives (archived_at = now, no other deal moves); archived: false puts it back as unarchiveDeal does', async () => {
  const before = await dealsOf('delayed');
  const deal = onBoard(before, 'delayed', 1);
  const now = await dbNow();
  const result = await call('archive_deal', { deal_id: deal.id });
  assert.match(text(result), /is archived/);
  const archived = await one(stack.db.admin`select archived_at, updated_at from deals where id = ${deal.id}`);
  assert.ok((archived.archived_at as Date) >= now, 'archived now');
  assert.deepEqual(asMap(await dealsOf('delayed')), asMap(before), 'no index changes');

  await call('archive_deal', { deal_id: deal.id });
  const again = await one(stack.db.admin`select archived_at from deals where id = ${deal.id}`);
  assert.deepEqual(again.archived_at, archived.archived_at, 'archiving twice keeps the first date');

  const column = await dealsOf('delayed');
  const expected = new Map(
    [...column]
      .sort((a, b) => a.index - b.index || a.id - b.id)
      .map((d, place) => [d.id, ['delayed', d.id === deal.id ? 0 : place + 1] as [string, number]]),
  );
  const restored = await call('archive_deal', { deal_id: deal.id, archived: false });
  assert.match(text(restored), /on the board in delayed at index 0/);
  assert.deepEqual(asMap(await dealsOf('delayed')), expected);
  assert.equal((await one(stack.db.admin`select archived_at from deals where id = ${deal.id}`)).archived_at, null);

  const bobs = await one(
    stack.db.admin`select id from deals where sales_id = ${bobId} and archived_at is null limit 1`,
  );
  assert.equal(toolError(await call('archive_deal', { deal_id: Number(bobs.id) })).code, 'DEAL_NOT_FOUND');
  assert.equal((await one(stack.db.admin`select archived_at from deals where id = ${bobs.id}`)).archived_at, null);
});

// notes/NoteCreate.tsx (reference "deals"): the note with deal_id, sales_id = the user, date = now
// unless picked; then update("deals", { last_seen: undefined, status: undefined }), no field of the
// deal's own, which the demo data provider stamps with updated_at = now.
test("log_deal_note: the note by the user, dated now or as given; the deal's updated_at = now; hidden deals not found", async () => {
  const deal = await one(
    stack.db.admin`select id, updated_at from deals where sales_id is distinct from ${bobId} order by id limit 1`,
  );
  const now = await dbNow();
  const result = await call('log_deal_note', { deal_id: Number(deal.id), text: 'Sent the revised quote' });
  assert.match(text(result), /Logged note \d+ on deal/);
  const note = await one(stack.db.admin`select * from deal_notes where deal_id = ${deal.id} order by id desc limit 1`);
  assert.equal(note.text, 'Sent the revised quote');
  assert.equal(Number(note.sales_id), aliceId);
  assert.equal(note.type, null);
  assert.ok((note.date as Date) >= now, 'dated now');
  assert.ok(
    ((await one(stack.db.admin`select updated_at from deals where id = ${deal.id}`)).updated_at as Date) >= now,
  );

  await call('log_deal_note', { deal_id: Number(deal.id), text: 'Kick-off call', date: '2026-03-02T15:00:00Z' });
  const dated = await one(
    stack.db.admin`select date from deal_notes where deal_id = ${deal.id} order by id desc limit 1`,
  );
  assert.equal((dated.date as Date).toISOString(), '2026-03-02T15:00:00.000Z');

  const bobs = await one(stack.db.admin`select id from deals where sales_id = ${bobId} limit 1`);
  const count = async () =>
    Number((await one(stack.db.admin`select count(*) as n from deal_notes where deal_id = ${bobs.id}`)).n);
  const notes = await count();
  assert.equal(
    toolError(await call('log_deal_note', { deal_id: Number(bobs.id), text: 'Sneaky' })).code,
    'DEAL_NOT_FOUND',
  );
  assert.equal(await count(), notes, 'nothing written');
  const bad = await call('log_deal_note', { deal_id: Number(deal.id), text: '' });
  assert.equal(bad.isError, true);
  assert.match(text(bad), /text/);
});

// contacts/ContactCreate.tsx: defaults sales_id = the user, one empty email and phone; the
// transform cleanupContactForCreate sets first_seen = last_seen = now, tags = [], and drops empty
// emails and phones (null when none is left); has_newsletter is a BooleanInput (false).
test('create_contact: the row the web form writes, at a company; emails lower-cased by the database', async () => {
  const company = await one(
    stack.db.admin`select id from companies where sales_id is distinct from ${bobId} order by id limit 1`,
  );
  const now = await dbNow();
  const result = await call('create_contact', {
    first_name: 'Ada',
    last_name: 'Lovelace',
    company_id: Number(company.id),
    title: 'CTO',
    email: 'Ada.Lovelace@Example.com',
    phone: '+44 20 7946 0000',
    background: 'Met at the trade fair',
    linkedin_url: 'https://www.linkedin.com/in/ada',
  });
  assert.match(text(result), /Created contact \d+/);
  const id = (result.structuredContent as { contact: { id: number } }).contact.id;
  const contact = await one(stack.db.admin`select * from contacts where id = ${id}`);
  assert.deepEqual(
    {
      first_name: contact.first_name,
      last_name: contact.last_name,
      title: contact.title,
      company_id: Number(contact.company_id),
      email_jsonb: contact.email_jsonb,
      phone_jsonb: contact.phone_jsonb,
      background: contact.background,
      linkedin_url: contact.linkedin_url,
      has_newsletter: contact.has_newsletter,
      status: contact.status,
      tags: contact.tags,
      sales_id: Number(contact.sales_id),
    },
    {
      first_name: 'Ada',
      last_name: 'Lovelace',
      title: 'CTO',
      company_id: Number(company.id),
      email_jsonb: [{ email: 'ada.lovelace@example.com', type: 'Work' }],
      phone_jsonb: [{ number: '+44 20 7946 0000', type: 'Work' }],
      background: 'Met at the trade fair',
      linkedin_url: 'https://www.linkedin.com/in/ada',
      has_newsletter: false,
      status: null,
      tags: [],
      sales_id: aliceId,
    },
  );
  assert.ok((contact.first_seen as Date) >= now && (contact.last_seen as Date) >= now, 'first_seen = last_seen = now');
});

test('create_contact: without email or phone both are null; typed lists, gender and status are kept; unknown values refused', async () => {
  const plain = await call('create_contact', { first_name: 'Grace', last_name: 'Hopper' });
  const id = (plain.structuredContent as { contact: { id: number } }).contact.id;
  const row = await one(
    stack.db.admin`select email_jsonb, phone_jsonb, company_id, tags from contacts where id = ${id}`,
  );
  assert.deepEqual([row.email_jsonb, row.phone_jsonb, row.company_id, row.tags], [null, null, null, []]);

  const typed = await call('create_contact', {
    first_name: 'Alan',
    last_name: 'Turing',
    email: [
      { email: 'alan@home.example', type: 'Home' },
      { email: 'alan@work.example', type: 'Work' },
    ],
    gender: 'male',
    status: 'warm',
  });
  const typedId = (typed.structuredContent as { contact: { id: number } }).contact.id;
  const t = await one(stack.db.admin`select email_jsonb, gender, status from contacts where id = ${typedId}`);
  assert.deepEqual(t.email_jsonb, [
    { email: 'alan@home.example', type: 'Home' },
    { email: 'alan@work.example', type: 'Work' },
  ]);
  assert.deepEqual([t.gender, t.status], ['male', 'warm']);

  const count = async () => Number((await one(stack.db.admin`select count(*) as n from contacts`)).n);
  const before = await count();
  const unknown = toolError(await call('create_contact', { first_name: 'X', last_name: 'Y', status: 'Warm' }));
  assert.equal(unknown.code, 'UNKNOWN_VALUE');
  assert.equal(unknown.nearest, 'warm');
  const badUrl = await call('create_contact', {
    first_name: 'X',
    last_name: 'Y',
    linkedin_url: 'https://example.com/x',
  });
  assert.equal(badUrl.isError, true);
  assert.match(text(badUrl), /linkedin/);
  const badEmail = await call('create_contact', { first_name: 'X', last_name: 'Y', email: 'not an email' });
  assert.equal(badEmail.isError, true);
  const bobsCompany = await one(stack.db.admin`select id from companies where sales_id = ${bobId} limit 1`);
  const hidden = toolError(
    await call('create_contact', { first_name: 'X', last_name: 'Y', company_id: Number(bobsCompany.id) }),
  );
  assert.equal(hidden.code, 'COMPANY_NOT_FOUND');
  assert.match(hidden.message, /nothing was written/);
  assert.equal(await count(), before, 'nothing written');
});

test('get_schema and mutate tell the agent which columns the web app maintains, and which tool keeps each', async () => {
  const overview = text(await call('get_schema', {}));
  assert.match(overview, /^Kept by the web app, not the database/m);
  assert.match(overview, /^ {2}contacts\.status = .*\(log_contact_note, create_task\)$/m);
  assert.match(overview, /^ {2}deals\.index = .*\(move_deal\)$/m);
  assert.match(overview, /^ {2}deals\.updated_at = .*no trigger/m);
  const deals = text(await call('get_schema', { table: 'deals' }));
  assert.match(deals, /deals\.archived_at = .*\(archive_deal\)/);
  assert.doesNotMatch(deals, /contacts\.status/, "one table's detail carries only its own rules");
  const { tools } = await alice.listTools();
  const mutate = tools.find((t) => t.name === 'mutate')!.description!;
  assert.match(mutate, /deals\.index/);
  assert.match(mutate, /move_deal/);
});

test('get_schema names the rules for tags, merges, ids without a foreign key and free-text revenue on their tables', async () => {
  const overview = text(await call('get_schema', {}));
  assert.match(overview, /^ {2}contacts\.tags = array of tags\.id/m);
  assert.match(
    overview,
    /^ {2}contacts\.id on a merge .*tasks and contact_notes .*deals\.contact_ids .*delete the loser$/m,
  );
  assert.match(overview, /^ {2}tags\.id: before deleting a tag, array_remove it from every contacts\.tags/m);
  assert.match(overview, /^ {2}companies\.revenue is free text .*convert it before comparing or sorting/m);
  assert.match(overview, /^ {2}deals\.contact_ids = array of contacts\.id/m);
  const companies = text(await call('get_schema', { table: 'companies' }));
  assert.match(companies, /companies\.revenue is free text/);
  assert.doesNotMatch(companies, /contacts\.tags|deals\.contact_ids/, "one table's detail carries only its own rules");
  assert.match(text(await call('get_schema', { table: 'tags' })), /tags\.id: before deleting a tag/);
  const { tools } = await alice.listTools();
  const mutate = tools.find((t) => t.name === 'mutate')!.description!;
  assert.match(mutate, /merging two contacts or deleting a tag takes several calls/);
  assert.match(mutate, /companies\.revenue is free text/);
});

// The web app merges through the merge_contacts Edge Function (supabase/functions/merge_contacts/
// index.ts, called by the Supabase data provider's mergeContacts). mutate refuses the database's
// merge_contacts(), so the agent follows get_schema's contacts.id rule, one call per write; the
// expected rows are the Edge Function's, read from its source.
test("merging contacts with mutate as get_schema's rule says leaves what the app's merge leaves", async () => {
  const company = Number(
    (await one(stack.db.admin`select id from companies where sales_id is distinct from ${bobId} limit 1`)).id,
  );
  const contact = async (fields: Record<string, unknown>) =>
    Number(
      (
        await one(stack.db
          .admin`insert into contacts ${stack.db.admin({ last_name: 'Merged', sales_id: aliceId, ...fields })}
        returning id`)
      ).id,
    );
  const w = await contact({
    first_name: 'Win',
    background: 'winner',
    email_jsonb: [{ email: 'shared@merge.test', type: 'Work' }],
    tags: [1],
    status: 'warm',
    first_seen: '2026-01-05T00:00:00Z',
    last_seen: '2026-01-10T00:00:00Z',
  });
  const l = await contact({
    first_name: 'Lose',
    title: 'CTO',
    background: 'loser',
    company_id: company,
    email_jsonb: [
      { email: 'shared@merge.test', type: 'Home' },
      { email: 'other@merge.test', type: 'Work' },
    ],
    phone_jsonb: [{ number: '+33 1 23', type: 'Work' }],
    tags: [1, 2],
    status: 'hot',
    first_seen: '2026-01-01T00:00:00Z',
    last_seen: '2026-02-01T00:00:00Z',
  });
  await stack.db.admin`insert into tasks (contact_id, type, text, due_date, sales_id)
    values (${l}, 'call', 'Merged task', '2026-03-01T00:00:00Z', ${aliceId})`;
  await stack.db.admin`insert into contact_notes (contact_id, text, date, sales_id)
    values (${l}, 'Merged note', '2026-01-02T00:00:00Z', ${aliceId})`;
  for (const ids of [[l, w], [l]]) {
    await stack.db.admin`insert into deals (name, stage, company_id, contact_ids, sales_id)
      values ('Merged deal', 'opportunity', ${company}, ${ids}, ${aliceId})`;
  }

  const refused = toolError(
    await call('mutate', { sql: `update contacts set title = title where id = merge_contacts(${l}, ${w})` }),
  );
  assert.equal(refused.code, 'FUNCTION_NOT_ALLOWED', 'as the rule says, merge_contacts() is refused');
  const mutate = async (sql: string) => {
    const result = await call('mutate', { sql });
    if (!result.isError) return result;
    const held = toolError(result);
    assert.equal(held.code, 'CONFIRMATION_REQUIRED', text(result));
    return call('mutate', { sql, confirm_rows: held.rows });
  };
  const union = (column: string, key: string) =>
    `${column} = coalesce(w.${column}, '[]') || coalesce((select jsonb_agg(x) from jsonb_array_elements(l.${column}) x
      where not coalesce(w.${column}, '[]') @> jsonb_build_array(jsonb_build_object('${key}', x->'${key}'))), '[]')`;
  const fill = ['gender', 'first_name', 'last_name', 'title', 'company_id', 'linkedin_url', 'background']
    .concat(['has_newsletter', 'first_seen', 'sales_id'])
    .map((c) => `${c} = coalesce(w.${c}, l.${c})`);
  const merge = [
    `update tasks set contact_id = ${w} where contact_id = ${l}`,
    `update contact_notes set contact_id = ${w} where contact_id = ${l}`,
    `update deals set contact_ids = array(select distinct unnest(array_remove(contact_ids, ${l}) || ${w}::bigint))
      where contact_ids @> array[${l}::bigint]`,
    `update contacts w set ${fill.join(', ')}, avatar = coalesce(w.avatar, l.avatar),
      ${union('email_jsonb', 'email')}, ${union('phone_jsonb', 'number')},
      tags = array(select distinct unnest(coalesce(w.tags, '{}') || coalesce(l.tags, '{}'))),
      last_seen = greatest(w.last_seen, l.last_seen) from contacts l where w.id = ${w} and l.id = ${l}`,
    `delete from contacts where id = ${l}`,
  ];
  for (const sql of merge) assert.equal((await mutate(sql)).isError, undefined, sql);

  const winner = await one(stack.db.admin`select * from contacts where id = ${w}`);
  assert.deepEqual(
    {
      first_name: winner.first_name,
      title: winner.title,
      background: winner.background,
      company_id: Number(winner.company_id),
      status: winner.status,
      tags: (winner.tags as string[]).map(Number).sort(),
      first_seen: winner.first_seen,
      last_seen: winner.last_seen,
      emails: (winner.email_jsonb as { email: string }[]).sort((a, b) => a.email.localeCompare(b.email)),
      phones: winner.phone_jsonb,
    },
    {
      first_name: 'Win', // the winner's own values win…
      title: 'CTO', // …and its nulls take the loser's
      background: 'winner',
      company_id: company,
      status: 'warm', // the merge leaves status alone
      tags: [1, 2],
      first_seen: new Date('2026-01-05T00:00:00Z'), // winner ?? loser
      last_seen: new Date('2026-02-01T00:00:00Z'), // the later one
      emails: [
        { email: 'other@merge.test', type: 'Work' },
        { email: 'shared@merge.test', type: 'Work' }, // one per address, the winner's first
      ],
      phones: [{ number: '+33 1 23', type: 'Work' }],
    },
  );
  assert.equal((await stack.db.admin`select id from contacts where id = ${l}`).length, 0, 'the loser is gone');
  assert.deepEqual(
    (await stack.db.admin`select text from tasks where contact_id = ${w}`).map((r) => r.text),
    ['Merged task'],
  );
  const notes = await stack.db.admin`select text from contact_notes where contact_id = ${w}`;
  assert.deepEqual(
    notes.map((r) => r.text),
    ['Merged note'],
  );
  const deals = await stack.db.admin`select contact_ids from deals where name = 'Merged deal' order by id`;
  assert.deepEqual(
    deals.map((d) => (d.contact_ids as string[]).map(Number)),
    [[w], [w]],
  );
});
