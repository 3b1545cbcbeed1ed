/**
 * The Tasks app in a real browser, as a person uses it inside an MCP Apps host
 * (test/apps/host/host.ts on ext-apps' AppBridge; test/support/app-host.ts): the host calls
 * show_tasks over the real HTTP endpoint with alice's token, loads the ui:// view into a sandboxed
 * iframe and hands it the result. The test ticks a task done, postpones two, opens a contact, and
 * checks the database as alice, the audit log and the network. The tasks table gets a per-owner
 * policy, as forks of Atomic CRM add: bob's tasks must never reach alice's page, even when she asks
 * for everyone's. Screenshots: .test-artifacts/apps-tasks*.png.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { auditLines, showInHost, startAppHost, type AppHost } from '../support/app-host.js';
import { launchChromium } from '../support/browser.js';
import { rows, startStack, type Stack } from '../support/stack.js';

const ARTIFACTS = fileURLToPath(new URL('../../.test-artifacts/', import.meta.url));
const CRM_URL = 'https://crm.example.com';
const UI_TIMEOUT_MS = 15_000;
const BOB_TASK = 'Bob only: renegotiate the private retainer';

let stack: Stack;
let browser: Browser;
let host: AppHost;
let context: BrowserContext;
let page: Page;
let alice: Client;
const requested: string[] = [];

before(async () => {
  browser = await launchChromium();
  stack = await startStack({ captureLogs: true, env: { ATOMIC_CRM_URL: CRM_URL } });
  await stack.db.admin.unsafe(
    `create policy tasks_owner_only on public.tasks as restrictive for all to authenticated
       using (sales_id = (select id from public.sales where user_id = auth.uid()))`,
  );
  const [bob] = await stack.db.admin`select id from sales where user_id = ${stack.users.bob.id}`;
  await stack.db.admin`insert into tasks (contact_id, type, text, due_date, sales_id)
    values (1, 'call', ${BOB_TASK}, now() - interval '1 day', ${bob!.id})`;
  alice = await stack.connect(stack.users.alice);
  host = await startAppHost({ mcpUrl: stack.url, token: await stack.token(stack.users.alice) });
  context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  context.on('request', (r) => requested.push(r.url()));
  page = await context.newPage();
  await page.goto(host.url);
  await mkdir(ARTIFACTS, { recursive: true });
});
after(async () => {
  await context?.close();
  await browser?.close();
  await host?.close();
  await stack?.stop();
});

const show = (args: Record<string, unknown>, theme: 'light' | 'dark' = 'light') =>
  showInHost(page, 'show_tasks', args, /^Tasks \(/, theme);

/** Alice's pending tasks as she reads them herself with the query tool, in the list's order. */
async function alicePending(limit: number): Promise<{ id: string; text: string }[]> {
  return rows(
    await alice.callTool({
      name: 'query',
      arguments: {
        sql: `select id::text, text from tasks where done_date is null
                and sales_id = (select id from sales where user_id = auth.uid())
              order by due_date nulls last, id limit ${limit}`,
      },
    }),
  ) as { id: string; text: string }[];
}

const shownIds = (frame: Frame) =>
  frame.locator('li[data-task-id]').evaluateAll((items) => items.map((li) => li.getAttribute('data-task-id')));

const audit = (tool: string) => auditLines(stack.logs, tool);

test('alice sees her own pending tasks, as the database shows them to her', async () => {
  const frame = await show({ who: 'mine', limit: 6 });
  assert.deepEqual(
    await shownIds(frame),
    (await alicePending(6)).map((t) => t.id),
  );
  assert.equal(await page.evaluate(() => window.hostLog.initialized), true);
  await page.screenshot({ path: `${ARTIFACTS}apps-tasks.png`, fullPage: true });
});

test("everyone's tasks under a per-owner policy: bob's never reach alice's page", async () => {
  const frame = await show({ who: 'mine', limit: 6 });
  await frame.getByLabel('Whose').selectOption('everyone');
  await frame.locator('select[name=who] option[value=everyone][selected]').waitFor({ state: 'attached' });
  const ids = (await shownIds(frame)).map(Number);
  assert.ok(ids.length > 0);
  const owners = await stack.db.admin`select distinct s.user_id from tasks t join sales s on s.id = t.sales_id
    where t.id = any(${ids}::bigint[])`;
  assert.deepEqual(
    owners.map((o) => o.user_id),
    [stack.users.alice.id],
  );
  assert.doesNotMatch(await frame.locator('body').innerText(), new RegExp(BOB_TASK));
  // The policy is what hides it: the row is there, and overdue, so it would lead the list.
  const [row] = await stack.db.admin`select count(*)::int as n from tasks where text = ${BOB_TASK}`;
  assert.equal(row!.n, 1);
});

test('ticking a task done and postponing two: the database holds it, one audit line per click', async () => {
  const frame = await show({ who: 'mine', limit: 6 });
  const [first, second, third] = await alicePending(3);
  const item = (id: string) => frame.locator(`li[data-task-id="${id}"]`);

  await item(first!.id)
    .getByRole('checkbox', { name: `Done: ${first!.text}` })
    .check();
  await item(first!.id).waitFor({ state: 'detached' }); // redrawn from a fresh read: pending only
  await item(second!.id)
    .getByRole('group', { name: `Postpone: ${second!.text}` })
    .getByRole('button', { name: 'Tomorrow' })
    .click();
  await frame.locator('main:not([aria-busy])').waitFor();
  await item(third!.id).getByLabel(`Postpone to a date: ${third!.text}`).fill('2027-01-15');
  await frame.locator('main:not([aria-busy])').waitFor();
  await page.screenshot({ path: `${ARTIFACTS}apps-tasks-after.png`, fullPage: true });

  const [done] = rows(
    await alice.callTool({ name: 'query', arguments: { sql: `select done_date from tasks where id = ${first!.id}` } }),
  );
  assert.ok(done!.done_date, 'ticked: done_date is set');
  const [{ tomorrow }] = (await stack.db
    .admin`select ((now() at time zone 'UTC')::date + 1)::text as tomorrow`) as unknown as [{ tomorrow: string }];
  const postponed = rows(
    await alice.callTool({
      name: 'query',
      arguments: {
        sql: `select id::text, to_char(due_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI') as due from tasks where id in (${second!.id}, ${third!.id}) order by id`,
      },
    }),
  );
  assert.deepEqual(Object.fromEntries(postponed.map((r) => [r.id, r.due])), {
    [second!.id]: `${tomorrow}T00:00`,
    [third!.id]: '2027-01-15T00:00',
  });

  const calls = await page.evaluate(() => window.hostLog.viewCalls);
  assert.deepEqual(
    calls.filter((c) => c.name !== 'show_tasks'),
    [
      { name: 'complete_task', arguments: { task_id: Number(first!.id), done: true }, isError: false },
      { name: 'postpone_task', arguments: { task_id: Number(second!.id), until: 'tomorrow' }, isError: false },
      { name: 'postpone_task', arguments: { task_id: Number(third!.id), until: '2027-01-15' }, isError: false },
    ],
  );
  const sub = stack.users.alice.id;
  assert.deepEqual(
    audit('complete_task').map((l) => [l.sub, l.outcome]),
    [[sub, 'ok']],
  );
  assert.deepEqual(
    audit('postpone_task').map((l) => [l.sub, l.outcome]),
    [
      [sub, 'ok'],
      [sub, 'ok'],
    ],
  );
});

test("opening a task's contact asks the host to open its Atomic CRM page", async () => {
  const frame = await show({ who: 'mine', limit: 3 });
  const link = frame.getByRole('button', { name: /^Open .+ in Atomic CRM$/ }).first();
  await link.click();
  await page.waitForFunction(() => window.hostLog.openedLinks.length === 1);
  const [opened] = await page.evaluate(() => window.hostLog.openedLinks);
  assert.match(opened!, new RegExp(`^${CRM_URL}/#/contacts/\\d+/show$`));
});

test('the host theme reaches the view: dark is dark', async () => {
  const frame = await show({ who: 'mine', limit: 6 }, 'dark');
  const background = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = background.match(/\d+/g)!.map(Number);
  assert.ok(r! + g! + b! < 200, `dark background, got ${background}`);
  await page.screenshot({ path: `${ARTIFACTS}apps-tasks-dark.png`, fullPage: true });
});

test('the page and the view requested nothing from any origin but the host', () => {
  assert.ok(requested.length > 0);
  const foreign = requested.filter((url) => !url.startsWith(`${host.origin}/`) && !url.startsWith('about:'));
  assert.deepEqual(foreign, []);
});
