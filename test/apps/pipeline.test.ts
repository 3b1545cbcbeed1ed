/**
 * The Pipeline app in a real browser inside the AppBridge host (test/support/app-host.ts): the
 * board the server read as alice, one column per configured stage with its total; alice moves a
 * deal to another stage and archives one from the board, then the test checks the deals as she
 * reads them, one audit line per action and the network. Screenshot: .test-artifacts/apps-pipeline.png.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ATOMIC_CRM_DEFAULTS } from '../../src/crm/configuration.js';
import { auditLines, showInHost, startAppHost, type AppHost } from '../support/app-host.js';
import { launchChromium } from '../support/browser.js';
import { rows, startStack, type Stack } from '../support/stack.js';

const ARTIFACTS = fileURLToPath(new URL('../../.test-artifacts/', import.meta.url));
const UI_TIMEOUT_MS = 15_000;

let stack: Stack;
let browser: Browser;
let host: AppHost;
let context: BrowserContext;
let page: Page;
let alice: Client;
const requested: string[] = [];

before(async () => {
  browser = await launchChromium();
  stack = await startStack({ captureLogs: true, env: { ATOMIC_CRM_URL: 'https://crm.example.com' } });
  alice = await stack.connect(stack.users.alice);
  host = await startAppHost({ mcpUrl: stack.url, token: await stack.token(stack.users.alice) });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
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

const show = (args: Record<string, unknown>) => showInHost(page, 'show_pipeline', args, /^Deal pipeline$/);

/** Alice's view of the unarchived deals per stage, read with the query tool. */
async function board(where = 'true'): Promise<Record<string, { n: number; total: number; first: string }>> {
  const result = rows(
    await alice.callTool({
      name: 'query',
      arguments: {
        sql: `select stage, count(*)::int as n, coalesce(sum(amount), 0)::float8 as total,
                (array_agg(id::text order by coalesce(index, 32767), id))[1] as first
              from deals where archived_at is null and ${where} group by stage`,
      },
    }),
  );
  return Object.fromEntries(result.map((r) => [r.stage, { n: r.n, total: r.total, first: r.first }])) as never;
}

test("the board: a column per configured stage, each with its deals' count and total as alice reads them", async () => {
  const frame = await show({});
  const expected = await board();
  const columns = frame.locator('section[data-stage]');
  assert.deepEqual(
    await columns.evaluateAll((els) => els.map((e) => e.getAttribute('data-stage'))),
    ATOMIC_CRM_DEFAULTS.dealStages,
  );
  for (const stage of ATOMIC_CRM_DEFAULTS.dealStages) {
    const column = frame.locator(`section[data-stage="${stage}"]`);
    assert.equal(Number(await column.locator('[data-total]').getAttribute('data-total')), expected[stage]?.total ?? 0);
    assert.equal(await column.locator('li[data-deal-id]').count(), expected[stage]?.n ?? 0, stage);
  }
  await page.screenshot({ path: `${ARTIFACTS}apps-pipeline.png` }); // the top of the board
});

test('moving a deal to another stage and archiving one: the board and the database agree', async () => {
  const frame = await show({});
  const before = await board();
  const moved = before.opportunity!.first;
  const archived = before['proposal-sent']!.first;
  const card = (id: string) => frame.locator(`li[data-deal-id="${id}"]`);
  const name = await card(moved).getAttribute('aria-label');

  await card(moved).getByLabel(`Move ${name} to stage`).selectOption('won');
  await frame.locator(`section[data-stage="won"] li[data-deal-id="${moved}"]`).waitFor();
  const archivedName = await card(archived).getAttribute('aria-label');
  await card(archived)
    .getByRole('button', { name: `Archive ${archivedName}` })
    .click();
  await card(archived).waitFor({ state: 'detached' });

  const after = rows(
    await alice.callTool({
      name: 'query',
      arguments: {
        sql: `select id::text, stage, archived_at is not null as archived from deals where id in (${moved}, ${archived}) order by id`,
      },
    }),
  );
  assert.deepEqual(Object.fromEntries(after.map((r) => [r.id, [r.stage, r.archived]])), {
    [moved]: ['won', false],
    [archived]: ['proposal-sent', true],
  });
  const sub = stack.users.alice.id;
  assert.deepEqual(
    auditLines(stack.logs, 'move_deal').map((l) => [l.sub, l.outcome]),
    [[sub, 'ok']],
  );
  assert.deepEqual(
    auditLines(stack.logs, 'archive_deal').map((l) => [l.sub, l.outcome]),
    [[sub, 'ok']],
  );
});

test("'Mine only' redraws with alice's own deals", async () => {
  const frame = await show({});
  await frame.getByLabel('Mine only').check();
  await frame.locator('input[name=mine][checked]').waitFor({ state: 'attached' });
  const mine = await board('sales_id = (select id from sales where user_id = auth.uid())');
  const shown = await frame.locator('li[data-deal-id]').count();
  assert.equal(
    shown,
    Object.values(mine).reduce((n, s) => n + s.n, 0),
  );
  assert.ok(shown > 0);
});

test('without a UI, show_pipeline answers with a line per stage and the tools to act', async () => {
  const result = await alice.callTool({ name: 'show_pipeline', arguments: {} });
  const text = (result.content as { type: string; text: string }[])[0]!.text;
  assert.match(text, /^\d+ open deals in 6 stages\. Move one with move_deal, archive it with archive_deal\./);
  for (const stage of ATOMIC_CRM_DEFAULTS.dealStages) assert.match(text, new RegExp(`\\n${stage}: \\d+ deals?, `));
});

test('the page and the view requested nothing from any origin but the host', () => {
  assert.ok(requested.length > 0);
  assert.deepEqual(
    requested.filter((url) => !url.startsWith(`${host.origin}/`)),
    [],
  );
});
