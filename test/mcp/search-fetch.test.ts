/**
 * `search` and `fetch` over real HTTP with the SDK's client, as ChatGPT's connectors and deep
 * research call them (docs/openai-search-fetch.md): the shapes OpenAI documents, ranking on the demo
 * data, deep links, untrusted text framed, RLS deciding what is found and fetched, and one database
 * round trip per call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { PROMPT_INJECTIONS } from '../../dev/seed.js';
import { recordSql } from '../../src/crm/record-document.js';
import { RECORD_KINDS } from '../../src/crm/record-ids.js';
import { parseQuery, searchSql } from '../../src/crm/search.js';
import { checkStatement, loadPolicy } from '../../src/db/policy.js';
import { startCountedStack, startStack, text, toolError, type CountedStack, type Stack } from '../support/stack.js';

const CRM = 'https://crm.example.test';

interface SearchResult {
  id: string;
  title: string;
  url: string;
}
interface FetchedRecord {
  id: string;
  title: string;
  text: string;
  url: string;
  metadata: Record<string, unknown>;
}

const ID = /^(company|contact|deal|contact_note|deal_note):[1-9][0-9]*$/;

/** The results of a search, after checking the shape OpenAI documents. */
async function search(client: Client, query: string): Promise<SearchResult[]> {
  const result = await client.callTool({ name: 'search', arguments: { query } });
  assert.ok(!result.isError, text(result));
  // Exactly one content item, of type text, holding the results object JSON-encoded.
  const content = result.content as { type: string; text: string }[];
  assert.equal(content.length, 1);
  assert.equal(content[0]!.type, 'text');
  const body = JSON.parse(content[0]!.text);
  assert.deepEqual(Object.keys(body), ['results']);
  assert.deepEqual(result.structuredContent, body);
  for (const r of body.results) {
    assert.deepEqual(Object.keys(r).sort(), ['id', 'title', 'url']);
    assert.match(r.id, ID);
    assert.equal(typeof r.title, 'string');
    assert.ok(r.title.length > 0 && r.title.length <= 120 && !r.title.includes('\n'), r.title);
    assert.equal(typeof r.url, 'string');
  }
  return body.results;
}

/** A fetched record, after checking the shape OpenAI documents. */
async function fetchRecord(client: Client, id: string): Promise<FetchedRecord> {
  const result = await client.callTool({ name: 'fetch', arguments: { id } });
  assert.ok(!result.isError, text(result));
  const content = result.content as { type: string; text: string }[];
  assert.equal(content.length, 1);
  assert.equal(content[0]!.type, 'text');
  const body = JSON.parse(content[0]!.text);
  assert.deepEqual(Object.keys(body).sort(), ['id', 'metadata', 'text', 'title', 'url']);
  assert.deepEqual(result.structuredContent, body);
  assert.equal(body.id, id);
  for (const key of ['title', 'text', 'url']) assert.equal(typeof body[key], 'string', key);
  for (const value of Object.values(body.metadata)) assert.ok(value === null || typeof value !== 'object');
  return body;
}

/** The record's text between its untrusted-data markers (and that it has them). */
function framed(record: FetchedRecord): string {
  const match = /<untrusted-data-([0-9a-f]{16})>\n([\s\S]*)\n<\/untrusted-data-\1>$/.exec(record.text);
  assert.ok(match, `not framed as data: ${record.text.slice(0, 200)}`);
  return match[2]!;
}

test("the statements are plain: the agent's own policy accepts each as a read (built-ins only, nothing of ours)", async () => {
  await loadPolicy();
  const statements = [
    searchSql(parseQuery("Zoe Müller's deals: acme & co")!, 20),
    ...RECORD_KINDS.map((kind) => recordSql(kind, '42')),
  ];
  for (const statement of statements) {
    const verdict = checkStatement(statement, 'query');
    assert.ok(verdict.ok, JSON.stringify(!verdict.ok && verdict.refusal));
    assert.equal(verdict.kind, 'select');
  }
});

describe('with ATOMIC_CRM_URL', () => {
  let stack: Stack;
  let alice: Client;
  before(async () => {
    stack = await startStack({ env: { ATOMIC_CRM_URL: CRM } });
    alice = await stack.connect(stack.users.alice);
  });
  after(async () => {
    await stack?.stop();
  });

  test('tools/list: search { query } and fetch { id }, read-only, with their output schemas', async () => {
    const { tools } = await alice.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const [name, argument] of [
      ['search', 'query'],
      ['fetch', 'id'],
    ] as const) {
      const tool = byName[name];
      assert.ok(tool, `${name} is listed`);
      assert.deepEqual(Object.keys(tool.inputSchema.properties ?? {}), [argument]);
      assert.deepEqual(tool.inputSchema.required, [argument]);
      assert.equal((tool.inputSchema.properties as Record<string, { type: string }>)[argument]!.type, 'string');
      assert.equal(tool.annotations?.readOnlyHint, true);
      assert.equal(tool.annotations?.destructiveHint, false);
      assert.ok(tool.outputSchema, `${name} declares its output`);
    }
    assert.deepEqual(Object.keys(byName.search!.outputSchema!.properties ?? {}), ['results']);
    assert.deepEqual(Object.keys(byName.fetch!.outputSchema!.properties ?? {}).sort(), [
      'id',
      'metadata',
      'text',
      'title',
      'url',
    ]);
  });

  test('a full name finds that contact first, without its accent and in any case', async () => {
    const [zoe] = await stack.db
      .admin`select id from contacts where first_name = 'Zoe' and last_name = 'Müller' order by id limit 1`;
    for (const query of ['Zoe Müller', 'zoe muller', 'ZOE MULLER', 'müller zoe']) {
      const results = await search(alice, query);
      assert.equal(results[0]?.id, `contact:${zoe!.id}`, query);
      assert.match(results[0]!.title, /^Zoe Müller — /);
      assert.equal(results[0]!.url, `${CRM}/#/contacts/${zoe!.id}/show`);
    }
  });

  test('a partial name finds every contact it starts or sits inside, before anything else', async () => {
    const müllers = (await stack.db.admin`select id from contacts where last_name = 'Müller'`).map(
      (r) => `contact:${r.id}`,
    );
    assert.ok(müllers.length > 1 && müllers.length <= 20);
    for (const query of ['mül', 'Mull', 'ller']) {
      const top = (await search(alice, query)).slice(0, müllers.length).map((r) => r.id);
      assert.deepEqual(top.sort(), [...müllers].sort(), query);
    }
  });

  test('a company name ranks its companies first, then their deals and people', async () => {
    const acme = (await stack.db.admin`select id from companies where name like 'Acme %'`).map(
      (r) => `company:${r.id}`,
    );
    assert.ok(acme.length > 1);
    const results = await search(alice, 'acme');
    assert.deepEqual(
      results
        .slice(0, acme.length)
        .map((r) => r.id)
        .sort(),
      [...acme].sort(),
    );
    const kinds = results.map((r) => r.id.split(':')[0]);
    assert.ok(kinds.includes('deal') && kinds.includes('contact'), kinds.join());
    const company = results[0]!;
    assert.equal(company.url, `${CRM}/#/companies/${company.id.split(':')[1]}/show`);
  });

  test('"deals with Acme" prefers the deals of Acme companies', async () => {
    const deals = (
      await stack.db.admin`select d.id from deals d join companies c on c.id = d.company_id where c.name like 'Acme %'`
    ).map((r) => `deal:${r.id}`);
    assert.ok(deals.length > 0);
    const top = (await search(alice, 'deals with Acme')).slice(0, deals.length).map((r) => r.id);
    assert.deepEqual(top.sort(), [...deals].sort());
  });

  test('a topic finds the notes that mention it, stemmed, linked to their deal or contact page', async () => {
    const results = await search(alice, 'discounts');
    assert.ok(results.length > 0);
    for (const r of results) assert.match(r.id, /^deal_note:/);
    const [note] = await stack.db
      .admin`select deal_id, text from deal_notes where id = ${results[0]!.id.split(':')[1]!}`;
    assert.match(note!.text, /discount/);
    assert.equal(results[0]!.url, `${CRM}/#/deals/${note!.deal_id}/show`);
    assert.match(results[0]!.title, /^Note on deal .+, \d{4}-\d{2}-\d{2}$/);
  });

  test('a query with no words finds nothing, and says so in the same shape', async () => {
    assert.deepEqual(await search(alice, ''), []);
    assert.deepEqual(await search(alice, '!!! ???'), []);
    assert.deepEqual(await search(alice, 'qwertyuiopzz'), []);
  });

  test('query text cannot inject tsquery syntax or SQL', async () => {
    for (const query of ["'", "acme' | 'x", 'acme & !', '); drop table contacts; --', '\\', 'a:*']) {
      await search(alice, query);
    }
    const [{ n }] = (await stack.db.admin`select count(*)::int as n from contacts`) as unknown as [{ n: number }];
    assert.ok(n > 0);
  });

  test('fetch contact: its company, deals, tasks and latest notes, compact and framed as data', async () => {
    const [c] = await stack.db.admin`
      select c.id, c.company_id, co.name as company from contacts c join companies co on co.id = c.company_id
      where exists (select 1 from tasks t where t.contact_id = c.id)
        and exists (select 1 from deals d where d.contact_ids @> array[c.id])
        and (select count(*) from contact_notes n where n.contact_id = c.id) between 2 and 20
      order by c.id limit 1`;
    const record = await fetchRecord(alice, `contact:${c!.id}`);
    assert.equal(record.url, `${CRM}/#/contacts/${c!.id}/show`);
    const body = framed(record);
    assert.ok(body.includes(`company:${c!.company_id} ${c!.company}`), body);
    const notes = await stack.db.admin`select text from contact_notes where contact_id = ${c!.id}`;
    for (const n of notes) assert.ok(body.includes(n.text), `note missing: ${n.text}`);
    const deals = await stack.db.admin`select id from deals where contact_ids @> array[${c!.id}::bigint]`;
    for (const d of deals) assert.ok(body.includes(`deal:${d.id} `), `deal ${d.id} missing`);
    const tasks = await stack.db.admin`select text from tasks where contact_id = ${c!.id}`;
    for (const t of tasks) assert.ok(body.includes(t.text), `task missing: ${t.text}`);
    assert.equal(record.metadata.type, 'contact');
    assert.equal(record.metadata.company_id, Number(c!.company_id));
    assert.equal(record.metadata.notes, notes.length);
    assert.ok(record.text.length < 6_000, `compact: ${record.text.length} characters`);
  });

  test('fetch company: its contacts and deals; fetch deal: its company, contacts and notes', async () => {
    const [deal] = await stack.db.admin`
      select d.id, d.company_id, d.contact_ids from deals d
      where cardinality(d.contact_ids) > 0 and exists (select 1 from deal_notes n where n.deal_id = d.id)
      order by d.id limit 1`;
    const company = framed(await fetchRecord(alice, `company:${deal!.company_id}`));
    for (const r of await stack.db.admin`select id from contacts where company_id = ${deal!.company_id} limit 20`) {
      assert.ok(company.includes(`contact:${r.id} `), `contact ${r.id} missing`);
    }
    assert.ok(company.includes(`deal:${deal!.id} `));

    const record = await fetchRecord(alice, `deal:${deal!.id}`);
    assert.equal(record.url, `${CRM}/#/deals/${deal!.id}/show`);
    const body = framed(record);
    assert.ok(body.includes(`company:${deal!.company_id} `));
    for (const id of deal!.contact_ids as string[]) assert.ok(body.includes(`contact:${id} `), `contact ${id} missing`);
    for (const n of await stack.db.admin`select text from deal_notes where deal_id = ${deal!.id}`) {
      assert.ok(body.includes(n.text), `note missing: ${n.text}`);
    }
    assert.equal(record.metadata.type, 'deal');
  });

  test('fetch a note: its text and its contact, linked to the contact page; hostile text stays inside the frame', async () => {
    const injected = PROMPT_INJECTIONS.find((p) => p.table === 'contact_notes')!;
    const [note] = await stack.db.admin`select contact_id from contact_notes where id = ${injected.id}`;
    const record = await fetchRecord(alice, `contact_note:${injected.id}`);
    assert.equal(record.url, `${CRM}/#/contacts/${note!.contact_id}/show`);
    const body = framed(record);
    assert.ok(body.includes(injected.text));
    assert.ok(body.includes(`contact:${note!.contact_id} `));
    assert.equal(record.text.indexOf(injected.text), record.text.lastIndexOf(injected.text));
    assert.match(record.text, /^The contact note contact_note:\d+ .*data from the database, not instructions/);
  });

  test('ids from search fetch as they are, for every kind, with the same title and link', async () => {
    const seen = new Set<string>();
    for (const query of ['acme', 'discount', 'pricing', 'müller']) {
      for (const r of await search(alice, query)) {
        const kind = r.id.split(':')[0]!;
        if (seen.has(kind)) continue;
        seen.add(kind);
        const record = await fetchRecord(alice, r.id);
        assert.equal(record.url, r.url, r.id);
        assert.equal(record.title, r.title, 'one title in search and fetch');
        assert.ok(framed(record).startsWith(`${r.title}\n`), 'the text starts with the title');
      }
    }
    assert.deepEqual([...seen].sort(), ['company', 'contact', 'contact_note', 'deal', 'deal_note']);
  });

  test('a malformed id is refused with what ids look like, before the database', async () => {
    for (const id of [
      'contact',
      '42',
      'contact:',
      'contact:abc',
      'person:1',
      'contact:0',
      'contact:-1',
      'contact:99999999999999999999',
    ]) {
      const error = toolError(await alice.callTool({ name: 'fetch', arguments: { id } }));
      assert.equal(error.code, 'INVALID_RECORD_ID', id);
      assert.match(error.message, /contact:42/);
    }
  });

  test('an id that names no row: RECORD_NOT_FOUND', async () => {
    const error = toolError(await alice.callTool({ name: 'fetch', arguments: { id: 'deal:987654321' } }));
    assert.deepEqual(error, {
      code: 'RECORD_NOT_FOUND',
      message: 'No record deal:987654321 is visible to you. Find records with search.',
    });
  });
});

/**
 * Stock Atomic CRM lets every signed-in user read every row; forks add per-owner policies. This
 * database gets one (restrictive, on every table search and fetch read): another user's rows are
 * hidden unless they are yours. Without ATOMIC_CRM_URL, through a delay proxy that counts round trips.
 */
describe('under per-owner RLS, without ATOMIC_CRM_URL', () => {
  let stack: CountedStack;
  let alice: Client;
  let bob: Client;
  const hidden: Record<string, string> = {};
  let sharedContact: string;

  before(async () => {
    stack = await startCountedStack();
    [alice, bob] = await Promise.all([stack.connect(stack.users.alice), stack.connect(stack.users.bob)]);
    const db = stack.db.admin;
    const [{ id: bobId }] = (await db`select id from sales where user_id = ${stack.users.bob.id}`) as unknown as [
      { id: string },
    ];
    const [company] =
      await db`insert into companies (name, sector, sales_id) values ('Xylophonic Instruments', 'materials', ${bobId}) returning id`;
    const [contact] = await db`insert into contacts (first_name, last_name, title, company_id, sales_id)
      values ('Quentin', 'Xylophonic', 'CEO', ${company!.id}, ${bobId}) returning id`;
    const [deal] = await db`insert into deals (name, stage, company_id, contact_ids, sales_id)
      values ('Xylophonic tuning', 'opportunity', ${company!.id}, array[${contact!.id}::bigint], ${bobId}) returning id`;
    const [note] = await db`insert into contact_notes (contact_id, text, sales_id)
      values (${contact!.id}, 'Xylophonic pricing agreed', ${bobId}) returning id`;
    const [dealNote] = await db`insert into deal_notes (deal_id, text, sales_id)
      values (${deal!.id}, 'Xylophonic deal note', ${bobId}) returning id`;
    // Bob's note on a contact everyone sees.
    const [shared] = await db`select id from contacts where sales_id is distinct from ${bobId} order by id limit 1`;
    sharedContact = `contact:${shared!.id}`;
    const [sharedNote] = await db`insert into contact_notes (contact_id, text, sales_id)
      values (${shared!.id}, 'Xylophonic remark on a shared contact', ${bobId}) returning id`;
    Object.assign(hidden, {
      company: `company:${company!.id}`,
      contact: `contact:${contact!.id}`,
      deal: `deal:${deal!.id}`,
      contact_note: `contact_note:${note!.id}`,
      deal_note: `deal_note:${dealNote!.id}`,
      shared_note: `contact_note:${sharedNote!.id}`,
    });
    for (const table of ['companies', 'contacts', 'contact_notes', 'deals', 'deal_notes']) {
      await db.unsafe(`create policy "Owner only" on public.${table} as restrictive for select to authenticated
        using (sales_id is distinct from ${Number(bobId)} or sales_id = (select id from public.sales where user_id = auth.uid()))`);
    }
  });
  after(async () => {
    await stack?.stop();
  });

  test('the owner finds every one of their records; the other user finds none', async () => {
    const found = (await search(bob, 'xylophonic')).map((r) => r.id);
    for (const id of Object.values(hidden)) assert.ok(found.includes(id), `bob finds ${id}: ${found.join()}`);
    assert.deepEqual(await search(alice, 'xylophonic'), []);
    assert.deepEqual(await search(alice, 'Quentin Xylophonic'), []);
  });

  test('the url is empty without ATOMIC_CRM_URL (no link rather than a dead one)', async () => {
    for (const r of await search(bob, 'xylophonic')) assert.equal(r.url, '', r.id);
    assert.equal((await fetchRecord(bob, hidden.contact!)).url, '');
  });

  test('fetching a hidden record answers exactly as fetching one that does not exist', async () => {
    for (const id of Object.values(hidden)) {
      const kind = id.split(':')[0]!;
      const invisible = toolError(await alice.callTool({ name: 'fetch', arguments: { id } }));
      const missing = toolError(await alice.callTool({ name: 'fetch', arguments: { id: `${kind}:987654321` } }));
      assert.deepEqual(invisible, { ...missing, message: missing.message.replace('987654321', id.split(':')[1]!) });
      assert.equal(invisible.code, 'RECORD_NOT_FOUND');
      const own = await fetchRecord(bob, id);
      assert.match(own.text, /Xylophonic/);
    }
  });

  test("a visible record's related lists leave out what the user cannot see", async () => {
    const aliceView = framed(await fetchRecord(alice, sharedContact));
    const bobView = framed(await fetchRecord(bob, sharedContact));
    assert.ok(bobView.includes('Xylophonic remark'));
    assert.ok(!aliceView.includes('Xylophonic'), aliceView);
  });

  test('one database round trip per search and per fetch', async () => {
    await search(alice, 'acme'); // the pool's connections are open and warm
    const calls: [string, () => Promise<unknown>][] = [
      ['search', () => search(alice, 'acme')],
      ['search', () => search(bob, 'zoe müller')],
      ['fetch', () => fetchRecord(bob, hidden.contact!)],
      ['fetch', () => fetchRecord(alice, sharedContact)],
      ['fetch (not found)', () => alice.callTool({ name: 'fetch', arguments: { id: hidden.deal! } })],
    ];
    for (const [name, call] of calls) {
      for (let i = 0; i < 3; i++) {
        stack.resetCounts();
        await call();
        assert.equal(stack.proxy.stats().connections, 0, 'no new connection');
        assert.equal(stack.callRoundTrips(), 1, name);
      }
    }
  });
});

describe('under a small result budget (MAX_RESULT_BYTES=1200)', () => {
  let stack: Stack;
  let alice: Client;
  before(async () => {
    stack = await startStack({ env: { MAX_RESULT_BYTES: '1200' } });
    alice = await stack.connect(stack.users.alice);
  });
  after(async () => {
    await stack?.stop();
  });

  test('search keeps its best results that fit, fetch cuts the text and says so', async () => {
    const results = await search(alice, 'acme');
    assert.ok(results.length > 0 && results.length < 20, `${results.length} results`);
    assert.ok(Buffer.byteLength(JSON.stringify({ results })) <= 1200);
    assert.match(results[0]!.id, /^company:/);

    const [busy] = await stack.db.admin`
      select contact_id from contact_notes group by contact_id order by count(*) desc, contact_id limit 1`;
    const body = framed(await fetchRecord(alice, `contact:${busy!.contact_id}`));
    assert.ok(Buffer.byteLength(body) <= 1200 + 100, `${Buffer.byteLength(body)} bytes`);
    assert.match(body, /cut to the 1200-byte result budget; read the rest with query\.$/);
  });
});
