/**
 * The records `search` finds and `fetch` reads: their ids, titles and links. Typed ids stay stable
 * as long as the row exists: `company:7`, `contact:42`, `deal:3`, `contact_note:100`, `deal_note:9` (the kind, a
 * colon, the row's id). Each links to the page it shows on in the web app: a note has no page of its
 * own and shows on its contact's or deal's.
 *
 * @example
 *   parseRecordId('contact:42'); // { kind: 'contact', id: '42' }
 *   recordLink('https://crm.example.com', 'contact_note', 42); // 'https://crm.example.com/#/contacts/42/show'
 */
import { type CrmResource, recordUrl } from './links.js';

export const RECORD_KINDS = ['company', 'contact', 'deal', 'contact_note', 'deal_note'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** The web app's page for each kind: for a note, its contact's or deal's. */
const PAGE: Record<RecordKind, CrmResource> = {
  company: 'companies',
  contact: 'contacts',
  deal: 'deals',
  contact_note: 'contacts',
  deal_note: 'deals',
};

export function recordId(kind: RecordKind, id: number | string): string {
  return `${kind}:${id}`;
}

/** The largest bigint: an id beyond it cannot name a row, and PostgreSQL would refuse the cast. */
const MAX_ID = 9223372036854775807n;

/** `kind:id` with a known kind and a positive bigint id, else null. */
export function parseRecordId(text: string): { kind: RecordKind; id: string } | null {
  const match = /^([a-z_]+):([1-9][0-9]{0,18})$/.exec(text.trim());
  if (!match || !(RECORD_KINDS as readonly string[]).includes(match[1]!) || BigInt(match[2]!) > MAX_ID) return null;
  return { kind: match[1] as RecordKind, id: match[2]! };
}

/**
 * The page `pageId` (the record's own id, or a note's contact or deal) in the web app. Without
 * ATOMIC_CRM_URL there is no page to link to, and the empty string is what OpenAI documents for a
 * result that is not a citation: ChatGPT then shows no link, rather than a link that leads nowhere.
 * The field stays present because its shape requires it.
 */
export function recordLink(base: string | undefined, kind: RecordKind, pageId: number | string): string {
  return recordUrl(base, PAGE[kind], pageId) ?? '';
}

/** What a record's title is made of; each kind uses its own few. */
export interface TitleParts {
  /** The record's name; for a note, its contact's or deal's. */
  name?: string | null;
  sector?: string | null;
  city?: string | null;
  /** A contact's job title. */
  title?: string | null;
  company?: string | null;
  stage?: string | null;
  /** A note's date (ISO 8601). */
  date?: string | null;
}

const MAX_TITLE = 120;

const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);
const joined = (parts: (string | null)[], separator: string) => parts.filter(Boolean).join(separator) || null;

/**
 * The one title a record has in search results and in fetch: `Zoe Müller — Office Manager at Cedar
 * Partners`, `Acme Partners — energy, Paris`, `Website redesign — Acme Partners, won`, `Note on
 * Zoe Müller, 2026-11-02`. One line of at most MAX_TITLE characters: titles carry names written by
 * anyone.
 */
export function recordTitle(
  kind: RecordKind,
  id: number | string,
  parentId: number | string | null,
  parts: TitleParts,
): string {
  const name = text(parts.name);
  const day = text(parts.date)?.slice(0, 10) ?? null;
  const title =
    kind === 'contact_note'
      ? joined([`Note on ${name ?? `contact ${parentId}`}`, day], ', ')
      : kind === 'deal_note'
        ? joined([`Note on deal ${name ?? String(parentId)}`, day], ', ')
        : joined(
            [
              name ?? `${kind} ${id}`,
              kind === 'company'
                ? joined([text(parts.sector), text(parts.city)], ', ')
                : kind === 'contact'
                  ? joined([text(parts.title), text(parts.company)], ' at ')
                  : joined([text(parts.company), text(parts.stage)], ', '),
            ],
            ' — ',
          );
  const flat = (title ?? recordId(kind, id)).replace(/\s+/g, ' ');
  return flat.length > MAX_TITLE ? `${flat.slice(0, MAX_TITLE - 1)}…` : flat;
}
