/**
 * `archive_deal`: the web app's Archive and Unarchive buttons on a deal, as the signed-in user in
 * one transaction.
 */
import { z } from 'zod';
import { archiveDealSql, type DealChange, unarchiveDealSql } from '../../crm/deal.js';
import { dealChangeOutcome } from './deal-change.js';
import { runWrite, type ToolDefinition } from './tool.js';

const input = {
  deal_id: z.number().int().positive().describe('deals.id of the deal.'),
  archived: z.boolean().default(true).describe('true (default): archive it; false: put it back on the board.'),
};

export const archiveDealTool: ToolDefinition<typeof input> = {
  name: 'archive_deal',
  config: {
    title: 'Archive or unarchive a deal',
    description: [
      'Archive a deal as the Atomic CRM web app does (archived_at = now; it leaves the board), or with archived: false',
      'put it back at the top of its stage, the stage renumbered below it. The deal gets updated_at = now. Prefer it to',
      'setting archived_at through mutate, which leaves deals.index inconsistent on unarchive.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  async run({ deal_id, archived }, { deps, principal, signal }) {
    const statement = archived ? archiveDealSql(deal_id) : unarchiveDealSql(deal_id);
    const [row] = await runWrite({ deps, principal, signal }, statement);
    return dealChangeOutcome(row!.change as DealChange, deal_id, (deal) =>
      deal.archived_at
        ? `Deal ${deal.id} is archived (${deal.archived_at}).`
        : `Deal ${deal.id} is on the board in ${deal.stage} at index ${deal.index}.`,
    );
  },
};
