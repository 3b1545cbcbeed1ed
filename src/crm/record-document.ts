/**
 * One record with what surrounds it, as the `fetch` tool of ChatGPT's connectors and deep research
 * expects it (docs/openai-search-fetch.md): `{ id, title, text, url, metadata }`. A contact comes
 * with its company, latest notes, tasks and deals; a company with its contacts and deals; a deal
 * with its company, contacts and latest notes; a note with its contact or deal.
 *
 * Each kind is one statement that returns one row holding the record as JSON, or null when the
 * user cannot see it (RLS): an id that does not exist and one that is hidden give the same answer.
 * Related lists are bounded (RELATED rows, NOTE_CHARS characters per note) so the text stays
 * compact; counts say when more exist.
 *
 * @example
 *   const statement = recordSql('contact', '42');
 *   const parts = recordDocument('contact', row.record, 'https://crm.example.com'); // { id, title, body, url, metadata }
 */
import { literal } from '../db/run.js';
import { type RecordKind, recordId, recordLink, recordTitle, type TitleParts } from './record-ids.js';

/** Where the record's id goes in each statement. */
const ID = '__record_id__';

/** At most this many related rows of each list (notes, tasks, deals, contacts). */
export const RELATED = 20;
/** A note's text beyond this many characters is cut (the full text is one query away). */
export const NOTE_CHARS = 1_000;

const person = (alias: string) => `nullif(concat_ws(' ', ${alias}.first_name, ${alias}.last_name), '')`;
const author = (alias: string) => `(select ${person('s')} from public.sales s where s.id = ${alias}.sales_id)`;
const cappedText = (alias: string) =>
  `case when length(${alias}.text) > ${NOTE_CHARS} then left(${alias}.text, ${NOTE_CHARS}) || '…' else ${alias}.text end`;

const COMPANY = `
select (select json_build_object(
  'id', c.id, 'name', c.name, 'sector', c.sector, 'city', c.city, 'size', c.size, 'revenue', c.revenue,
  'website', c.website, 'phone_number', c.phone_number, 'linkedin_url', c.linkedin_url,
  'address', concat_ws(', ', nullif(c.address, ''), nullif(concat_ws(' ', c.zipcode, c.city), ''), c.state_abbr, c.country),
  'description', c.description, 'created_at', c.created_at, 'owner', ${author('c')},
  'contacts', (select json_agg(x) from (
      select p.id, ${person('p')} as name, p.title, p.status, p.last_seen from public.contacts p
      where p.company_id = c.id order by p.last_seen desc nulls last, p.id limit ${RELATED}) x),
  'contact_count', (select count(*) from public.contacts p where p.company_id = c.id),
  'deals', (select json_agg(x) from (
      select d.id, d.name, d.stage, d.amount, d.expected_closing_date, d.archived_at from public.deals d
      where d.company_id = c.id order by d.archived_at is not null, d.updated_at desc, d.id limit ${RELATED}) x),
  'deal_count', (select count(*) from public.deals d where d.company_id = c.id)
) from public.companies c where c.id = ${ID}) as record`;

const CONTACT = `
select (select json_build_object(
  'id', c.id, 'name', ${person('c')}, 'title', c.title, 'status', c.status, 'gender', c.gender,
  'emails', c.email_jsonb, 'phones', c.phone_jsonb, 'linkedin_url', c.linkedin_url,
  'background', c.background, 'first_seen', c.first_seen, 'last_seen', c.last_seen,
  'has_newsletter', c.has_newsletter, 'owner', ${author('c')},
  'tags', (select json_agg(t.name order by t.name) from public.tags t where t.id = any(c.tags)),
  'company', (select json_build_object('id', co.id, 'name', co.name) from public.companies co where co.id = c.company_id),
  'notes', (select json_agg(x) from (
      select n.id, n.date, n.status, ${cappedText('n')} as text, ${author('n')} as author from public.contact_notes n
      where n.contact_id = c.id order by n.date desc nulls last, n.id desc limit ${RELATED}) x),
  'note_count', (select count(*) from public.contact_notes n where n.contact_id = c.id),
  'tasks', (select json_agg(x) from (
      select t.id, t.type, t.text, t.due_date, t.done_date from public.tasks t
      where t.contact_id = c.id order by t.done_date is not null, t.due_date nulls last, t.id limit ${RELATED}) x),
  'task_count', (select count(*) from public.tasks t where t.contact_id = c.id),
  'deals', (select json_agg(x) from (
      select d.id, d.name, d.stage, d.amount, d.expected_closing_date, d.archived_at from public.deals d
      where d.contact_ids @> array[c.id] order by d.archived_at is not null, d.updated_at desc, d.id limit ${RELATED}) x),
  'deal_count', (select count(*) from public.deals d where d.contact_ids @> array[c.id])
) from public.contacts c where c.id = ${ID}) as record`;

const DEAL = `
select (select json_build_object(
  'id', d.id, 'name', d.name, 'stage', d.stage, 'category', d.category, 'amount', d.amount,
  'description', d.description, 'expected_closing_date', d.expected_closing_date,
  'created_at', d.created_at, 'updated_at', d.updated_at, 'archived_at', d.archived_at, 'owner', ${author('d')},
  'company', (select json_build_object('id', co.id, 'name', co.name) from public.companies co where co.id = d.company_id),
  'contacts', (select json_agg(x order by x.position) from (
      select p.id, ${person('p')} as name, p.title, k.position from unnest(d.contact_ids) with ordinality k(id, position)
      join public.contacts p on p.id = k.id order by k.position limit ${RELATED}) x),
  'notes', (select json_agg(x) from (
      select n.id, n.date, ${cappedText('n')} as text, ${author('n')} as author from public.deal_notes n
      where n.deal_id = d.id order by n.date desc nulls last, n.id desc limit ${RELATED}) x),
  'note_count', (select count(*) from public.deal_notes n where n.deal_id = d.id)
) from public.deals d where d.id = ${ID}) as record`;

const CONTACT_NOTE = `
select (select json_build_object(
  'id', n.id, 'date', n.date, 'status', n.status, 'text', n.text, 'author', ${author('n')},
  'attachments', coalesce(array_length(n.attachments, 1), 0),
  'contact', (select json_build_object('id', p.id, 'name', ${person('p')}, 'title', p.title,
      'company', (select co.name from public.companies co where co.id = p.company_id))
    from public.contacts p where p.id = n.contact_id),
  'parent_id', n.contact_id
) from public.contact_notes n where n.id = ${ID}) as record`;

const DEAL_NOTE = `
select (select json_build_object(
  'id', n.id, 'date', n.date, 'text', n.text, 'author', ${author('n')},
  'attachments', coalesce(array_length(n.attachments, 1), 0),
  'deal', (select json_build_object('id', d.id, 'name', d.name, 'stage', d.stage,
      'company', (select co.name from public.companies co where co.id = d.company_id))
    from public.deals d where d.id = n.deal_id),
  'parent_id', n.deal_id
) from public.deal_notes n where n.id = ${ID}) as record`;

const SQL: Record<RecordKind, string> = {
  company: COMPANY,
  contact: CONTACT,
  deal: DEAL,
  contact_note: CONTACT_NOTE,
  deal_note: DEAL_NOTE,
};

/**
 * The statement for one record. The id is a literal in the text, not a bind parameter: postgres.js,
 * which never prepares here, asks the server for a parameterised statement's types before binding
 * it, which would cost the call a second round trip.
 */
export function recordSql(kind: RecordKind, id: string): string {
  if (!/^[1-9][0-9]{0,18}$/.test(id)) throw new Error(`not a record id: ${id}`);
  return SQL[kind].replaceAll(ID, `${literal(id)}::bigint`);
}

/** A fetched record as OpenAI documents it; `text` is the compact body the agent reads. */
export interface RecordDocument {
  id: string;
  title: string;
  text: string;
  url: string;
  metadata: Record<string, string | number | boolean | null>;
}

/** The document before the caller frames its text: `body` is the record as compact lines. */
export type RecordParts = Omit<RecordDocument, 'text'> & { body: string };

type Json = Record<string, unknown>;
type Row = Json & { id: number | string };

/** A date or timestamp as its day: `2026-11-02`. */
const day = (value: unknown) => (typeof value === 'string' && value.length >= 10 ? value.slice(0, 10) : null);
const str = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);
const list = (value: unknown) => (Array.isArray(value) ? (value as Row[]) : []);
const join = (parts: unknown[], separator = ', ') =>
  parts.filter((p) => p !== null && p !== undefined && p !== '').join(separator);
/** A line of labelled facts; `; ` between them, as names may hold commas. */
const facts = (parts: unknown[]) => join(parts, '; ');
/** `label: value` when there is a value. */
const field = (label: string, value: unknown) =>
  value === null || value === undefined || value === '' ? null : `${label}: ${String(value)}`;

/** A record as its title's parts, its lines of text and its metadata. */
interface Shaped {
  title: TitleParts;
  lines: string[];
  metadata: RecordDocument['metadata'];
}

function more(shown: number, total: unknown, what: string): string {
  const count = Number(total ?? shown);
  return count > shown ? ` (latest ${shown} of ${count} ${what})` : '';
}

function section(heading: string, lines: string[]): string[] {
  return lines.length === 0 ? [] : [heading, ...lines.map((line) => `- ${line}`)];
}

function contactPoints(value: unknown, key: 'email' | 'number'): string | null {
  const points = list(value)
    .map((p) => join([str(p[key]), str(p.type) && `(${str(p.type)})`], ' '))
    .filter(Boolean);
  return points.length ? points.join(', ') : null;
}

const dealLine = (d: Row) =>
  join([
    `deal:${d.id} ${str(d.name) ?? ''}`.trim(),
    str(d.stage),
    d.amount !== null && d.amount !== undefined ? `amount ${d.amount}` : null,
    day(d.expected_closing_date) && `closing ${day(d.expected_closing_date)}`,
    day(d.archived_at) && `archived ${day(d.archived_at)}`,
  ]);

const noteLine = (n: Row) =>
  `${join([day(n.date), str(n.status), str(n.author)])}: ${str(n.text) ?? ''}`.replace(/^: /, '');

function companyText(r: Json): Shaped {
  const contacts = list(r.contacts);
  const deals = list(r.deals);
  return {
    title: { name: str(r.name), sector: str(r.sector), city: str(r.city) },
    lines: [
      facts([
        field('Sector', str(r.sector)),
        field('Size', r.size),
        field('Revenue', str(r.revenue)),
        field('Website', str(r.website)),
        field('Phone', str(r.phone_number)),
        field('LinkedIn', str(r.linkedin_url)),
      ]),
      field('Address', str(r.address)),
      facts([field('Owner', str(r.owner)), field('Created', day(r.created_at))]),
      field('Description', str(r.description)),
      ...section(
        `Contacts${more(contacts.length, r.contact_count, 'contacts')}:`,
        contacts.map((p) =>
          join([
            `contact:${p.id} ${str(p.name) ?? ''}`.trim(),
            str(p.title),
            str(p.status),
            day(p.last_seen) && `last seen ${day(p.last_seen)}`,
          ]),
        ),
      ),
      ...section(`Deals${more(deals.length, r.deal_count, 'deals')}:`, deals.map(dealLine)),
    ].filter((line): line is string => Boolean(line)),
    metadata: {
      type: 'company',
      sector: str(r.sector),
      contacts: Number(r.contact_count ?? contacts.length),
      deals: Number(r.deal_count ?? deals.length),
    },
  };
}

function contactText(r: Json): Shaped {
  const company = (r.company ?? null) as Row | null;
  const notes = list(r.notes);
  const tasks = list(r.tasks);
  const deals = list(r.deals);
  const tags = Array.isArray(r.tags) ? (r.tags as string[]) : [];
  const pending = tasks.filter((t) => t.done_date === null || t.done_date === undefined);
  return {
    title: { name: str(r.name), title: str(r.title), company: str(company?.name) },
    lines: [
      facts([
        field('Company', company ? `company:${company.id} ${str(company.name) ?? ''}`.trim() : null),
        field('Title', str(r.title)),
        field('Status', str(r.status)),
      ]),
      facts([field('Emails', contactPoints(r.emails, 'email')), field('Phones', contactPoints(r.phones, 'number'))]),
      facts([
        field('LinkedIn', str(r.linkedin_url)),
        field('Tags', tags.length ? tags.join(', ') : null),
        r.has_newsletter === true ? 'Newsletter: yes' : null,
      ]),
      facts([
        field('First seen', day(r.first_seen)),
        field('Last seen', day(r.last_seen)),
        field('Owner', str(r.owner)),
      ]),
      field('Background', str(r.background)),
      ...section(`Deals${more(deals.length, r.deal_count, 'deals')}:`, deals.map(dealLine)),
      ...section(
        `Tasks${more(tasks.length, r.task_count, 'tasks')}:`,
        tasks.map((t) =>
          join([
            t.done_date ? `done ${day(t.done_date)}` : 'pending',
            str(t.type),
            day(t.due_date) && `due ${day(t.due_date)}`,
          ]).concat(`: ${str(t.text) ?? ''}`),
        ),
      ),
      ...section(`Notes${more(notes.length, r.note_count, 'notes')}:`, notes.map(noteLine)),
    ].filter((line): line is string => Boolean(line)),
    metadata: {
      type: 'contact',
      company_id: company ? Number(company.id) : null,
      status: str(r.status),
      last_seen: day(r.last_seen),
      notes: Number(r.note_count ?? notes.length),
      pending_tasks: pending.length,
      deals: Number(r.deal_count ?? deals.length),
    },
  };
}

function dealText(r: Json): Shaped {
  const company = (r.company ?? null) as Row | null;
  const contacts = list(r.contacts);
  const notes = list(r.notes);
  return {
    title: { name: str(r.name), company: str(company?.name), stage: str(r.stage) },
    lines: [
      facts([
        field('Company', company ? `company:${company.id} ${str(company.name) ?? ''}`.trim() : null),
        field('Stage', str(r.stage)),
        field('Category', str(r.category)),
        field('Amount', r.amount),
      ]),
      facts([
        field('Expected closing', day(r.expected_closing_date)),
        field('Created', day(r.created_at)),
        field('Updated', day(r.updated_at)),
        field('Archived', day(r.archived_at)),
        field('Owner', str(r.owner)),
      ]),
      field('Description', str(r.description)),
      ...section(
        'Contacts:',
        contacts.map((p) => join([`contact:${p.id} ${str(p.name) ?? ''}`.trim(), str(p.title)])),
      ),
      ...section(`Notes${more(notes.length, r.note_count, 'notes')}:`, notes.map(noteLine)),
    ].filter((line): line is string => Boolean(line)),
    metadata: {
      type: 'deal',
      company_id: company ? Number(company.id) : null,
      stage: str(r.stage),
      amount: r.amount === null || r.amount === undefined ? null : Number(r.amount),
      archived: r.archived_at !== null && r.archived_at !== undefined,
      notes: Number(r.note_count ?? notes.length),
    },
  };
}

function noteText(kind: 'contact_note' | 'deal_note', r: Json): Shaped {
  const parent = ((kind === 'contact_note' ? r.contact : r.deal) ?? null) as Row | null;
  const parentKind = kind === 'contact_note' ? 'contact' : 'deal';
  const parentLabel = parent
    ? join([
        `${parentKind}:${parent.id} ${str(parent.name) ?? ''}`.trim(),
        str(parent.title),
        str(parent.stage),
        str(parent.company),
      ])
    : `${parentKind}:${r.parent_id}`;
  return {
    title: { name: str(parent?.name), date: str(r.date) },
    lines: [
      field(parentKind === 'contact' ? 'Contact' : 'Deal', parentLabel),
      facts([field('Date', day(r.date)), field('Status', str(r.status)), field('Author', str(r.author))]),
      Number(r.attachments) > 0 ? `Attachments: ${r.attachments}` : null,
      str(r.text),
    ].filter((line): line is string => Boolean(line)),
    metadata: {
      type: kind,
      [`${parentKind}_id`]: Number(r.parent_id),
      date: day(r.date),
    },
  };
}

/** The record the statement returned, shaped for OpenAI's document; `base` is ATOMIC_CRM_URL. */
export function recordDocument(kind: RecordKind, record: Json, base: string | undefined): RecordParts {
  const shaped =
    kind === 'company'
      ? companyText(record)
      : kind === 'contact'
        ? contactText(record)
        : kind === 'deal'
          ? dealText(record)
          : noteText(kind, record);
  const id = record.id as number;
  const parentId = kind === 'contact_note' || kind === 'deal_note' ? (record.parent_id as number) : null;
  const title = recordTitle(kind, id, parentId, shaped.title);
  return {
    id: recordId(kind, id),
    title,
    // The title again on top, so the text reads whole on its own.
    body: [title, ...shaped.lines].join('\n'),
    url: recordLink(base, kind, parentId ?? id),
    metadata: shaped.metadata,
  };
}
