/**
 * `mutate`: one INSERT, UPDATE, DELETE or MERGE, run as the signed-in user under Row Level
 * Security, committed on success and rolled back on any error.
 */
import { z } from 'zod';
import { checkStatement } from '../../db/policy.js';
import { runStatement } from '../../db/run.js';
import { rowsResult } from '../results.js';
import { refusalOutcome, statementOutput, type ToolDefinition } from './tool.js';

export const mutateTool: ToolDefinition<{ sql: z.ZodString }> = {
  name: 'mutate',
  config: {
    title: 'Change CRM data with SQL',
    description: [
      'Run ONE INSERT, UPDATE, DELETE or MERGE statement (optionally under WITH) as the signed-in user; Row Level',
      'Security decides what may change. It commits on success and changes nothing on error. Add',
      '`RETURNING *` (or the columns you need) to see the rows written. Atomic CRM notes: leave sales_id out',
      'and it defaults to the current user; contact_notes need contact_id, deal_notes need deal_id, tasks need',
      'contact_id; deals need name and stage (a slug such as opportunity); emails go in contacts.email_jsonb',
      'as [{"email":"a@b.com","type":"Work"}]; a task is done by setting done_date = now(). Deleting a company',
      'deletes its contacts, deals, notes and tasks. Reads belong to the `query` tool.',
    ].join(' '),
    inputSchema: {
      sql: z.string().min(1).max(100_000).describe('Exactly one INSERT, UPDATE, DELETE or MERGE statement.'),
    },
    outputSchema: statementOutput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  },
  async run({ sql: text }, { deps, principal, signal }) {
    const verdict = checkStatement(text, 'mutate');
    if (!verdict.ok) return refusalOutcome(verdict.refusal);
    const result = await runStatement(deps.sql, principal, verdict.statement, {
      access: 'write',
      limits: deps.limits,
      typeNames: deps.typeNames,
      signal,
    });
    const returned = result.rows.length ? ` Returned ${result.rows.length} row${result.rows.length === 1 ? '' : 's'}.` : '';
    const summary = result.notice
      ? `${result.command}: committed.`
      : `${result.command}: ${result.rowCount} row${result.rowCount === 1 ? '' : 's'} affected.${returned}`;
    return { result: rowsResult(result, deps.limits, summary), outcome: 'ok', rowCount: result.rowCount, truncated: result.truncated };
  },
};
