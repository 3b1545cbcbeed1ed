/**
 * Logging a note on a contact, as Atomic CRM's web app does it (notes/NoteCreate.tsx): the note is
 * written by the current user, dated now unless a date is given, with the contact's current status
 * unless another is chosen; then the contact takes the note's status and `last_seen` = now. (The
 * database's own trigger also moves last_seen forward to a newer note date.) One statement, so the
 * note and the contact change together or not at all.
 *
 * @example
 *   const { text, parameters } = logContactNoteSql({ contactId: 42, text: 'Called', status: 'warm' });
 */
export interface ContactNoteInput {
  contactId: number;
  text: string;
  /** A configured note status; the contact's current one when absent. */
  status?: string;
  /** ISO 8601; now when absent. */
  date?: string;
}

export interface LoggedNote {
  note: { id: number; contact_id: number; date: string; status: string | null; sales_id: number | null; text: string };
  contact: { id: number; status: string | null; last_seen: string };
}

export function logContactNoteSql(input: ContactNoteInput): { text: string; parameters: (string | number | null)[] } {
  const text = `
with contact as (
  select id, status from public.contacts where id = $1::bigint
), note as (
  insert into public.contact_notes (contact_id, text, date, status, sales_id)
  select contact.id, $2::text, coalesce($3::timestamptz, now()), coalesce($4::text, contact.status),
         (select id from public.sales where user_id = auth.uid())
  from contact
  returning id, contact_id, date, status, sales_id, text
), touched as (
  update public.contacts set status = note.status, last_seen = now()
  from note where contacts.id = note.contact_id
  returning contacts.id, contacts.status, contacts.last_seen
)
select json_build_object(
  'note', (select row_to_json(note) from note),
  'contact', (select row_to_json(touched) from touched)
) as logged`;
  return { text, parameters: [input.contactId, input.text, input.date ?? null, input.status ?? null] };
}
