/**
 * `show_record`: the card of one contact or company (its details, recent notes, open tasks and
 * deals; a company's card adds its contacts), read as the signed-in user in one statement and
 * drawn by the Record card app, where the user adds a note to a contact. Hosts without apps get
 * the card as compact text.
 */
import { z } from 'zod';
import { recordUrl } from '../../crm/links.js';
import { EXTENDED } from '../../db/pool.js';
import { asUser, inlineParameters } from '../../db/run.js';
import { appToolMeta } from '../apps/ui.js';
import { configurationFor } from '../known-values.js';
import { errorResult, untrusted } from '../results.js';
import type { ToolDefinition } from './tool.js';

const input = {
  contact_id: z.number().int().positive().optional().describe("contacts.id: show this contact's card."),
  company_id: z.number().int().positive().optional().describe("companies.id: show this company's card."),
};

const person = (alias: string) => `nullif(trim(concat_ws(' ', ${alias}.first_name, ${alias}.last_name)), '')`;

const CONTACT_SQL = `
select json_build_object(
  'record', (select json_build_object('id', c.id, 'name', ${person('c')}, 'title', c.title, 'status', c.status,
      'emails', (select json_agg(e->>'email') from jsonb_array_elements(coalesce(c.email_jsonb, '[]'::jsonb)) e),
      'phones', (select json_agg(p->>'number') from jsonb_array_elements(coalesce(c.phone_jsonb, '[]'::jsonb)) p),
      'last_seen', c.last_seen, 'company_id', c.company_id, 'company_name', co.name)
    from public.contacts c left join public.companies co on co.id = c.company_id where c.id = $1),
  'notes', (select coalesce(json_agg(n order by n.date desc, n.id desc), '[]'::json) from (
      select n.id, n.text, n.date, n.status, ${person('s')} as author
      from public.contact_notes n left join public.sales s on s.id = n.sales_id
      where n.contact_id = $1 order by n.date desc, n.id desc limit 5) n),
  'tasks', (select coalesce(json_agg(t order by t.due_date nulls last, t.id), '[]'::json) from (
      select t.id, t.text, t.type, t.due_date from public.tasks t
      where t.contact_id = $1 and t.done_date is null order by t.due_date nulls last, t.id limit 10) t),
  'deals', (select coalesce(json_agg(d order by d.updated_at desc), '[]'::json) from (
      select d.id, d.name, d.stage, d.amount, d.updated_at from public.deals d
      where $1 = any(d.contact_ids) and d.archived_at is null order by d.updated_at desc limit 10) d)
,
  'currency', (select config->>'currency' from public.configuration where id = 1)
) as card`;

const COMPANY_SQL = `
select json_build_object(
  'record', (select json_build_object('id', co.id, 'name', co.name, 'sector', co.sector, 'website', co.website,
      'phone', co.phone_number, 'city', co.city, 'country', co.country, 'size', co.size)
    from public.companies co where co.id = $1),
  'contacts', (select coalesce(json_agg(c order by c.last_seen desc nulls last, c.id), '[]'::json) from (
      select c.id, ${person('c')} as name, c.title, c.last_seen from public.contacts c
      where c.company_id = $1 order by c.last_seen desc nulls last, c.id limit 10) c),
  'notes', (select coalesce(json_agg(n order by n.date desc, n.id desc), '[]'::json) from (
      select n.id, n.text, n.date, n.status, ${person('s')} as author, ${person('c')} as about
      from public.contact_notes n join public.contacts c on c.id = n.contact_id
      left join public.sales s on s.id = n.sales_id
      where c.company_id = $1 order by n.date desc, n.id desc limit 5) n),
  'tasks', (select coalesce(json_agg(t order by t.due_date nulls last, t.id), '[]'::json) from (
      select t.id, t.text, t.type, t.due_date, ${person('c')} as about
      from public.tasks t join public.contacts c on c.id = t.contact_id
      where c.company_id = $1 and t.done_date is null order by t.due_date nulls last, t.id limit 10) t),
  'deals', (select coalesce(json_agg(d order by d.updated_at desc), '[]'::json) from (
      select d.id, d.name, d.stage, d.amount, d.updated_at from public.deals d
      where d.company_id = $1 and d.archived_at is null order by d.updated_at desc limit 10) d)
,
  'currency', (select config->>'currency' from public.configuration where id = 1)
) as card`;

interface Card {
  record: Record<string, unknown> & { id: number; name: string | null };
  notes: { id: number; text: string; date: string; status: string | null; author: string | null; about?: string }[];
  tasks: { id: number; text: string; type: string; due_date: string | null; about?: string }[];
  deals: { id: number; name: string; stage: string; amount: number | null; url?: string }[];
  contacts?: { id: number; name: string | null; title: string | null; url?: string }[];
  currency: string | null;
}

const day = (iso: unknown) => (typeof iso === 'string' ? iso.slice(0, 10) : '');

/** The details a card lists, as label and value, empty ones left out. */
function fieldsOf(kind: 'contact' | 'company', r: Record<string, unknown>): [string, string][] {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter(Boolean).join(', ') : '');
  const fields: [string, unknown][] =
    kind === 'contact'
      ? [
          ['Title', r.title],
          ['Company', r.company_name],
          ['Status', r.status],
          ['Email', list(r.emails)],
          ['Phone', list(r.phones)],
          ['Last seen', day(r.last_seen)],
        ]
      : [
          ['Sector', r.sector],
          ['Website', r.website],
          ['Phone', r.phone],
          ['City', [r.city, r.country].filter(Boolean).join(', ')],
          ['Employees', r.size],
        ];
  return fields.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => [k, String(v)]);
}

export const showRecordTool: ToolDefinition<typeof input> = {
  name: 'show_record',
  config: {
    title: 'Show a contact or company card',
    description: [
      "Show one contact's or company's card (MCP Apps hosts draw it; others get it as text): details, the five latest",
      "notes, open tasks and open deals; a company's card adds its contacts and their notes and tasks. The user can",
      'add a note to a contact from the card. Give contact_id or company_id. Rows come from the database as the user.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    _meta: appToolMeta('record'),
  },
  async run(args, { deps, principal, signal }) {
    const kind = args.contact_id !== undefined ? 'contact' : 'company';
    const id = args.contact_id ?? args.company_id;
    if (id === undefined || (args.contact_id !== undefined && args.company_id !== undefined)) {
      return {
        result: errorResult({
          code: 'RECORD_NOT_CHOSEN',
          message: 'Give exactly one of contact_id or company_id; find the id with query on contacts or companies.',
        }),
        outcome: 'RECORD_NOT_CHOSEN',
      };
    }
    const [config, [row]] = await Promise.all([
      configurationFor(deps, principal, signal),
      asUser(deps.sql, principal, { access: 'read', limits: deps.limits, signal }, (c) =>
        c.unsafe(inlineParameters(kind === 'contact' ? CONTACT_SQL : COMPANY_SQL, [id]), [], EXTENDED),
      ),
    ]);
    const card = row!.card as Card;
    if (!card.record) {
      const code = kind === 'contact' ? 'CONTACT_NOT_FOUND' : 'COMPANY_NOT_FOUND';
      return {
        result: errorResult({
          code,
          message: `No ${kind} with id ${id} is visible to you. Find it with query on ${kind === 'contact' ? 'contacts' : 'companies'}.`,
        }),
        outcome: code,
      };
    }
    const link = (resource: 'contacts' | 'companies' | 'deals', rowId: number) => {
      const url = recordUrl(deps.atomicCrmUrl, resource, rowId);
      return url ? { url } : {};
    };
    const name = card.record.name ?? `${kind} ${id}`;
    const record = {
      id,
      name,
      fields: fieldsOf(kind, card.record),
      ...link(kind === 'contact' ? 'contacts' : 'companies', id),
    };
    const deals = card.deals.map((d) => ({ ...d, ...link('deals', d.id) }));
    const contacts = card.contacts?.map((c) => ({
      ...c,
      name: c.name ?? `contact ${c.id}`,
      ...link('contacts', c.id),
    }));
    const text = [
      `${kind === 'contact' ? 'Contact' : 'Company'} ${id}: ${name}.`,
      ...record.fields.map(([k, v]) => `${k}: ${v}`),
      contacts ? `Contacts: ${contacts.map((c) => `#${c.id} ${c.name}`).join('; ') || 'none'}` : '',
      `Open tasks: ${card.tasks.map((t) => `#${t.id} ${t.text} (due ${day(t.due_date) || 'none'})`).join('; ') || 'none'}`,
      `Deals: ${deals.map((d) => `#${d.id} ${d.name} (${d.stage}, ${d.amount ?? 0})`).join('; ') || 'none'}`,
      `Recent notes: ${card.notes.map((n) => `${day(n.date)} ${n.text}`).join(' | ') || 'none'}`,
    ].filter(Boolean);
    return {
      result: {
        content: [
          {
            type: 'text',
            text: `${kind === 'contact' ? 'Add a note with log_contact_note.' : 'Open a contact with show_record.'}\n${untrusted('The card.', text.join('\n'))}`,
          },
        ],
        structuredContent: {
          tool: 'show_record',
          args,
          kind,
          record,
          notes: card.notes,
          tasks: card.tasks,
          deals,
          ...(contacts ? { contacts } : {}),
          noteStatuses: config.noteStatuses,
          currency: card.currency ?? 'USD',
        },
      },
      outcome: 'ok',
      rowCount: 1,
    };
  },
};
