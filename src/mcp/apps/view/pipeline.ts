/** The deals board: one column per configured stage with its total; move or archive a deal. */
import { h, labelOf, money, shortDate } from './dom.js';
import type { ViewContext, ViewData } from './main.js';

interface DealCard {
  id: number;
  name: string;
  amount: number | null;
  category: string | null;
  company_name: string | null;
  expected_closing_date: string | null;
  url?: string;
}

interface PipelineData extends ViewData {
  stages: { stage: string; total: number; count: number; deals: DealCard[] }[];
  categories: string[];
  currency: string;
  truncated: boolean;
}

function filters(data: PipelineData, context: ViewContext): HTMLElement {
  const args = data.args;
  const reload = (change: Record<string, unknown>) => void context.reload({ ...args, ...change });
  return h(
    'div',
    { class: 'filters', role: 'group', 'aria-label': 'Filters' },
    h(
      'label',
      {},
      h('input', {
        type: 'checkbox',
        name: 'mine',
        checked: args.mine === true,
        onchange: (e) => reload({ mine: (e.target as HTMLInputElement).checked }),
      }),
      ' Mine only',
    ),
    h(
      'label',
      {},
      'Category ',
      h(
        'select',
        {
          name: 'category',
          onchange: (e) => {
            const value = (e.target as HTMLSelectElement).value;
            const { category: _dropped, ...rest } = args;
            void context.reload(value ? { ...rest, category: value } : rest);
          },
        },
        h('option', { value: '' }, 'All'),
        ...data.categories.map((c) => h('option', { value: c, selected: c === args.category }, labelOf(c))),
      ),
    ),
    h(
      'label',
      {},
      h('input', {
        type: 'checkbox',
        name: 'closing_this_quarter',
        checked: args.closing_this_quarter === true,
        onchange: (e) => reload({ closing_this_quarter: (e.target as HTMLInputElement).checked }),
      }),
      ' Closing this quarter',
    ),
  );
}

function card(deal: DealCard, stage: string, stages: string[], currency: string, context: ViewContext): HTMLElement {
  return h(
    'li',
    { class: 'card', 'data-deal-id': deal.id, 'aria-label': deal.name },
    h(
      'div',
      {},
      deal.url
        ? h(
            'button',
            {
              type: 'button',
              class: 'link',
              'aria-label': `Open ${deal.name} in Atomic CRM`,
              onclick: () => context.open(deal.url!),
            },
            deal.name,
          )
        : deal.name,
    ),
    h(
      'div',
      { class: 'meta' },
      money(deal.amount, currency),
      deal.company_name ? ` · ${deal.company_name}` : '',
      deal.expected_closing_date ? ` · closes ${shortDate(deal.expected_closing_date)}` : '',
    ),
    h(
      'div',
      { class: 'actions' },
      h(
        'select',
        {
          'aria-label': `Move ${deal.name} to stage`,
          onchange: (e) => {
            const to = (e.target as HTMLSelectElement).value;
            if (to !== stage) void context.act('move_deal', { deal_id: deal.id, stage: to });
          },
        },
        ...stages.map((s) => h('option', { value: s, selected: s === stage }, labelOf(s))),
      ),
      h(
        'button',
        {
          type: 'button',
          'aria-label': `Archive ${deal.name}`,
          onclick: () => void context.act('archive_deal', { deal_id: deal.id }),
        },
        'Archive',
      ),
    ),
  );
}

export function renderPipeline(raw: ViewData, context: ViewContext): Node {
  const data = raw as PipelineData;
  const slugs = data.stages.map((s) => s.stage);
  return h(
    'section',
    { 'aria-label': 'Deal pipeline' },
    h('h1', {}, 'Deal pipeline'),
    filters(data, context),
    h(
      'div',
      { class: 'board' },
      ...data.stages.map((column) =>
        h(
          'section',
          { class: 'column', 'aria-label': `Stage ${labelOf(column.stage)}`, 'data-stage': column.stage },
          h(
            'h2',
            {},
            h('span', {}, `${labelOf(column.stage)} (${column.count})`),
            h('span', { class: 'meta', 'data-total': column.total }, money(column.total, data.currency)),
          ),
          h(
            'ul',
            { class: 'cards', 'aria-label': `Deals in ${labelOf(column.stage)}` },
            ...column.deals.map((d) => card(d, column.stage, slugs, data.currency, context)),
          ),
        ),
      ),
    ),
    data.truncated ? h('p', { class: 'muted' }, 'Some deals are left out: narrow the filters.') : null,
  );
}
