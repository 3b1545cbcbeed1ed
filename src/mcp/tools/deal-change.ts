/**
 * How move_deal and archive_deal answer: the deal and the deals renumbered around it, or why
 * nothing was written.
 */
import type { DealChange } from '../../crm/deal.js';
import { errorResult, untrusted } from '../results.js';
import type { ToolOutcome } from './tool.js';

export function dealNotFoundOutcome(dealId: number): ToolOutcome {
  return {
    result: errorResult({
      code: 'DEAL_NOT_FOUND',
      message: `No deal with id ${dealId} is visible to you; nothing was written. Find it with query on deals.`,
    }),
    outcome: 'DEAL_NOT_FOUND',
  };
}

export function dealChangeOutcome(
  change: DealChange,
  dealId: number,
  summary: (deal: NonNullable<DealChange['deal']>) => string,
): ToolOutcome {
  if (!change.found || !change.deal) return dealNotFoundOutcome(dealId);
  const reindexed = change.reindexed.length
    ? ` ${change.reindexed.length} other deal${change.reindexed.length === 1 ? '' : 's'} renumbered.`
    : '';
  return {
    result: {
      content: [
        {
          type: 'text',
          text: `${summary(change.deal)}${reindexed}\n${untrusted('The deal, as JSON.', JSON.stringify(change.deal))}`,
        },
      ],
      structuredContent: { deal: change.deal, reindexed: change.reindexed },
    },
    outcome: 'ok',
    rowCount: 1 + change.reindexed.length,
  };
}
