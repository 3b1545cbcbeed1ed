/**
 * Full-text search across the CRM's companies, contacts, deals and notes, as the `search` tool of
 * ChatGPT's connectors and deep research expects it (docs/openai-search-fetch.md): a query string
 * in, ranked records out, each with a typed id (`contact:42`) that `fetch` takes back.
 *
 * No index, table or function of ours exists in the user's database, so one statement computes
 * every document's tsvector on the fly with built-ins only: `normalize(…, NFD)` and a regexp strip
 * the accents (the unaccent extension is not installed in every project), `to_tsvector('english')`
 * stems and drops stop words, and every query word is a prefix (`'mull':*`) so partial names match.
 * Names also match as a plain substring of the whole query, for a fragment inside a word. Ranking
 * is `ts_rank` over weighted documents (names A, short facts B, descriptions C, note text D) plus a
 * bonus when the name starts with or contains the query; RLS decides which rows take part.
 *
 * @example
 *   const statement = searchSql(parseQuery('Müller')!, 20);
 *   // rows: { kind: 'contact', id: 8, parent_id: null, title: { name: 'Zoe Müller', title: 'Office Manager', … } }
 */
import { literal } from '../db/run.js';
import { type RecordKind, recordId, recordLink, recordTitle, type TitleParts } from './record-ids.js';

/** What the query becomes: prefix terms joined by OR (a tsquery) and the whole text for names. */
export interface ParsedQuery {
  /**
   * One tsquery term per word, e.g. `'mull':*`, separated by spaces: matched together (OR) and
   * counted one by one.
   */
  terms: string;
  phrase: string;
}

/** Words beyond these are ignored: a question pasted whole stays a bounded query. */
const MAX_WORDS = 12;
const MAX_WORD_LENGTH = 64;

/** Lower case without accents, as the statement's `plain()` leaves the documents. */
export function plainText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * The query's words as prefix terms. Only letters and digits make a word, so nothing the caller
 * types can be tsquery syntax. One-letter words are dropped when longer ones exist (a stray "J"
 * would match every name starting with j). Null when the query has no word at all.
 */
export function parseQuery(query: string): ParsedQuery | null {
  const plain = plainText(query);
  const all = [...new Set(plain.match(/[\p{L}\p{N}]+/gu) ?? [])].map((w) => w.slice(0, MAX_WORD_LENGTH));
  if (all.length === 0) return null;
  const long = all.filter((w) => w.length > 1);
  const words = (long.length > 0 ? long : all).slice(0, MAX_WORDS);
  return {
    terms: words.map((w) => `'${w}':*`).join(' '),
    phrase: plain.replace(/\s+/g, ' ').trim().slice(0, 200),
  };
}

/** Text without accents, as built-ins allow: decomposed, then the combining marks removed. */
const plain = (expression: string) => `regexp_replace(normalize(${expression}, NFD), '[\\u0300-\\u036f]', '', 'g')`;
const vector = (expression: string, weight: 'A' | 'B' | 'C' | 'D') =>
  `setweight(to_tsvector('english', ${plain(expression)}), '${weight}')`;

/**
 * One branch per kind: its id, the record it belongs to (a note's contact or deal), the name its
 * title starts with, and its document. The kind's own word (company, contact, deal, note) is in the
 * document at the lowest weight, so "deals with Acme" prefers Acme's deals.
 */
const DOCUMENTS = `
  select 'company' as kind, 1 as kind_order, c.id, null::bigint as parent_id, c.created_at as at,
         c.name as name,
         ${vector('c.name', 'A')}
         || ${vector("concat_ws(' ', c.sector, c.city, c.country, translate(c.website::text, './:', '   '))", 'B')}
         || ${vector("coalesce(c.description, '')", 'C')}
         || to_tsvector('english', 'company organisation') as doc
  from public.companies c
  union all
  select 'contact', 2, c.id, null, c.last_seen,
         concat_ws(' ', c.first_name, c.last_name),
         ${vector("concat_ws(' ', c.first_name, c.last_name)", 'A')}
         || ${vector("concat_ws(' ', c.title, translate(jsonb_path_query_array(c.email_jsonb, 'lax $[*].email')::text, '@.\"[],', '      '))", 'B')}
         || ${vector("concat_ws(' ', c.background, co.name)", 'C')}
         || to_tsvector('english', 'contact person')
  from public.contacts c left join public.companies co on co.id = c.company_id
  union all
  select 'deal', 3, d.id, null, d.updated_at,
         d.name,
         ${vector('d.name', 'A')}
         || ${vector("concat_ws(' ', d.stage, d.category, co.name)", 'B')}
         || ${vector("coalesce(d.description, '')", 'C')}
         || to_tsvector('english', 'deal opportunity')
  from public.deals d left join public.companies co on co.id = d.company_id
  union all
  select 'contact_note', 4, n.id, n.contact_id, n.date, null,
         ${vector("coalesce(n.text, '')", 'D')} || to_tsvector('english', 'note')
  from public.contact_notes n
  union all
  select 'deal_note', 5, n.id, n.deal_id, n.date, null,
         ${vector("coalesce(n.text, '')", 'D')} || to_tsvector('english', 'note')
  from public.deal_notes n`;

/**
 * The whole search as one statement: rank every visible document, keep the best `limit`, then
 * look up what the titles of those few need (recordTitle: a note's contact or deal name, a
 * contact's job and company, a deal's company and stage). A document ranks by how many of the query's words it matches, then by
 * ts_rank (weights), plus the name bonus.
 *
 * The values are literals in the text, not bind parameters: postgres.js, which never prepares here,
 * asks the server for a parameterised statement's types before binding it, which would cost the
 * call a second round trip.
 */
const searchStatement = (terms: string, phrase: string, limit: number) => `
with query as (
  select to_tsquery('english', replace(${terms}, ' ', ' | ')) as words,
         array(select t from unnest(string_to_array(${terms}, ' ')) w, to_tsquery('english', w) t where numnode(t) > 0) as each_word,
         ${phrase}::text as phrase
), documents as materialized (${DOCUMENTS}
), scored as (
  select d.kind, d.kind_order, d.id, d.parent_id, d.at, d.name,
         d.doc @@ q.words as matched,
         (select count(*) from unnest(q.each_word) t where d.doc @@ t) + ts_rank(d.doc, q.words) as relevance,
         case when d.name is null or q.phrase = '' then 0
              when starts_with(lower(${plain('d.name')}), q.phrase) then 1
              when strpos(lower(${plain('d.name')}), q.phrase) > 0 then 0.5
              else 0 end as bonus
  from documents d, query q
), best as (
  select *, case when matched then relevance else 0 end + bonus as rank from scored
  where matched or bonus > 0
  order by rank desc, kind_order, at desc nulls last, id
  limit ${limit}
)
select b.kind, b.id, b.parent_id,
  case b.kind
    when 'company' then (select json_build_object('name', c.name, 'sector', c.sector, 'city', c.city)
      from public.companies c where c.id = b.id)
    when 'contact' then (select json_build_object('name', concat_ws(' ', c.first_name, c.last_name), 'title', c.title, 'company', co.name)
      from public.contacts c left join public.companies co on co.id = c.company_id where c.id = b.id)
    when 'deal' then (select json_build_object('name', d.name, 'company', co.name, 'stage', d.stage)
      from public.deals d left join public.companies co on co.id = d.company_id where d.id = b.id)
    when 'contact_note' then json_build_object('date', b.at,
      'name', (select concat_ws(' ', c.first_name, c.last_name) from public.contacts c where c.id = b.parent_id))
    when 'deal_note' then json_build_object('date', b.at,
      'name', (select d.name from public.deals d where d.id = b.parent_id))
    end as title
from best b
order by b.rank desc, b.kind_order, b.at desc nulls last, b.id`;

export function searchSql(query: ParsedQuery, limit: number): string {
  return searchStatement(literal(query.terms), literal(query.phrase), Math.max(1, Math.trunc(limit)));
}

/** One row of the search statement. */
export interface SearchRow {
  kind: RecordKind;
  id: number | string;
  parent_id: number | string | null;
  title: TitleParts | null;
}

/** A search result as OpenAI documents it. */
export interface SearchResult {
  id: string;
  title: string;
  url: string;
}

/** The search rows as OpenAI's results; `base` is ATOMIC_CRM_URL (see recordLink for when it is unset). */
export function searchResults(rows: readonly SearchRow[], base: string | undefined): SearchResult[] {
  return rows.map((row) => ({
    id: recordId(row.kind, row.id),
    title: recordTitle(row.kind, row.id, row.parent_id, row.title ?? {}),
    url: recordLink(base, row.kind, row.parent_id ?? row.id),
  }));
}
