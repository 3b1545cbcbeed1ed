/**
 * Logging a note on a deal, as Atomic CRM's web app does it (notes/NoteCreate.tsx with reference
 * "deals"): the note is written by the current user, dated now unless a date is given; deal notes
 * carry no status and the legacy `type` stays unset. The app then updates the deal with no field
 * of its own (last_seen and status are contact fields), which its demo data provider turns into
 * updated_at = now: kept here, so the deal's last activity is the note. One statement, so the note
 * and the deal change together or not at all.
 *
 * @example
 *   const { text, parameters } = logDealNoteSql({ dealId: 7, text: 'Sent the revised quote' });
 */
export interface DealNoteInput {
  dealId: number;
  text: string;
  /** ISO 8601; now when absent. */
  date?: string;
}

export interface LoggedDealNote {
  note: { id: number; deal_id: number; date: string; sales_id: number | null; text: string };
  deal: { id: number; updated_at: string };
}

export function logDealNoteSql(input: DealNoteInput): { text: string; parameters: (string | number | null)[] } {
  const text = `
with deal as (
  select id from public.deals where id = $1::bigint
), note as (
  insert into public.deal_notes (deal_id, text, date, sales_id)
  select deal.id, $2::text, coalesce($3::timestamptz, now()), (select id from public.sales where user_id = auth.uid())
  from deal
  returning id, deal_id, date, sales_id, text
), touched as (
  update public.deals set updated_at = now()
  from note where deals.id = note.deal_id
  returning deals.id, deals.updated_at
)
select json_build_object(
  'note', (select row_to_json(note) from note),
  'deal', (select row_to_json(touched) from touched)
) as logged`;
  return { text, parameters: [input.dealId, input.text, input.date ?? null] };
}
