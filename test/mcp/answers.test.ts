/**
 * Compact answers over real HTTP with the default caps, as a non-admin user: the text content
 * carries rows as a table (column names once), structuredContent keeps the row objects, and the
 * text says the same thing as the structured rows. Characters per answer are measured against the
 * earlier form (the rows as one JSON array of objects) on questions an agent asks of the demo data.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { untrusted } from '../../src/mcp/results.js';
import { rows, startStack, text, type Stack } from '../support/stack.js';

let stack: Stack;
let alice: Client;

before(async () => {
  stack = await startStack();
  alice = await stack.connect(stack.users.alice);
});
after(async () => {
  await stack?.stop();
});

const QUESTIONS: [string, string][] = [
  ['every contact', 'select * from contacts'],
  [
    'hot contacts, latest first',
    "select id, first_name, last_name, title, status, last_seen from contacts where status = 'hot' order by last_seen desc limit 20",
  ],
  [
    'open deals by value',
    'select d.id, d.name, d.stage, d.amount, c.name as company from deals d join companies c on c.id = d.company_id where d.archived_at is null order by d.amount desc nulls last limit 20',
  ],
  [
    'pending tasks by due date',
    'select t.id, t.type, t.text, t.due_date, c.first_name, c.last_name from tasks t join contacts c on c.id = t.contact_id where t.done_date is null order by t.due_date nulls last limit 30',
  ],
  [
    'pipeline by stage',
    'select stage, count(*)::int as deals, sum(amount) as total from deals where archived_at is null group by stage order by stage',
  ],
  [
    "one contact's notes",
    'select date, status, left(text, 200) as text from contact_notes where contact_id = (select min(contact_id) from contact_notes) order by date desc',
  ],
  [
    'companies with most deals',
    'select id, name, sector, size, city, nb_deals, nb_contacts from companies_summary order by nb_deals desc, id limit 10',
  ],
];

/** The text the server sent before compact tables, for the same rows. */
function formerText(result: unknown): string {
  const summary = text(result).split('\n')[0]!;
  return `${summary}\n${untrusted('Rows as JSON.', JSON.stringify(rows(result)))}`;
}

/** Reads the table back out of the fenced text. */
function tableRows(answer: string): Record<string, unknown>[] {
  const token = /<untrusted-data-([0-9a-f]+)>/.exec(answer)![1];
  const open = `<untrusted-data-${token}>\n`;
  const body = answer.slice(answer.indexOf(open) + open.length, answer.indexOf(`\n</untrusted-data-${token}>`));
  const [header, ...lines] = body.split('\n').map((line) => JSON.parse(line) as unknown[]);
  return lines.map((values) => Object.fromEntries((header as string[]).map((name, i) => [name, values[i]])));
}

test('rows arrive as a compact table that says exactly what structuredContent says, at a fraction of the characters', async (t) => {
  const measured: string[] = [
    '| question | rows | before (chars) | after (chars) | after / before |',
    '|---|---:|---:|---:|---:|',
  ];
  let before = 0;
  let afterTotal = 0;
  for (const [question, sql] of QUESTIONS) {
    const result = await alice.callTool({ name: 'query', arguments: { sql } });
    const answer = text(result);
    const data = rows(result);
    assert.ok(data.length > 0, question);
    assert.deepEqual(tableRows(answer), data, `${question}: the table and structuredContent agree`);
    assert.match(answer, /first line names the columns/);
    const former = formerText(result).length;
    assert.ok(answer.length < former, `${question}: ${answer.length} < ${former}`);
    before += former;
    afterTotal += answer.length;
    measured.push(
      `| ${question} | ${data.length} | ${former} | ${answer.length} | ${(answer.length / former).toFixed(2)} |`,
    );
  }
  measured.push(`| all ${QUESTIONS.length} | | ${before} | ${afterTotal} | ${(afterTotal / before).toFixed(2)} |`);
  for (const line of measured) t.diagnostic(line);
  assert.ok(afterTotal < before * 0.8, `${afterTotal} vs ${before}`);
});

test('the default budget keeps one answer near 10,000 tokens and says how to narrow it', async () => {
  const result = await alice.callTool({ name: 'query', arguments: { sql: 'select * from contacts' } });
  const structured = result.structuredContent as { truncated: boolean; notice?: string };
  assert.equal(structured.truncated, true);
  assert.match(structured.notice!, /40000-byte result budget \(about 10000 tokens\)/);
  // ≈ 4 characters a token: the answer stays within the budget it announces.
  assert.ok(text(result).length / 4 < 10_000, `${text(result).length} characters`);
});

test("every answer's fence is fresh: a token seen once, across the random pool's refills", () => {
  const tokens = new Set<string>();
  for (let i = 0; i < 1_000; i++) {
    const [, token] = /<untrusted-data-([0-9a-f]+)>/.exec(untrusted('Rows.', '[]'))!;
    assert.match(token!, /^[0-9a-f]{16}$/);
    tokens.add(token!);
  }
  assert.equal(tokens.size, 1_000);
});
