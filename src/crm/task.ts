/**
 * Creating a task for a contact, as Atomic CRM's web app does it (tasks/AddTask.tsx): written by
 * the current user, type `none` and due now unless chosen; then the contact's `last_seen` = now.
 * One statement, so the task and the contact change together or not at all.
 *
 * @example
 *   const { text, parameters } = createTaskSql({ contactId: 42, text: 'Send the quote', type: 'email' });
 */
export interface TaskInput {
  contactId: number;
  text: string;
  /** A configured task type; `none` (the app's default) when absent. */
  type?: string;
  /** ISO 8601 date or date-time; now when absent. */
  dueDate?: string;
}

/** The type the web app's form starts with. */
export const DEFAULT_TASK_TYPE = 'none';

export interface CreatedTask {
  task: {
    id: number;
    contact_id: number;
    type: string;
    text: string;
    due_date: string;
    done_date: null;
    sales_id: number | null;
  };
  contact: { id: number; last_seen: string };
}

export function createTaskSql(input: TaskInput): { text: string; parameters: (string | number | null)[] } {
  const text = `
with contact as (
  select id from public.contacts where id = $1::bigint
), task as (
  insert into public.tasks (contact_id, type, text, due_date, sales_id)
  select contact.id, $2::text, $3::text, coalesce($4::timestamptz, now()), (select id from public.sales where user_id = auth.uid())
  from contact
  returning id, contact_id, type, text, due_date, done_date, sales_id
), touched as (
  update public.contacts set last_seen = now()
  from task where contacts.id = task.contact_id
  returning contacts.id, contacts.last_seen
)
select json_build_object(
  'task', (select row_to_json(task) from task),
  'contact', (select row_to_json(touched) from touched)
) as created`;
  return { text, parameters: [input.contactId, input.type ?? DEFAULT_TASK_TYPE, input.text, input.dueDate ?? null] };
}
