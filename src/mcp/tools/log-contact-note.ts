/**
 * `log_contact_note`: the everyday write "I talked to this person", done as the web app does it
 * (the note, then the contact's status and last_seen), as the signed-in user in one transaction.
 */
import { z } from 'zod';
import { logContactNoteSql, type LoggedNote } from '../../crm/contact-note.js';
import { nearestValue } from '../../crm/known-values.js';
import { configurationFor, unknownValueOutcome } from '../known-values.js';
import { errorResult, untrusted } from '../results.js';
import { runWrite, type ToolDefinition } from './tool.js';

const input = {
  contact_id: z.number().int().positive().describe('contacts.id of the person the note is about.'),
  text: z.string().min(1).max(20_000).describe("What happened, in the user's words."),
  status: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe(
      "A configured note status slug (get_schema lists noteStatuses, e.g. cold, warm, hot, in-contract); the contact takes it. Default: the contact's current status.",
    ),
  date: z.iso.datetime({ offset: true }).optional().describe('When it happened (ISO 8601); default now.'),
};

export const logContactNoteTool: ToolDefinition<typeof input> = {
  name: 'log_contact_note',
  config: {
    title: 'Log a note on a contact',
    description: [
      'Add a note to a contact exactly as the Atomic CRM web app does: written by the signed-in user, dated now',
      "unless `date` is given, with a status (the contact's current one unless `status` is given); the contact",
      "then takes the note's status and last_seen = now. Prefer it to an INSERT through mutate, which leaves the",
      "contact's status and last_seen stale.",
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  async run({ contact_id, text, status, date }, { deps, principal, signal }) {
    if (status !== undefined) {
      const allowed = (await configurationFor(deps, principal, signal)).noteStatuses;
      if (!allowed.includes(status)) {
        return unknownValueOutcome([
          {
            table: 'contact_notes',
            column: 'status',
            list: 'noteStatuses',
            value: status,
            position: 0,
            allowed,
            nearest: nearestValue(status, allowed),
          },
        ]);
      }
    }
    const statement = logContactNoteSql({ contactId: contact_id, text, status, date });
    const [row] = await runWrite({ deps, principal, signal }, statement);
    const logged = row!.logged as { note: LoggedNote['note'] | null; contact: LoggedNote['contact'] | null };
    if (!logged.note || !logged.contact) {
      return {
        result: errorResult({
          code: 'CONTACT_NOT_FOUND',
          message: `No contact with id ${contact_id} is visible to you; nothing was written. Find it with query on contacts.`,
        }),
        outcome: 'CONTACT_NOT_FOUND',
      };
    }
    const summary = `Logged note ${logged.note.id} on contact ${logged.contact.id}; the contact's status is now ${logged.contact.status ?? 'none'}.`;
    return {
      result: {
        content: [
          {
            type: 'text',
            text: `${summary}\n${untrusted('The note as written, as JSON.', JSON.stringify(logged.note))}`,
          },
        ],
        structuredContent: logged,
      },
      outcome: 'ok',
      rowCount: 2,
    };
  },
};
