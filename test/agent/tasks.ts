/**
 * The scripted agent suite: realistic requests a CRM user makes of an agent, each written down as
 * the tool calls a careful agent makes (no LLM), the answer it should reach and the state the
 * database should be left in. test/agent/agent.ts plays them; suite.test.ts runs them in `npm test`.
 *
 * - `steps`: tool calls in order. A string argument `'{{name.column}}'` is the value a previous
 *   step saved (`save: 'name'` keeps its first row); inside a longer string it is interpolated.
 *   `{{today+N}}` is the ISO date N days from today (UTC), as an agent computes it.
 * - `without`: the calls an agent makes when the server lacks the step's tool (an older server):
 *   the SQL it would write through `mutate` instead.
 * - `answer`: a query whose rows the agent's last answer must equal, in order, on the query's
 *   columns (a statement's rows, search's results, or another tool's structured answer as one row).
 * - `state`: queries returning the rows expected afterwards (usually booleans that must be true).
 * Every check runs through the server's `query` tool as the same user, so RLS applies to it too.
 * `me` in SQL is the signed-in user's sales id.
 *
 * Tasks in one run share a database, so each writes rows no other task reads or writes.
 */
export type Role = 'member' | 'admin';

export interface Step {
  tool: string;
  args: Record<string, unknown>;
  save?: string;
  without?: Step[];
}

export interface StateCheck {
  sql: string;
  rows: Record<string, unknown>[];
}

export interface AgentTask {
  id: string;
  /** What the user asked, in their words. */
  request: string;
  /** Who runs it (default: both). */
  roles?: readonly Role[];
  steps: Step[];
  answer?: string;
  state?: StateCheck[];
}

const ME = '(select id from sales where user_id = auth.uid())';
const me = (sql: string) => sql.replaceAll('me()', ME);
const OPEN_DEAL = "archived_at is null and stage not in ('won', 'lost')";
const query = (sql: string, save?: string): Step => ({
  tool: 'query',
  args: { sql: me(sql) },
  ...(save ? { save } : {}),
});
const mutate = (sql: string, save?: string): Step => ({
  tool: 'mutate',
  args: { sql: me(sql) },
  ...(save ? { save } : {}),
});
const isTrue = (sql: string): StateCheck => ({ sql, rows: [{ ok: true }] });
/** Written within the last ten minutes: "now" as the web app stamps it. */
const recent = (column: string) => `${column} > now() - interval '10 minutes'`;

const WRITTEN: AgentTask[] = [
  // ---- Reads ------------------------------------------------------------------------------------
  {
    id: 'pipeline-by-stage',
    request: 'How many active deals are in each stage, and what are they worth?',
    steps: [
      query(
        'select stage, count(*)::int as deals, sum(amount)::bigint as amount from deals where archived_at is null group by stage order by stage',
      ),
    ],
    answer:
      'select d.stage, count(*)::int as deals, sum(d.amount)::bigint as amount from deals d where d.archived_at is null group by 1 order by 1',
  },
  {
    id: 'deals-in-negotiation',
    request: 'Which deals are in negotiation right now?',
    // The natural spelling; Atomic CRM's slug is in-negociation.
    steps: [
      query(
        "select id, name, amount from deals where stage = 'negotiation' and archived_at is null order by amount desc, id",
      ),
    ],
    answer:
      "select id, name, amount from deals where stage = 'in-negociation' and archived_at is null order by amount desc, id",
  },
  {
    id: 'revenue-at-least-50m',
    request: 'Which companies make $50M or more a year?',
    // companies.revenue is free text ("$5M", "$1B"): a careful agent converts it before comparing.
    steps: [
      query(
        "select id, name, revenue from companies where (regexp_replace(revenue, '[^0-9.]', '', 'g'))::numeric * case right(revenue, 1) when 'B' then 1000000000 when 'M' then 1000000 when 'K' then 1000 else 1 end >= 50000000 order by name",
      ),
    ],
    answer: "select id, name, revenue from companies where revenue in ('$50M', '$100M', '$1B') order by name",
  },
  {
    id: 'contacts-at-acme-partners',
    request: 'Who do we know at Acme Partners?',
    steps: [
      query(
        "select c.id, c.first_name, c.last_name, c.title, c.status from contacts c join companies co on co.id = c.company_id where co.name ilike 'acme partners%' order by c.last_name, c.first_name",
      ),
    ],
    answer:
      'select id, first_name, last_name, title, status from contacts where company_id = 4 order by last_name, first_name',
  },
  {
    id: 'my-tasks-this-week',
    request: 'What is on my plate for the next seven days?',
    steps: [
      query(
        "select t.id, t.type, t.text, t.due_date from tasks t where t.sales_id = me() and t.done_date is null and t.due_date < now() + interval '7 days' and t.due_date >= now() order by t.due_date, t.id",
      ),
    ],
    answer:
      "select id, type, text, due_date from tasks where sales_id = me() and done_date is null and due_date between now() and now() + interval '7 days' order by due_date, id",
  },
  {
    id: 'my-overdue-tasks',
    request: 'How many of my tasks are overdue?',
    steps: [
      query(
        'select count(*)::int as overdue from tasks where sales_id = me() and done_date is null and due_date < now()',
      ),
    ],
    answer:
      'select count(*)::int as overdue from tasks t join sales s on s.id = t.sales_id where s.user_id = auth.uid() and t.done_date is null and t.due_date < now()',
  },
  {
    id: 'hot-contacts-without-task',
    request: 'Which hot contacts have nothing planned?',
    steps: [
      query(
        "select c.id, c.first_name, c.last_name from contacts c where c.status = 'hot' and not exists (select 1 from tasks t where t.contact_id = c.id and t.done_date is null) order by c.id",
      ),
    ],
    answer:
      "select id, first_name, last_name from contacts where status = 'hot' and id not in (select contact_id from tasks where done_date is null and contact_id is not null) order by id",
  },
  {
    id: 'won-this-year',
    request: 'How much have we won this year?',
    steps: [
      query(
        "select count(*)::int as deals, coalesce(sum(amount), 0)::bigint as amount from deals where stage = 'won' and updated_at >= date_trunc('year', now())",
      ),
    ],
    answer:
      "select count(*)::int as deals, coalesce(sum(amount), 0)::bigint as amount from deals where stage = 'won' and extract(year from updated_at) = extract(year from now())",
  },
  {
    id: 'contact-by-email',
    request: 'Who is elias.robert@acme-partners.example?',
    steps: [
      query(
        'select c.id, c.first_name, c.last_name, c.title, co.name as company from contacts c left join companies co on co.id = c.company_id where c.email_jsonb @> \'[{"email":"elias.robert@acme-partners.example"}]\'',
      ),
    ],
    answer:
      'select c.id, c.first_name, c.last_name, c.title, co.name as company from contacts c left join companies co on co.id = c.company_id where c.id = 142',
  },
  {
    id: 'my-private-notes',
    request: 'Show me my private notes.',
    // RLS: each user sees their own three only.
    steps: [query('select text from private_notes order by created_at desc')],
    answer: 'select text from private_notes where sales_id = me() order by created_at desc',
    state: [
      isTrue(
        "select count(*) = 3 and bool_and(text like (select first_name from sales where id = me()) || ': %') as ok from private_notes",
      ),
    ],
  },
  {
    id: 'latest-notes-on-contact',
    request: 'What were the last three things we noted about Omar Murphy at Acme Partners?',
    steps: [
      query(
        "select n.date, n.status, n.text from contact_notes n join contacts c on c.id = n.contact_id where c.first_name = 'Omar' and c.last_name = 'Murphy' and c.company_id = 4 order by n.date desc limit 3",
      ),
    ],
    answer: 'select date, status, text from contact_notes where contact_id = 4 order by date desc limit 3',
  },
  {
    id: 'everything-on-acme-media-contacts',
    request: 'Give me everything we have on the people at Acme Media.',
    // A wide select *: what the compact table saves shows here.
    steps: [query('select * from contacts where company_id = 45 order by id')],
    answer: 'select * from contacts where company_id = 45 order by id',
  },
  {
    id: 'closing-next-quarter',
    request: 'Which open deals are expected to close in the next 90 days?',
    steps: [
      query(
        `select id, name, expected_closing_date, amount from deals where ${OPEN_DEAL} and expected_closing_date between current_date and current_date + 90 order by expected_closing_date, id`,
      ),
    ],
    answer: `select id, name, expected_closing_date, amount from deals where ${OPEN_DEAL} and expected_closing_date >= current_date and expected_closing_date <= current_date + interval '90 days' order by 3, 1`,
  },
  {
    id: 'companies-without-deals',
    request: 'Which companies have no deal at all?',
    steps: [
      query(
        'select co.id, co.name from companies co left join deals d on d.company_id = co.id where d.id is null order by co.name',
      ),
    ],
    answer:
      'select id, name from companies where id not in (select company_id from deals where company_id is not null) order by name',
  },
  {
    id: 'vip-contacts',
    request: 'List our VIP contacts.',
    steps: [
      query(
        "select c.id, c.first_name, c.last_name from contacts c join tags t on t.id = any(c.tags) where t.name = 'vip' order by c.id",
      ),
    ],
    answer:
      "select id, first_name, last_name from contacts where tags @> array[(select id from tags where name = 'vip')] order by id",
  },
  {
    id: 'pipeline-per-owner',
    request: 'How is the open pipeline split between salespeople?',
    steps: [
      query(
        `select s.first_name || ' ' || s.last_name as owner, count(d.id)::int as deals, sum(d.amount)::bigint as amount from deals d join sales s on s.id = d.sales_id where d.${OPEN_DEAL.replace(' and ', ' and d.')} group by 1 order by 3 desc, 1`,
      ),
    ],
    answer: `select (select first_name || ' ' || last_name from sales where id = d.sales_id) as owner, count(*)::int as deals, sum(amount)::bigint as amount from deals d where sales_id is not null and ${OPEN_DEAL} group by d.sales_id order by 3 desc, 1`,
  },
  {
    id: 'stalled-deals',
    request: 'Which open deals have stalled (no change for 30 days)?',
    steps: [
      query(
        `select id, name, stage, updated_at from deals where ${OPEN_DEAL} and updated_at < now() - interval '30 days' order by updated_at, id`,
      ),
    ],
    answer: `select id, name, stage, updated_at from deals where ${OPEN_DEAL} and age(now(), updated_at) > interval '30 days' order by 4, 1`,
  },

  {
    id: 'hot-contacts-at-acme-media',
    request: 'Who is Hot at Acme Media?',
    // Spelled as the user said it; the slug is hot.
    steps: [
      query("select id, first_name, last_name from contacts where company_id = 45 and status = 'Hot' order by id"),
    ],
    answer: "select id, first_name, last_name from contacts where company_id = 45 and status = 'hot' order by id",
  },
  {
    id: 'find-acme-robotics',
    request: 'Tell me about Acme Robotics.',
    steps: [
      {
        tool: 'search',
        args: { query: 'Acme Robotics' },
        save: 'hit',
        without: [
          query(
            "select 'company:' || id as id, name as title from companies where name ilike '%acme robotics%' order by name",
            'hit',
          ),
        ],
      },
      {
        tool: 'fetch',
        args: { id: '{{hit.id}}' },
        without: [
          query(
            "select 'company:' || co.id as id, co.name as title, co.sector, co.revenue, (select json_agg(json_build_object('name', c.first_name || ' ' || c.last_name, 'title', c.title, 'status', c.status)) from contacts c where c.company_id = co.id) as contacts, (select json_agg(json_build_object('name', d.name, 'stage', d.stage, 'amount', d.amount)) from deals d where d.company_id = co.id) as deals from companies co where 'company:' || co.id = '{{hit.id}}'",
          ),
        ],
      },
    ],
    answer: "select 'company:39' as id",
  },
  {
    id: 'find-contact-by-name',
    request: 'What do we know about Siobhán Park?',
    steps: [
      {
        tool: 'search',
        args: { query: 'Siobhán Park' },
        save: 'hit',
        without: [
          query(
            "select 'contact:' || id as id, first_name || ' ' || last_name as title from contacts where first_name || ' ' || last_name ilike '%siobhán park%' order by id",
            'hit',
          ),
        ],
      },
      {
        tool: 'fetch',
        args: { id: '{{hit.id}}' },
        without: [
          query(
            "select 'contact:' || c.id as id, c.first_name || ' ' || c.last_name as title, c.title as job, c.status, co.name as company, (select json_agg(json_build_object('date', n.date, 'text', n.text) order by n.date desc) from contact_notes n where n.contact_id = c.id) as notes, (select json_agg(json_build_object('due', t.due_date, 'text', t.text)) from tasks t where t.contact_id = c.id and t.done_date is null) as tasks from contacts c left join companies co on co.id = c.company_id where 'contact:' || c.id = '{{hit.id}}'",
          ),
        ],
      },
    ],
    answer: "select 'contact:312' as id",
  },

  // ---- Writes -----------------------------------------------------------------------------------
  {
    id: 'note-makes-contact-warm',
    request: 'Log my call with Omar Murphy (Acme Partners): he is interested again, mark him warm.',
    steps: [
      query(
        "select id, status from contacts where first_name = 'Omar' and last_name = 'Murphy' and company_id = 4",
        'contact',
      ),
      {
        tool: 'log_contact_note',
        args: {
          contact_id: '{{contact.id}}',
          text: 'Call: interested again, wants a demo next month.',
          status: 'warm',
        },
        without: [
          mutate(
            "insert into contact_notes (contact_id, text, status, date) values ({{contact.id}}, 'Call: interested again, wants a demo next month.', 'warm', now()) returning id",
          ),
        ],
      },
    ],
    state: [
      isTrue(
        `select bool_and(n.status = 'warm' and n.sales_id = me() and ${recent('n.date')}) and count(*) = 1 as ok from contact_notes n where n.contact_id = 4 and n.text like 'Call: interested again%'`,
      ),
      // The web app copies the latest note's status to the contact and stamps last_seen.
      isTrue(`select status = 'warm' and ${recent('last_seen')} as ok from contacts where id = 4`),
    ],
  },
  {
    id: 'acme-note-and-follow-up',
    request: 'Note that Elijah Schneider at Acme Robotics asked for a quote, and remind me to follow up in a week.',
    steps: [
      query(
        "select c.id from contacts c join companies co on co.id = c.company_id where co.name ilike 'acme robotics%' and c.first_name = 'Elijah' and c.last_name = 'Schneider'",
        'contact',
      ),
      {
        tool: 'log_contact_note',
        args: { contact_id: '{{contact.id}}', text: 'Asked for a quote for the spring campaign.' },
        without: [
          mutate(
            "insert into contact_notes (contact_id, text, date) values ({{contact.id}}, 'Asked for a quote for the spring campaign.', now())",
          ),
        ],
      },
      {
        tool: 'create_task',
        args: {
          contact_id: '{{contact.id}}',
          text: 'Follow up on the spring campaign quote',
          type: 'follow-up',
          due_date: '{{today+7}}',
        },
        without: [
          mutate(
            "insert into tasks (contact_id, text, type, due_date) values ({{contact.id}}, 'Follow up on the spring campaign quote', 'follow-up', '{{today+7}}')",
          ),
        ],
      },
    ],
    state: [
      // The note keeps the contact's status (hot): the app's note form defaults to it.
      isTrue(
        `select count(*) = 1 and bool_and(n.sales_id = me() and n.status = 'hot') as ok from contact_notes n where n.contact_id = 39 and n.text = 'Asked for a quote for the spring campaign.'`,
      ),
      isTrue(
        "select count(*) = 1 and bool_and(sales_id = me() and done_date is null and due_date::date = current_date + 7) as ok from tasks where contact_id = 39 and type = 'follow-up' and text = 'Follow up on the spring campaign quote'",
      ),
      isTrue(`select status = 'hot' and ${recent('last_seen')} as ok from contacts where id = 39`),
    ],
  },
  {
    id: 'call-task-loose-type',
    request: 'Remind me to Call Elias Robert at Acme Media tomorrow.',
    // "Call" as typed; the task type slug is call.
    steps: [
      {
        tool: 'create_task',
        args: { contact_id: 258, text: 'Call about the renewal', type: 'Call', due_date: '{{today+1}}' },
        without: [
          mutate(
            "insert into tasks (contact_id, text, type, due_date) values (258, 'Call about the renewal', 'Call', '{{today+1}}')",
          ),
        ],
      },
    ],
    state: [
      isTrue(
        "select count(*) = 1 and bool_and(type = 'call' and sales_id = me() and due_date::date = current_date + 1) as ok from tasks where contact_id = 258",
      ),
    ],
  },
  {
    id: 'move-deal-to-negotiation',
    request: 'Deal 16 (Brand refresh, Umbra Health) is now in negotiation.',
    // The natural spelling in SQL: the server must refuse it and name in-negociation.
    steps: [mutate("update deals set stage = 'in-negotiation' where id = 16 returning id, stage")],
    state: [isTrue("select stage = 'in-negociation' as ok from deals where id = 16")],
  },
  {
    id: 'move-deal-to-won',
    request: 'We won deal 9 (Intranet revamp, Pioneer Health): move it to won.',
    steps: [
      {
        tool: 'move_deal',
        args: { deal_id: 9, stage: 'won' },
        without: [mutate("update deals set stage = 'won' where id = 9 returning id, stage")],
      },
    ],
    state: [
      isTrue(`select stage = 'won' and ${recent('updated_at')} as ok from deals where id = 9`),
      // The board orders a column by index: no two visible cards may share one.
      isTrue("select count(*) = count(distinct index) as ok from deals where stage = 'won' and archived_at is null"),
    ],
  },
  {
    id: 'moved-deal-is-not-stalled',
    request:
      'Deal 19 (Brand refresh, Riverside Logistics) got a reply: move it to proposal-sent. Then: which deals stalled?',
    steps: [
      {
        tool: 'move_deal',
        args: { deal_id: 19, stage: 'proposal-sent' },
        without: [mutate("update deals set stage = 'proposal-sent' where id = 19 returning id, stage")],
      },
      query(`select id, name from deals where ${OPEN_DEAL} and updated_at < now() - interval '30 days' order by id`),
    ],
    // Deal 19 was untouched since April; after the move it is anything but stalled.
    answer: `select id, name from deals where ${OPEN_DEAL} and updated_at < now() - interval '30 days' and id <> 19 order by id`,
    state: [isTrue(`select stage = 'proposal-sent' and ${recent('updated_at')} as ok from deals where id = 19`)],
  },
  {
    id: 'complete-task',
    request: 'I sent the thank-you note: mark task 12 done.',
    steps: [
      {
        tool: 'complete_task',
        args: { task_id: 12 },
        without: [mutate('update tasks set done_date = now() where id = 12 returning id, done_date')],
      },
    ],
    state: [isTrue(`select ${recent('done_date')} as ok from tasks where id = 12`)],
  },
  {
    id: 'postpone-task',
    request: 'Push task 10 (the lunch) to tomorrow.',
    steps: [
      {
        tool: 'postpone_task',
        args: { task_id: 10, until: 'tomorrow' },
        without: [mutate('update tasks set due_date = current_date + 1 where id = 10 returning id, due_date')],
      },
    ],
    state: [isTrue('select due_date::date = current_date + 1 and done_date is null as ok from tasks where id = 10')],
  },
  {
    id: 'archive-lost-deal',
    request: 'Archive deal 10 (Packaging design, Juniper Capital): it is lost for good.',
    steps: [
      {
        tool: 'archive_deal',
        args: { deal_id: 10 },
        without: [mutate('update deals set archived_at = now() where id = 10 returning id, archived_at')],
      },
    ],
    state: [isTrue(`select ${recent('archived_at')} and stage = 'lost' as ok from deals where id = 10`)],
  },
  {
    id: 'deal-note',
    request: 'On deal 8 (Acme Partners product launch copy), note that legal is reviewing the contract.',
    steps: [
      {
        tool: 'log_deal_note',
        args: { deal_id: 8, text: 'Legal is reviewing the contract.' },
        without: [
          mutate("insert into deal_notes (deal_id, text, date) values (8, 'Legal is reviewing the contract.', now())"),
        ],
      },
    ],
    state: [
      isTrue(
        `select count(*) = 1 and bool_and(sales_id = me() and ${recent('date')}) as ok from deal_notes where deal_id = 8 and text = 'Legal is reviewing the contract.'`,
      ),
    ],
  },
  {
    id: 'create-contact',
    request: 'Add Grace Hopper, CTO at Acme Capital, grace.hopper@acme-capital.example.',
    steps: [
      query("select id from companies where name ilike 'acme capital%'", 'company'),
      {
        tool: 'create_contact',
        args: {
          first_name: 'Grace',
          last_name: 'Hopper',
          title: 'CTO',
          company_id: '{{company.id}}',
          email: 'Grace.Hopper@acme-capital.example',
        },
        without: [
          mutate(
            'insert into contacts (first_name, last_name, title, company_id, email_jsonb) values (\'Grace\', \'Hopper\', \'CTO\', {{company.id}}, \'[{"email":"Grace.Hopper@acme-capital.example","type":"Work"}]\') returning id',
          ),
        ],
      },
    ],
    state: [
      // As the web app's contact form saves it: owner, first and last seen now, no tags; the
      // database lower-cases the address.
      isTrue(
        `select count(*) = 1 and bool_and(sales_id = me() and ${recent('first_seen')} and ${recent('last_seen')} and coalesce(tags, '{}') = '{}' and email_jsonb @> '[{"email":"grace.hopper@acme-capital.example"}]') as ok from contacts where first_name = 'Grace' and last_name = 'Hopper' and company_id = 42`,
      ),
    ],
  },
  {
    id: 'update-contact-title',
    request: 'Emma Johansson at Acme Capital is now Head of Marketing.',
    steps: [
      query(
        "select id from contacts where first_name = 'Emma' and last_name = 'Johansson' and company_id = 42",
        'contact',
      ),
      mutate("update contacts set title = 'Head of Marketing' where id = {{contact.id}} returning id, title"),
    ],
    state: [isTrue("select title = 'Head of Marketing' as ok from contacts where id = 42")],
  },
  {
    id: 'new-deal-loose-category',
    request: 'Open a $12,000 website design deal with Acme Media.',
    // "website design" is how people say it; the slug is website-design.
    steps: [
      mutate(
        "insert into deals (name, company_id, stage, category, amount) values ('Website redesign – Acme Media Inc.', 45, 'opportunity', 'website design', 12000) returning id",
      ),
    ],
    state: [
      isTrue(
        "select count(*) = 1 and bool_and(category = 'website-design' and stage = 'opportunity' and sales_id = me()) as ok from deals where name = 'Website redesign – Acme Media Inc.'",
      ),
    ],
  },
  {
    id: 'delete-old-done-tasks',
    request: 'Clean up: delete my tasks that were done more than 45 days ago.',
    // Deleting is held for the user's consent; they agree, and the agent repeats it with the count.
    steps: [mutate("delete from tasks where sales_id = me() and done_date < now() - interval '45 days' returning id")],
    state: [
      isTrue("select count(*) = 0 as ok from tasks where sales_id = me() and done_date < now() - interval '45 days'"),
    ],
  },
  {
    id: 'rename-crm-as-admin',
    request: 'Rename our CRM to "Acme CRM".',
    roles: ['admin'],
    steps: [
      mutate(
        "update configuration set config = jsonb_set(config, '{title}', '\"Acme CRM\"') where id = 1 returning id",
      ),
    ],
    state: [{ sql: "select config->>'title' as title from configuration", rows: [{ title: 'Acme CRM' }] }],
  },
  {
    id: 'rename-crm-as-member',
    request: 'Rename our CRM to "Acme CRM".',
    // Only an administrator may change the configuration: RLS leaves it as it was.
    roles: ['member'],
    steps: [
      mutate(
        "update configuration set config = jsonb_set(config, '{title}', '\"Acme CRM\"') where id = 1 returning id",
      ),
    ],
    answer: 'select 1 as id where false',
    state: [{ sql: "select config->>'title' as title from configuration", rows: [{ title: 'Acme Demo CRM' }] }],
  },
];

/** `me()` in every answer and state query too. */
export const TASKS: readonly AgentTask[] = WRITTEN.map((task) => ({
  ...task,
  ...(task.answer ? { answer: me(task.answer) } : {}),
  ...(task.state ? { state: task.state.map((check) => ({ ...check, sql: me(check.sql) })) } : {}),
}));
