/**
 * `show_pipeline`: the deals board as the Atomic CRM web app draws it (one column per configured
 * stage, unarchived deals in board order), read as the signed-in user and drawn by the Pipeline
 * app, where the user moves a deal to another stage or archives it. Hosts without apps get the
 * columns and their totals as compact text.
 */
import { z } from 'zod';
import { recordUrl } from '../../crm/links.js';
import { EXTENDED } from '../../db/pool.js';
import { asUser, inlineParameters } from '../../db/run.js';
import { appToolMeta } from '../apps/ui.js';
import { configurationFor } from '../known-values.js';
import { untrusted } from '../results.js';
import type { ToolDefinition } from './tool.js';

const MAX_DEALS = 300;

const input = {
  mine: z.boolean().default(false).describe("Only the user's own deals (default: everyone's)."),
  category: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('Only deals of this category slug (get_schema lists dealCategories).'),
  closing_this_quarter: z
    .boolean()
    .default(false)
    .describe('Only deals whose expected closing date falls in the current calendar quarter (UTC).'),
};

interface BoardDeal {
  id: number;
  name: string;
  stage: string;
  amount: number | null;
  category: string | null;
  expected_closing_date: string | null;
  company_name: string | null;
  url?: string;
}

// Every matching deal counts in its column's total; at most MAX_DEALS cards are sent.
const PIPELINE_SQL = `
with matching as (
  select d.id, d.name, d.stage, d.amount, d.category, d.expected_closing_date, d.index, co.name as company_name
  from public.deals d
  left join public.companies co on co.id = d.company_id
  where d.archived_at is null
    and (not $1::boolean or d.sales_id = (select id from public.sales where user_id = auth.uid()))
    and ($2::text is null or d.category = $2::text)
    and (not $3::boolean or (
      d.expected_closing_date >= date_trunc('quarter', now() at time zone 'UTC')::date
      and d.expected_closing_date < (date_trunc('quarter', now() at time zone 'UTC') + interval '3 months')::date))
), cards as (
  select id, name, stage, amount, category, expected_closing_date, company_name
  from matching order by coalesce(index, 32767), id limit ${MAX_DEALS + 1}
)
select
  (select coalesce(json_agg(c), '[]'::json) from cards c) as deals,
  (select coalesce(json_object_agg(stage, json_build_object('total', total, 'count', n)), '{}'::json)
     from (select stage, coalesce(sum(amount), 0)::float8 as total, count(*)::int as n from matching group by stage) s) as totals,
  (select config->>'currency' from public.configuration where id = 1) as currency`;

export const showPipelineTool: ToolDefinition<typeof input> = {
  name: 'show_pipeline',
  config: {
    title: 'Show the deal pipeline',
    description: [
      'Show the deals board (MCP Apps hosts draw it; others get the columns as text): one column per configured',
      "deal stage with its deals in board order and the column's total amount; archived deals are left out. Filters:",
      "the user's own deals, a category, closing this quarter. The user can move a deal to another stage and archive",
      'it from the board. Rows come from the database as the signed-in user.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    _meta: appToolMeta('pipeline'),
  },
  async run(args, { deps, principal, signal }) {
    const [config, [row]] = await Promise.all([
      configurationFor(deps, principal, signal),
      asUser(deps.sql, principal, { access: 'read', limits: deps.limits, signal }, (c) =>
        c.unsafe(
          inlineParameters(PIPELINE_SQL, [args.mine, args.category ?? null, args.closing_this_quarter]),
          [],
          EXTENDED,
        ),
      ),
    ]);
    const all = row!.deals as BoardDeal[];
    const totals = row!.totals as Record<string, { total: number; count: number }>;
    const currency = (row!.currency as string | null) ?? 'USD';
    const truncated = all.length > MAX_DEALS;
    const deals = all.slice(0, MAX_DEALS).map((deal) => {
      const url = recordUrl(deps.atomicCrmUrl, 'deals', deal.id);
      return url ? { ...deal, url } : deal;
    });
    // The configured stages in order, then any stage a deal holds that the configuration lost.
    const slugs = [...config.dealStages, ...Object.keys(totals).filter((s) => !config.dealStages.includes(s))];
    const stages = slugs.map((stage) => ({
      stage,
      total: totals[stage]?.total ?? 0,
      count: totals[stage]?.count ?? 0,
      deals: deals.filter((d) => d.stage === stage),
    }));
    const lines = stages.map(
      (s) =>
        `${s.stage}: ${s.count} deal${s.count === 1 ? '' : 's'}, ${s.total} ${currency}` +
        (s.deals.length ? ` — ${s.deals.map((d) => `#${d.id} ${d.name} (${d.amount ?? 0})`).join('; ')}` : ''),
    );
    const summary =
      `${Object.values(totals).reduce((n, t) => n + t.count, 0)} open deals in ${stages.length} stages` +
      `${truncated ? ` (cards for the first ${MAX_DEALS}; filter to see the rest)` : ''}. ` +
      'Move one with move_deal, archive it with archive_deal.';
    return {
      result: {
        content: [{ type: 'text', text: `${summary}\n${untrusted('The board, one stage a line.', lines.join('\n'))}` }],
        structuredContent: {
          tool: 'show_pipeline',
          args,
          stages,
          categories: config.dealCategories,
          currency,
          truncated,
        },
      },
      outcome: 'ok',
      rowCount: deals.length,
      truncated: truncated ? 'rows' : null,
    };
  },
};
