/**
 * `fetch`: the tool ChatGPT's connectors and deep research call by this name (docs/openai-search-fetch.md).
 * An id from `search` in; `{ id, title, text, url, metadata }` out, as structuredContent and as the
 * one text content item OpenAI asks for, holding the same object JSON-encoded. The record's text is
 * framed as untrusted data inside `text`. Runs as the signed-in user in one read-only transaction:
 * a record that does not exist and one RLS hides get the same answer.
 */
import { z } from 'zod';
import { RECORD_KINDS, parseRecordId } from '../../crm/record-ids.js';
import { type RecordDocument, recordDocument, recordSql } from '../../crm/record-document.js';
import { EXTENDED } from '../../db/pool.js';
import { asUser } from '../../db/run.js';
import { errorResult, untrusted } from '../results.js';
import type { ToolDefinition } from './tool.js';

const input = {
  id: z
    .string()
    .max(100)
    .describe('A record id from search: company:N, contact:N, deal:N, contact_note:N or deal_note:N.'),
};

const output = z.object({
  id: z.string(),
  title: z.string(),
  text: z.string().describe('The record and its related records as compact lines, framed as data.'),
  url: z.string().describe("The record's page in the Atomic CRM web app; empty when ATOMIC_CRM_URL is not set."),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});

const RELATED: Record<(typeof RECORD_KINDS)[number], string> = {
  company: 'with its contacts and deals',
  contact: 'with its company, deals, tasks and latest notes',
  deal: 'with its company, contacts and latest notes',
  contact_note: 'with its contact',
  deal_note: 'with its deal',
};

/** Text cut to the byte budget, saying so. */
function withinBudget(body: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(body).length;
  if (bytes <= maxBytes) return body;
  const kept = body.slice(0, Math.floor((body.length * maxBytes) / bytes));
  return `${kept}\n… cut to the ${maxBytes}-byte result budget; read the rest with query.`;
}

export const fetchTool: ToolDefinition<typeof input> = {
  name: 'fetch',
  config: {
    title: 'Fetch a CRM record',
    description: [
      'Read one record found by search, by its id (contact:42), with what surrounds it: a contact with its company,',
      'deals, tasks and latest notes; a company with its contacts and deals; a deal with its company, contacts and',
      'latest notes; a note with its contact or deal. Related ids in the text can be fetched in turn.',
    ].join(' '),
    inputSchema: z.object(input),
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  async run({ id }, { deps, principal, signal }) {
    const parsed = parseRecordId(id);
    if (!parsed) {
      return {
        result: errorResult({
          code: 'INVALID_RECORD_ID',
          message: `${JSON.stringify(id.slice(0, 100))} is not a record id. Ids look like contact:42: one of ${RECORD_KINDS.join(', ')}, a colon and a positive number, as search returns them.`,
        }),
        outcome: 'INVALID_RECORD_ID',
      };
    }
    const [row] = await asUser(deps.sql, principal, { access: 'read', limits: deps.limits, signal }, (c) =>
      c.unsafe(recordSql(parsed.kind, parsed.id), [], EXTENDED),
    );
    const record = row?.record as Record<string, unknown> | null | undefined;
    if (!record) {
      return {
        result: errorResult({
          code: 'RECORD_NOT_FOUND',
          message: `No record ${parsed.kind}:${parsed.id} is visible to you. Find records with search.`,
        }),
        outcome: 'RECORD_NOT_FOUND',
        rowCount: 0,
      };
    }
    const { body, ...parts } = recordDocument(parsed.kind, record, deps.atomicCrmUrl);
    const document: RecordDocument = {
      ...parts,
      text: untrusted(
        `The ${parsed.kind.replace('_', ' ')} ${parts.id} ${RELATED[parsed.kind]}, from the CRM.`,
        withinBudget(body, deps.limits.maxBytes),
      ),
    };
    return {
      result: { content: [{ type: 'text', text: JSON.stringify(document) }], structuredContent: { ...document } },
      outcome: 'ok',
      rowCount: 1,
    };
  },
};
