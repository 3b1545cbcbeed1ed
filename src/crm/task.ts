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

/** A task as the tools that change one answer it. */
export interface ChangedTask {
  id: number;
  contact_id: number;
  type: string | null;
  text: string | null;
  due_date: string | null;
  done_date: string | null;
  sales_id: number | null;
}

const TASK_COLUMNS = 'id, contact_id, type, text, due_date, done_date, sales_id';

/**
 * Checking or unchecking a task, as the web app's checkbox does (tasks/Task.tsx): done_date = now,
 * or null to reopen; nothing else changes. Checking a task already done keeps its done_date, so a
 * retried call does not move it.
 */
export function completeTaskSql(taskId: number, done: boolean): { text: string; parameters: (number | boolean)[] } {
  const text = `
with task as (
  update public.tasks set done_date = case when $2::boolean then coalesce(done_date, now()) end
  where id = $1::bigint
  returning ${TASK_COLUMNS}
)
select row_to_json(task) as task from task`;
  return { text, parameters: [taskId, done] };
}

/** The web app's postpone menu (tasks/Task.tsx): midnight UTC, one day or seven days from today's UTC date. */
export const POSTPONE_DAYS = { tomorrow: 1, next_week: 7 } as const;

/**
 * Moving a task's due date: a menu choice as the app computes it (it sends the UTC calendar date of
 * now + 1 or 7 days, which the database reads as that day's midnight UTC), or a given instant.
 */
export function postponeTaskSql(
  taskId: number,
  until: { days: number } | { dueDate: string },
): { text: string; parameters: (number | string | null)[] } {
  const text = `
with task as (
  update public.tasks
  set due_date = coalesce($3::timestamptz, ((now() at time zone 'UTC')::date + $2::int)::timestamp at time zone 'UTC')
  where id = $1::bigint
  returning ${TASK_COLUMNS}
)
select row_to_json(task) as task from task`;
  return 'days' in until
    ? { text, parameters: [taskId, until.days, null] }
    : { text, parameters: [taskId, 0, until.dueDate] };
}
