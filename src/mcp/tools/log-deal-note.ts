/**
 * `log_deal_note`: "what happened on this deal", done as the web app does it (the note by the
 * signed-in user, the deal's updated_at), in one transaction.
 */
import { z } from 'zod';
import { type LoggedDealNote, logDealNoteSql } from '../../crm/deal-note.js';
import { untrusted } from '../results.js';
import { dealNotFoundOutcome } from './deal-change.js';
import { runWrite, type ToolDefinition } from './tool.js';

const input = {
  deal_id: z.number().int().positive().describe('deals.id of the deal the note is about.'),
  text: z.string().min(1).max(20_000).describe("What happened, in the user's words."),
  date: z.iso.datetime({ offset: true }).optional().describe('When it happened (ISO 8601); default now.'),
};

export const logDealNoteTool: ToolDefinition<typeof input> = {
  name: 'log_deal_note',
  config: {
    title: 'Log a note on a deal',
    description: [
      'Add a note to a deal exactly as the Atomic CRM web app does: written by the signed-in user, dated now unless',
      "`date` is given; the deal's updated_at becomes now (its last activity). Prefer it to an INSERT through mutate.",
      'For a note on a person use log_contact_note.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  async run({ deal_id, text, date }, { deps, principal, signal }) {
    const statement = logDealNoteSql({ dealId: deal_id, text, date });
    const [row] = await runWrite({ deps, principal, signal }, statement);
    const logged = row!.logged as { note: LoggedDealNote['note'] | null; deal: LoggedDealNote['deal'] | null };
    if (!logged.note || !logged.deal) return dealNotFoundOutcome(deal_id);
    return {
      result: {
        content: [
          {
            type: 'text',
            text: `Logged note ${logged.note.id} on deal ${logged.deal.id}.\n${untrusted('The note as written, as JSON.', JSON.stringify(logged.note))}`,
          },
        ],
        structuredContent: logged,
      },
      outcome: 'ok',
      rowCount: 2,
    };
  },
};
