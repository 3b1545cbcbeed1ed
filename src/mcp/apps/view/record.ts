/** The record card: a contact or company, its recent notes, open tasks and deals; add a note. */
import { h, labelOf, money, shortDate } from './dom.js';
import type { ViewContext, ViewData } from './main.js';

interface Linked {
  id: number;
  name: string;
  url?: string;
}

interface RecordData extends ViewData {
  kind: 'contact' | 'company';
  record: Linked & { fields: [string, string][] };
  notes: { id: number; text: string; date: string; status: string | null; author: string | null; about?: string }[];
  tasks: { id: number; text: string; type: string; due_date: string | null; about?: string }[];
  deals: (Linked & { stage: string; amount: number | null })[];
  contacts?: (Linked & { title: string | null })[];
  noteStatuses: string[];
  currency: string;
}

function name(item: Linked, context: ViewContext): Node {
  return item.url
    ? h(
        'button',
        {
          type: 'button',
          class: 'link',
          'aria-label': `Open ${item.name} in Atomic CRM`,
          onclick: () => context.open(item.url!),
        },
        item.name,
      )
    : document.createTextNode(item.name);
}

function section(title: string, empty: string, items: Node[]): HTMLElement {
  return h(
    'section',
    { 'aria-label': title },
    h('h2', {}, title),
    items.length ? h('ul', { class: 'list' }, ...items) : h('p', { class: 'muted' }, empty),
  );
}

function noteForm(data: RecordData, context: ViewContext): HTMLElement {
  const text = h('textarea', { id: 'note-text', name: 'text', required: true, maxlength: 20000 });
  const status = h(
    'select',
    { id: 'note-status', name: 'status' },
    h('option', { value: '' }, 'Keep the status'),
    ...data.noteStatuses.map((s) => h('option', { value: s }, labelOf(s))),
  );
  // A click, not a form submission: hosts' sandboxes may not grant allow-forms.
  const add = () => {
    const body = text.value.trim();
    if (!body) return void text.focus();
    void context.act('log_contact_note', {
      contact_id: data.record.id,
      text: body,
      ...(status.value ? { status: status.value } : {}),
    });
  };
  return h(
    'form',
    { class: 'note', 'aria-label': 'Add a note', onsubmit: (event) => event.preventDefault() },
    h('label', { for: 'note-text' }, 'New note'),
    text,
    h('div', { class: 'actions' }, h('label', { for: 'note-status' }, 'Status'), status),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: add }, 'Add note')),
  );
}

export function renderRecord(raw: ViewData, context: ViewContext): Node {
  const data = raw as RecordData;
  const about = (text?: string) => (text ? ` · ${text}` : '');
  return h(
    'article',
    { 'aria-label': `${data.kind === 'contact' ? 'Contact' : 'Company'} ${data.record.name}` },
    h('h1', {}, name(data.record, context)),
    h(
      'dl',
      { class: 'details' },
      ...data.record.fields.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]),
    ),
    data.contacts
      ? section(
          'Contacts',
          'No contacts.',
          data.contacts.map((c) =>
            h(
              'li',
              {},
              h('div', { class: 'grow' }, name(c, context), c.title ? h('div', { class: 'meta' }, c.title) : null),
            ),
          ),
        )
      : null,
    section(
      'Open tasks',
      'No open tasks.',
      data.tasks.map((t) =>
        h(
          'li',
          {},
          h(
            'div',
            { class: 'grow' },
            t.text,
            h('div', { class: 'meta' }, t.due_date ? `due ${shortDate(t.due_date)}` : 'no due date', about(t.about)),
          ),
        ),
      ),
    ),
    section(
      'Deals',
      'No deals.',
      data.deals.map((d) =>
        h(
          'li',
          {},
          h(
            'div',
            { class: 'grow' },
            name(d, context),
            h('div', { class: 'meta' }, `${labelOf(d.stage)} · ${money(d.amount, data.currency)}`),
          ),
        ),
      ),
    ),
    section(
      'Recent notes',
      'No notes yet.',
      data.notes.map((n) =>
        h(
          'li',
          { 'data-note-id': n.id },
          h(
            'div',
            { class: 'grow' },
            h('div', { class: 'text' }, n.text),
            h(
              'div',
              { class: 'meta' },
              shortDate(n.date),
              n.author ? ` · ${n.author}` : '',
              n.status ? ` · ${labelOf(n.status)}` : '',
              about(n.about),
            ),
          ),
        ),
      ),
    ),
    data.kind === 'contact' ? noteForm(data, context) : null,
  );
}
