/**
 * `show_tasks`: the CRM's tasks, read by the server as the signed-in user (RLS decides what is
 * visible) and drawn by the Tasks app, where the user ticks them done, postpones them and opens
 * the contact. Hosts without apps get the same list as compact text.
 */
import { z } from 'zod';
import { recordUrl } from '../../crm/links.js';
import { EXTENDED } from '../../db/pool.js';
import { asUser, inlineParameters } from '../../db/run.js';
import { appToolMeta } from '../apps/ui.js';
import { untrusted } from '../results.js';
import type { ToolDefinition } from './tool.js';

const MAX_TASKS = 100;

const input = {
  who: z.enum(['mine', 'everyone']).default('mine').describe("Whose tasks: the user's own (default) or everyone's."),
  due: z
    .enum(['any', 'overdue', 'this_week'])
    .default('any')
    .describe('overdue: due before today; this_week: due before the end of this week (Monday to Sunday, UTC).'),
  due_from: z.iso.date().optional().describe('Only tasks due on or after this date (YYYY-MM-DD).'),
  due_to: z.iso.date().optional().describe('Only tasks due on or before this date (YYYY-MM-DD).'),
  contact_id: z.number().int().positive().optional().describe('Only the tasks of this contact.'),
  company_id: z.number().int().positive().optional().describe("Only the tasks of this company's contacts."),
  deal_id: z.number().int().positive().optional().describe("Only the tasks of this deal's contacts."),
  include_done: z.boolean().default(false).describe('Include tasks already done (default: pending only).'),
  limit: z.number().int().min(1).max(MAX_TASKS).default(50).describe(`At most this many (max ${MAX_TASKS}).`),
};

export interface TaskRow {
  id: number;
  text: string;
  type: string;
  due_date: string | null;
  done_date: string | null;
  contact_id: number;
  contact_name: string;
  company_id: number | null;
  company_name: string | null;
  sales_id: number | null;
  owner: string | null;
  contact_url?: string;
}

// Pending first, soonest due first; the limit + 1th row only says that more match.
const TASKS_SQL = `
with me as (select id from public.sales where user_id = auth.uid())
select coalesce(json_agg(t order by t.done_date is not null, t.due_date nulls last, t.id), '[]'::json) as tasks,
  to_char(now() at time zone 'UTC', 'YYYY-MM-DD') as today
from (
  select t.id, t.text, t.type, t.due_date, t.done_date, t.contact_id,
    nullif(trim(concat_ws(' ', c.first_name, c.last_name)), '') as contact_name,
    c.company_id, co.name as company_name, t.sales_id,
    nullif(trim(concat_ws(' ', s.first_name, s.last_name)), '') as owner
  from public.tasks t
  join public.contacts c on c.id = t.contact_id
  left join public.companies co on co.id = c.company_id
  left join public.sales s on s.id = t.sales_id
  where ($1::text = 'everyone' or t.sales_id = (select id from me))
    and ($2::boolean or t.done_date is null)
    and ($3::text <> 'overdue' or (t.done_date is null and t.due_date < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'))
    and ($3::text <> 'this_week' or t.due_date < (date_trunc('week', now() at time zone 'UTC') + interval '7 days') at time zone 'UTC')
    and ($4::date is null or t.due_date >= $4::date::timestamp at time zone 'UTC')
    and ($5::date is null or t.due_date < ($5::date + 1)::timestamp at time zone 'UTC')
    and ($6::bigint is null or t.contact_id = $6)
    and ($7::bigint is null or c.company_id = $7)
    and ($8::bigint is null or t.contact_id = any(coalesce((select d.contact_ids from public.deals d where d.id = $8), '{}')))
  order by t.done_date is not null, t.due_date nulls last, t.id
  limit $9::int + 1
) t`;

const oneLine = (task: TaskRow) =>
  `#${task.id} ${task.done_date ? '[done] ' : ''}${task.due_date ? `due ${task.due_date.slice(0, 10)}` : 'no due date'}` +
  `${task.type && task.type !== 'none' ? ` ${task.type}` : ''}: ${task.text} — ${task.contact_name ?? `contact ${task.contact_id}`}` +
  `${task.company_name ? ` (${task.company_name})` : ''}${task.owner ? ` · ${task.owner}` : ''}`;

export const showTasksTool: ToolDefinition<typeof input> = {
  name: 'show_tasks',
  config: {
    title: 'Show tasks',
    description: [
      "Show the CRM's tasks as an interactive list (MCP Apps hosts draw it; others get the same list as text):",
      "the user's own or everyone's, overdue or due this week or in a date range, for a contact, company or deal,",
      'pending only unless include_done. The user can tick tasks done, postpone them and open the contact from the',
      'list. Rows come from the database as the signed-in user, never from the arguments.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    _meta: appToolMeta('tasks'),
  },
  async run(args, { deps, principal, signal }) {
    const [row] = await asUser(deps.sql, principal, { access: 'read', limits: deps.limits, signal }, (c) =>
      c.unsafe(
        inlineParameters(TASKS_SQL, [
          args.who,
          args.include_done,
          args.due,
          args.due_from ?? null,
          args.due_to ?? null,
          args.contact_id ?? null,
          args.company_id ?? null,
          args.deal_id ?? null,
          args.limit,
        ]),
        [],
        EXTENDED,
      ),
    );
    const all = row!.tasks as TaskRow[];
    const truncated = all.length > args.limit;
    const tasks = all.slice(0, args.limit).map((task) => {
      const url = recordUrl(deps.atomicCrmUrl, 'contacts', task.contact_id);
      return url ? { ...task, contact_url: url } : task;
    });
    const summary =
      `${tasks.length}${truncated ? '+' : ''} task${tasks.length === 1 ? '' : 's'}` +
      `${truncated ? ` (the first ${args.limit}; narrow the filters or raise limit)` : ''}. ` +
      'Complete one with complete_task, postpone it with postpone_task.';
    return {
      result: {
        content: [
          {
            type: 'text',
            text: tasks.length
              ? `${summary}\n${untrusted('The tasks, one a line.', tasks.map(oneLine).join('\n'))}`
              : summary,
          },
        ],
        structuredContent: { tool: 'show_tasks', args, tasks, truncated, today: row!.today as string },
      },
      outcome: 'ok',
      rowCount: tasks.length,
      truncated: truncated ? 'rows' : null,
    };
  },
};
