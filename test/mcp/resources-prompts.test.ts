/**
 * Resources, prompts and completion over real HTTP, from both protocol eras' SDK clients: listed,
 * read and fetched as the signed-in user; completion offers only the names RLS lets that user see;
 * a prompt's bad arguments are refused with a sentence saying what to send instead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectModern, type Stack, startStack } from '../support/stack.js';

let stack: Stack;
let aliceToken: string;
before(async () => {
  stack = await startStack();
  aliceToken = await stack.token(stack.users.alice);
  // A fork-style restrictive policy: the "Quixote" contacts are visible to their owner only, so
  // completion must show alice hers and bob his. A table nobody was granted must not complete.
  await stack.db.admin.unsafe(`
    insert into public.contacts (first_name, last_name, sales_id) values
      ('Alonso', 'Quixote-Alice', (select id from public.sales where email = '${stack.users.alice.email}')),
      ('Sancho', 'Quixote-Bob', (select id from public.sales where email = '${stack.users.bob.email}'));
    create policy "Quixotes are their owner's" on public.contacts as restrictive for select to authenticated
      using (last_name not like 'Quixote%' or sales_id = (select id from public.sales where user_id = auth.uid()));
    create table public.staff_salaries (id bigint primary key, amount bigint);
    revoke all on public.staff_salaries from public, anon, authenticated;
  `);
});
after(async () => {
  await stack?.stop();
});

type AnyClient = Awaited<ReturnType<typeof connectModern>> | Awaited<ReturnType<Stack['connect']>>;

const ERAS: [string, () => Promise<AnyClient>][] = [
  ['2026-07-28 (v2 SDK client)', () => connectModern(stack.url, aliceToken)],
  ['2025-11-25 (1.32 SDK client)', () => stack.connect(stack.users.alice)],
];

const PROMPT_NAMES = ['log_call', 'meeting_prep', 'pipeline_review', 'stalled_deals', 'weekly_follow_ups'];

const firstText = (contents: { text?: unknown; blob?: unknown }[]) => {
  const [first] = contents;
  assert.ok(first && typeof first.text === 'string', JSON.stringify(contents).slice(0, 300));
  return first.text;
};

for (const [era, connect] of ERAS) {
  describe(`a ${era}`, () => {
    let client: AnyClient;
    before(async () => {
      client = await connect();
    });
    after(async () => {
      await client?.close();
    });

    test('sees resources, a template, prompts and completion advertised, none of them announcing changes', () => {
      const capabilities = client.getServerCapabilities();
      assert.deepEqual(capabilities?.resources, { listChanged: false, subscribe: false });
      assert.deepEqual(capabilities?.prompts, { listChanged: false });
      assert.deepEqual(capabilities?.completions, {});
      assert.match(client.getInstructions() ?? '', /crm:\/\/schema/);
    });

    test("lists the schema and configuration resources (beside the apps' views) and the one-table template", async () => {
      const { resources } = await client.listResources();
      assert.deepEqual(
        resources
          .filter((r) => r.uri.startsWith('crm://'))
          .map((r) => [r.uri, r.mimeType])
          .sort(),
        [
          ['crm://configuration', 'application/json'],
          ['crm://schema', 'text/plain'],
        ],
      );
      assert.deepEqual(
        resources
          .filter((r) => !r.uri.startsWith('crm://'))
          .map((r) => r.uri)
          .sort(),
        ['ui://atomic-crm/pipeline.html', 'ui://atomic-crm/record.html', 'ui://atomic-crm/tasks.html'],
      );
      const { resourceTemplates } = await client.listResourceTemplates();
      assert.deepEqual(
        resourceTemplates.map((t) => t.uriTemplate),
        ['crm://schema/{table}'],
      );
    });

    test('reads the schema overview get_schema gives, as the user', async () => {
      const { contents } = await client.readResource({ uri: 'crm://schema' });
      const overview = firstText(contents);
      const viaTool = await client.callTool({ name: 'get_schema', arguments: {} });
      assert.equal(overview, (viaTool.content as { text: string }[])[0]!.text);
      assert.match(overview, /^deals \(table, RLS on\)/m);
      assert.doesNotMatch(overview, /staff_salaries/, 'a table the user may not read stays out');
    });

    test("reads one table's detail through the template, and an unknown table is not found", async () => {
      const detail = firstText((await client.readResource({ uri: 'crm://schema/deals' })).contents);
      assert.match(detail, /^deals \(table, RLS on\)/);
      assert.match(detail, /row level security policies:/);
      await assert.rejects(client.readResource({ uri: 'crm://schema/staff_salaries' }), /not found/i);
      await assert.rejects(client.readResource({ uri: 'crm://schema/no_such_table' }), /not found/i);
    });

    test('reads the configuration in effect, with the overrides of the configuration row', async () => {
      await stack.db
        .admin`update public.configuration set config = config || '{"taskTypes": ["call", "email", "visit"]}' where id = 1`;
      try {
        // Read as bob, who has read nothing before: the server keeps each user's configuration for a
        // minute, so the override must reach a user whose cache is cold (both eras set the same one).
        const bob = await connectModern(stack.url, await stack.token(stack.users.bob));
        try {
          const { contents } = await bob.readResource({ uri: 'crm://configuration' });
          const config = JSON.parse(firstText(contents));
          assert.deepEqual(config.taskTypes, ['call', 'email', 'visit']);
          assert.ok(config.dealStages.includes('in-negociation'), 'defaults fill what the row leaves out');
        } finally {
          await bob.close();
        }
      } finally {
        await stack.db.admin`update public.configuration set config = config - 'taskTypes' where id = 1`;
      }
    });

    test('lists the five prompts with their arguments', async () => {
      const { prompts } = await client.listPrompts();
      assert.deepEqual(prompts.map((p) => p.name).sort(), PROMPT_NAMES);
      const logCall = prompts.find((p) => p.name === 'log_call')!;
      const required = (logCall.arguments ?? []).filter((a) => a.required).map((a) => a.name);
      assert.deepEqual(required.sort(), ['contact', 'summary']);
      assert.ok(
        logCall.arguments?.every((a) => a.description),
        'every argument says what it takes',
      );
    });

    test('gets a prompt whose text names the tools and the configured values to use', async () => {
      const call = await client.getPrompt({
        name: 'log_call',
        arguments: { contact: 'Alonso Quixote-Alice', summary: 'Wants a quote for 40 seats.', status: 'hot' },
      });
      const message = call.messages[0]!;
      assert.equal(message.role, 'user');
      const text = (message.content as { text: string }).text;
      assert.match(text, /log_contact_note/);
      assert.match(text, /create_task/);
      assert.match(text, /status = 'hot'/);
      assert.match(text, /Wants a quote for 40 seats\./);

      const review = await client.getPrompt({ name: 'pipeline_review', arguments: { scope: 'mine' } });
      const reviewText = (review.messages[0]!.content as { text: string }).text;
      assert.match(reviewText, /'opportunity', 'proposal-sent', 'in-negociation', 'won', 'lost', 'delayed'/);
      assert.match(reviewText, /sales_id = \(select id from sales where user_id = auth.uid\(\)\)/);
    });

    test("refuses a prompt's bad arguments with what to send instead", async () => {
      await assert.rejects(
        client.getPrompt({ name: 'meeting_prep', arguments: {} }),
        /Invalid arguments for prompt meeting_prep: .*name a contact, a company, or both/,
      );
      await assert.rejects(
        client.getPrompt({ name: 'pipeline_review', arguments: { stage: 'negotiation' } }),
        /stage 'negotiation' is not one of the configured dealStages .*did you mean 'in-negociation'\?/,
      );
      await assert.rejects(
        client.getPrompt({ name: 'stalled_deals', arguments: { days: 'a month' } }),
        /days is a whole number of days/,
      );
      await assert.rejects(
        client.getPrompt({ name: 'log_call', arguments: { contact: 'Ada', summary: 'x', due: 'next friday' } }),
        /due is a date as YYYY-MM-DD/,
      );
    });

    test('completes contact names as the user sees them (RLS), narrowed by the company chosen', async () => {
      const complete = (value: string, context?: Record<string, string>) =>
        client.complete({
          ref: { type: 'ref/prompt', name: 'meeting_prep' },
          argument: { name: 'contact', value },
          ...(context ? { context: { arguments: context } } : {}),
        });
      assert.deepEqual((await complete('quix')).completion.values, ['Alonso Quixote-Alice']);
      assert.deepEqual((await complete('Alonso Q')).completion.values, ['Alonso Quixote-Alice']);

      const [someone] = await stack.db.admin<{ first_name: string; last_name: string; company: string }[]>`
        select c.first_name, c.last_name, co.name as company from contacts c join companies co on co.id = c.company_id
        order by c.id limit 1`;
      const atCompany = (await complete(someone!.first_name.slice(0, 2), { company: someone!.company })).completion
        .values;
      assert.ok(atCompany.includes(`${someone!.first_name} ${someone!.last_name}`), atCompany.join(', '));
      const [count] = await stack.db.admin<{ outside: number }[]>`
        select count(*)::int as outside from contacts c left join companies co on co.id = c.company_id
        where (c.first_name || ' ' || c.last_name) = any(${atCompany}) and co.name is distinct from ${someone!.company}
          and not exists (select 1 from contacts c2 join companies co2 on co2.id = c2.company_id
            where co2.name = ${someone!.company} and c2.first_name = c.first_name and c2.last_name = c.last_name)`;
      assert.equal(count?.outside, 0, 'only contacts at the chosen company');
    });

    test('completes company names, configured slugs and readable table names', async () => {
      const [{ name } = { name: '' }] = await stack.db.admin<
        { name: string }[]
      >`select name from companies order by id limit 1`;
      const companies = await client.complete({
        ref: { type: 'ref/prompt', name: 'meeting_prep' },
        argument: { name: 'company', value: name.slice(0, 3) },
      });
      assert.ok(companies.completion.values.includes(name), companies.completion.values.join(', '));

      const stages = await client.complete({
        ref: { type: 'ref/prompt', name: 'stalled_deals' },
        argument: { name: 'stage', value: 'in' },
      });
      assert.deepEqual(stages.completion.values, ['in-negociation']);

      const tables = await client.complete({
        ref: { type: 'ref/resource', uri: 'crm://schema/{table}' },
        argument: { name: 'table', value: 'deal' },
      });
      assert.deepEqual(tables.completion.values, ['deal_notes', 'deals']);
      const hidden = await client.complete({
        ref: { type: 'ref/resource', uri: 'crm://schema/{table}' },
        argument: { name: 'table', value: 'staff' },
      });
      assert.deepEqual(hidden.completion.values, [], 'a table the user cannot read does not complete');
    });
  });
}

describe('completion under RLS, per user', () => {
  test("bob completes his Quixote, never alice's", async () => {
    const bob = await connectModern(stack.url, await stack.token(stack.users.bob));
    try {
      const { completion } = await bob.complete({
        ref: { type: 'ref/prompt', name: 'log_call' },
        argument: { name: 'contact', value: 'Quixote' },
      });
      assert.deepEqual(completion.values, ['Sancho Quixote-Bob']);
    } finally {
      await bob.close();
    }
  });
});

describe('2026-07-28 cache hints', () => {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const raw = async (method: string, params: Record<string, unknown> = {}) => {
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${aliceToken}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2026-07-28',
        'Mcp-Method': method,
        ...(typeof params.uri === 'string' ? { 'Mcp-Name': params.uri } : {}),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
    });
    const body = await response.json();
    assert.ok(body.result, JSON.stringify(body));
    return body.result;
  };

  test('the lists are the same for everyone: an hour, shareable', async () => {
    for (const method of ['prompts/list', 'resources/list', 'resources/templates/list']) {
      const result = await raw(method);
      assert.deepEqual([result.ttlMs, result.cacheScope], [3_600_000, 'public'], method);
    }
  });

  test("a read is the user's own view: a minute, private", async () => {
    const result = await raw('resources/read', { uri: 'crm://configuration' });
    assert.deepEqual([result.ttlMs, result.cacheScope], [60_000, 'private']);
  });

  test('server/discover advertises no listChanged for prompts or resources', async () => {
    const result = await raw('server/discover');
    assert.equal(result.capabilities.prompts.listChanged, false);
    assert.equal(result.capabilities.resources.listChanged, false);
    assert.deepEqual(result.capabilities.completions, {});
  });
});
