/**
 * `move_deal`: dragging a deal to a stage column (and a place in it) on the web app's board, as the
 * signed-in user in one transaction.
 */
import { z } from 'zod';
import { type DealChange, moveDealSql } from '../../crm/deal.js';
import { nearestValue } from '../../crm/known-values.js';
import { configurationFor, unknownValueOutcome } from '../known-values.js';
import { errorResult } from '../results.js';
import { dealChangeOutcome } from './deal-change.js';
import { runWrite, type ToolDefinition } from './tool.js';

const input = {
  deal_id: z.number().int().positive().describe('deals.id of the deal.'),
  stage: z
    .string()
    .min(1)
    .max(100)
    .describe('A configured deal stage slug (get_schema lists dealStages, e.g. opportunity, in-negociation, won).'),
  index: z
    .number()
    .int()
    .min(0)
    .max(32_000)
    .optional()
    .describe(
      'Place in the column, 0 = top (beyond the end = last). Default: the top of a new stage, its place in the same one.',
    ),
};

export const moveDealTool: ToolDefinition<typeof input> = {
  name: 'move_deal',
  config: {
    title: 'Move a deal to a stage',
    description: [
      "Move a deal on the pipeline board as the Atomic CRM web app's drag and drop does: it takes its place in the",
      "stage's column and deals.index is renumbered in the old and the new column; the deal's updated_at = now.",
      'Prefer it to an UPDATE of deals.stage through mutate, which leaves the columns out of order.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  async run({ deal_id, stage, index }, { deps, principal, signal }) {
    const allowed = (await configurationFor(deps, principal, signal)).dealStages;
    if (!allowed.includes(stage)) {
      return unknownValueOutcome([
        {
          table: 'deals',
          column: 'stage',
          list: 'dealStages',
          value: stage,
          position: 0,
          allowed,
          nearest: nearestValue(stage, allowed),
        },
      ]);
    }
    const statement = moveDealSql({ dealId: deal_id, stage, position: index });
    const [row] = await runWrite({ deps, principal, signal }, statement);
    const change = row!.change as DealChange;
    if (change.found && change.archived) {
      return {
        result: errorResult({
          code: 'DEAL_ARCHIVED',
          message: `Deal ${deal_id} is archived, so it is on no board column; nothing was written. Unarchive it first with archive_deal (archived: false).`,
        }),
        outcome: 'DEAL_ARCHIVED',
      };
    }
    return dealChangeOutcome(change, deal_id, (deal) => `Deal ${deal.id} is in ${deal.stage} at index ${deal.index}.`);
  },
};
