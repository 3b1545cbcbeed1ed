/** The tasks view: the list the server read, with done, postpone and open-the-contact per task. */
import { h, labelOf, shortDate } from './dom.js';
import type { ViewContext, ViewData } from './main.js';

interface TaskRow {
  id: number;
  text: string;
  type: string;
  due_date: string | null;
  done_date: string | null;
  contact_id: number;
  contact_name: string;
  company_name: string | null;
  owner: string | null;
  contact_url?: string;
}

interface TasksData extends ViewData {
  tasks: TaskRow[];
  truncated: boolean;
  /** The server's date (UTC), so "overdue" means the same here as in the query. */
  today: string;
}

function filters(data: TasksData, context: ViewContext): HTMLElement {
  const args = data.args;
  const reload = (change: Record<string, unknown>) => void context.reload({ ...args, ...change });
  const select = (label: string, name: string, value: string, options: [string, string][]) =>
    h(
      'label',
      {},
      `${label} `,
      h(
        'select',
        { name, onchange: (e) => reload({ [name]: (e.target as HTMLSelectElement).value }) },
        ...options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
      ),
    );
  return h(
    'div',
    { class: 'filters', role: 'group', 'aria-label': 'Filters' },
    select('Whose', 'who', String(args.who ?? 'mine'), [
      ['mine', 'Mine'],
      ['everyone', "Everyone's"],
    ]),
    select('Due', 'due', String(args.due ?? 'any'), [
      ['any', 'Any time'],
      ['overdue', 'Overdue'],
      ['this_week', 'This week'],
    ]),
    h(
      'label',
      {},
      h('input', {
        type: 'checkbox',
        name: 'include_done',
        checked: args.include_done === true,
        onchange: (e) => reload({ include_done: (e.target as HTMLInputElement).checked }),
      }),
      ' Include done',
    ),
  );
}

function taskItem(task: TaskRow, today: string, context: ViewContext): HTMLElement {
  const done = task.done_date !== null;
  const overdue = !done && task.due_date !== null && task.due_date.slice(0, 10) < today;
  const postpone = (until: string) => void context.act('postpone_task', { task_id: task.id, until });
  return h(
    'li',
    { class: done ? 'done' : '', 'data-task-id': task.id },
    h('input', {
      type: 'checkbox',
      id: `task-${task.id}`,
      checked: done,
      'aria-label': `Done: ${task.text}`,
      onchange: () => void context.act('complete_task', { task_id: task.id, done: !done }),
    }),
    h(
      'div',
      { class: 'grow' },
      h('label', { class: 'text', for: `task-${task.id}` }, task.text),
      h(
        'div',
        { class: 'meta' },
        task.type && task.type !== 'none' ? `${labelOf(task.type)} · ` : '',
        h(
          'span',
          { class: overdue ? 'overdue' : '' },
          task.due_date ? `due ${shortDate(task.due_date)}` : 'no due date',
        ),
        overdue ? ' (overdue)' : '',
        ' · ',
        task.contact_url
          ? h(
              'button',
              {
                type: 'button',
                class: 'link',
                'aria-label': `Open ${task.contact_name} in Atomic CRM`,
                onclick: () => context.open(task.contact_url!),
              },
              task.contact_name,
            )
          : task.contact_name,
        task.company_name ? ` (${task.company_name})` : '',
        task.owner ? ` · ${task.owner}` : '',
      ),
    ),
    done
      ? null
      : h(
          'div',
          { class: 'actions', role: 'group', 'aria-label': `Postpone: ${task.text}` },
          h('button', { type: 'button', onclick: () => postpone('tomorrow') }, 'Tomorrow'),
          h('button', { type: 'button', onclick: () => postpone('next_week') }, 'Next week'),
          h('input', {
            type: 'date',
            'aria-label': `Postpone to a date: ${task.text}`,
            min: today,
            onchange: (e) => {
              const value = (e.target as HTMLInputElement).value;
              if (value) postpone(value);
            },
          }),
        ),
  );
}

export function renderTasks(raw: ViewData, context: ViewContext): Node {
  const data = raw as TasksData;
  const count = data.tasks.length;
  return h(
    'section',
    { 'aria-label': 'Tasks' },
    h('h1', {}, `Tasks (${count}${data.truncated ? '+' : ''})`),
    filters(data, context),
    count
      ? h(
          'ul',
          { class: 'list', 'aria-label': 'Task list' },
          ...data.tasks.map((t) => taskItem(t, data.today, context)),
        )
      : h('p', { class: 'muted' }, 'No tasks match these filters.'),
    data.truncated ? h('p', { class: 'muted' }, 'More tasks match: narrow the filters to see them all.') : null,
  );
}
