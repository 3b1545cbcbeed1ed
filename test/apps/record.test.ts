/**
 * The Record card app in a real browser inside the AppBridge host (test/support/app-host.ts): a
 * contact's card as alice reads it (details, recent notes, open tasks, deals), a note added from
 * the card (log_contact_note: the database, the contact's status and one audit line), a company's
 * card with its contacts, and the record opened in Atomic CRM through the host. Screenshots:
 * .test-artifacts/apps-record*.png.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { auditLines, showInHost, startAppHost, type AppHost } from '../support/app-host.js';
import { launchChromium } from '../support/browser.js';
import { rows, startStack, text, type Stack } from '../support/stack.js';

const ARTIFACTS = fileURLToPath(new URL('../../.test-artifacts/', import.meta.url));
const CRM_URL = 'https://crm.example.com';
const UI_TIMEOUT_MS = 15_000;

let stack: Stack;
let browser: Browser;
let host: AppHost;
let context: BrowserContext;
let page: Page;
let alice: Client;
let contact: { id: number; name: string; company_id: number; notes: number; tasks: number; deals: number };
const requested: string[] = [];

before(async () => {
  browser = await launchChromium();
  stack = await startStack({ captureLogs: true, env: { ATOMIC_CRM_URL: CRM_URL } });
  alice = await stack.connect(stack.users.alice);
  // A contact with notes, open tasks and deals, as alice reads it.
  contact = rows(
    await alice.callTool({
      name: 'query',
      arguments: {
        sql: `select c.id::int, c.first_name || ' ' || c.last_name as name, c.company_id::int,
                (select count(*)::int from contact_notes n where n.contact_id = c.id) as notes,
                (select count(*)::int from tasks t where t.contact_id = c.id and t.done_date is null) as tasks,
                (select count(*)::int from deals d where c.id = any(d.contact_ids) and d.archived_at is null) as deals
              from contacts c where c.status is distinct from 'hot' order by 6 desc, 5 desc, 4 desc, c.id limit 1`,
      },
    }),
  )[0] as never;
  assert.ok(contact.notes > 0 && contact.tasks > 0 && contact.deals > 0, JSON.stringify(contact));
  host = await startAppHost({ mcpUrl: stack.url, token: await stack.token(stack.users.alice) });
  context = await browser.newContext({ viewport: { width: 760, height: 1000 } });
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

const show = (args: Record<string, unknown>, name: string) =>
  showInHost(
    page,
    'show_record',
    args,
    new RegExp(`^Open ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} in Atomic CRM$`),
  );

test("a contact's card: its details, five latest notes, open tasks and deals, as alice reads them", async () => {
  const frame = await show({ contact_id: contact.id }, contact.name);
  const section = (name: string) => frame.getByRole('region', { name });
  assert.equal(await section('Recent notes').getByRole('listitem').count(), Math.min(5, contact.notes));
  assert.equal(await section('Open tasks').getByRole('listitem').count(), Math.min(10, contact.tasks));
  assert.equal(await section('Deals').getByRole('listitem').count(), Math.min(10, contact.deals));
  const [company] = await stack.db.admin`select name from companies where id = ${contact.company_id}`;
  assert.match(await frame.locator('dl.details').innerText(), new RegExp(`Company\\s+${company!.name}`));
  await page.screenshot({ path: `${ARTIFACTS}apps-record.png`, fullPage: true });
});

test('adding a note from the card: the note is alice’s, the contact takes its status, one audit line', async () => {
  const frame = await show({ contact_id: contact.id }, contact.name);
  const note = 'Met at the trade fair: wants a quote by Friday';
  await frame.getByLabel('New note').fill(note);
  await frame.getByLabel('Status').selectOption('hot');
  await frame.getByRole('button', { name: 'Add note' }).click();
  await frame.getByRole('region', { name: 'Recent notes' }).getByText(note).waitFor();
  assert.equal(await frame.locator('dl.details').getByText('hot').count(), 1, 'the card shows the new status');

  const [written] = rows(
    await alice.callTool({
      name: 'query',
      arguments: {
        sql: `select n.text, n.status, n.sales_id = (select id from sales where user_id = auth.uid()) as mine, c.status as contact_status
              from contact_notes n join contacts c on c.id = n.contact_id
              where n.contact_id = ${contact.id} order by n.id desc limit 1`,
      },
    }),
  );
  assert.deepEqual(written, { text: note, status: 'hot', mine: true, contact_status: 'hot' });
  assert.deepEqual(
    auditLines(stack.logs, 'log_contact_note').map((l) => [l.sub, l.outcome]),
    [[stack.users.alice.id, 'ok']],
  );
});

test("a company's card lists its contacts and has no note form (notes belong to contacts)", async () => {
  const [company] = await stack.db.admin`select name from companies where id = ${contact.company_id}`;
  const frame = await show({ company_id: contact.company_id }, company!.name);
  const contacts = frame.getByRole('region', { name: 'Contacts' });
  await contacts.getByRole('button', { name: `Open ${contact.name} in Atomic CRM` }).waitFor();
  assert.equal(await frame.getByRole('form', { name: 'Add a note' }).count(), 0);
  await page.screenshot({ path: `${ARTIFACTS}apps-record-company.png`, fullPage: true });
  await contacts.getByRole('button', { name: `Open ${contact.name} in Atomic CRM` }).click();
  await page.waitForFunction(() => window.hostLog.openedLinks.length > 0);
  assert.deepEqual(await page.evaluate(() => window.hostLog.openedLinks), [`${CRM_URL}/#/contacts/${contact.id}/show`]);
});

test('without a UI, show_record answers with the card as text; a record alice cannot see is an actionable error', async () => {
  const body = text(await alice.callTool({ name: 'show_record', arguments: { contact_id: contact.id } }));
  assert.match(body, /^Add a note with log_contact_note\./);
  assert.match(body, new RegExp(`Contact ${contact.id}: ${contact.name}\\.`));
  assert.match(body, /\nOpen tasks: #\d+ /);
  const missing = JSON.parse(
    text(await alice.callTool({ name: 'show_record', arguments: { contact_id: 987654321 } })),
  ).error;
  assert.equal(missing.code, 'CONTACT_NOT_FOUND');
  const neither = JSON.parse(text(await alice.callTool({ name: 'show_record', arguments: {} }))).error;
  assert.equal(neither.code, 'RECORD_NOT_CHOSEN');
});

test('the page and the view requested nothing from any origin but the host', () => {
  assert.ok(requested.length > 0);
  assert.deepEqual(
    requested.filter((url) => !url.startsWith(`${host.origin}/`)),
    [],
  );
});
