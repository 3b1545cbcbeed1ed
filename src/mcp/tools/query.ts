/**
 * `query`: one read-only SQL statement, run as the signed-in user under Row Level Security.
 */
import { z } from 'zod';
import { checkStatement } from '../../db/policy.js';
import { runStatement } from '../../db/run.js';
import { unknownValues, valueUses } from '../../crm/known-values.js';
import { configurationForFilters, unknownFilterNotices } from '../known-values.js';
import { rowsResult } from '../results.js';
import { refusalOutcome, statementOutput, type ToolDefinition } from './tool.js';

export const queryTool: ToolDefinition<{ sql: z.ZodString }> = {
  name: 'query',
  config: {
    title: 'Read CRM data with SQL',
    description: [
      'Run ONE read-only PostgreSQL statement (SELECT, WITH … SELECT, VALUES, TABLE) against the Atomic CRM',
      'database as the signed-in user; Row Level Security decides what is visible. Call get_schema first for',
      "tables and columns. Tips for Atomic CRM: ids are bigint; the current user's sales row is",
      '`select * from sales where user_id = auth.uid()` (sales_id columns hold sales.id, never the auth uuid);',
      'contacts have no email column: emails are the jsonb array `email_jsonb` ([{"email","type"}]), e.g.',
      '`email_jsonb @> \'[{"email":"a@b.com"}]\'`; tags and deals.contact_ids are bigint[] (use `= any(...)`);',
      'deals.stage is a slug (opportunity, proposal-sent, in-negociation, won, lost, delayed; a filter on a slug',
      'the configuration does not know comes back with a notice) and `archived_at is null` means active; a task',
      'is pending while done_date is null. Views contacts_summary and',
      'companies_summary add company_name, nb_tasks, nb_deals, nb_contacts. Results are capped (rows and',
      'bytes): aggregate and filter in SQL. Writes belong to the `mutate` tool.',
    ].join(' '),
    inputSchema: z.object({
      sql: z.string().min(1).max(100_000).describe('Exactly one read-only SQL statement.'),
    }),
    outputSchema: statementOutput,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  async run({ sql: text }, { deps, principal, signal }) {
    const verdict = checkStatement(text, 'query');
    if (!verdict.ok) return refusalOutcome(verdict.refusal);
    const filters = valueUses(verdict.tree, text).filters;
    // Read beside the statement, not before it; a configuration that cannot be read only costs the notice.
    const [result, config] = await Promise.all([
      runStatement(deps.sql, principal, verdict.statement, {
        access: 'read',
        limits: deps.limits,
        typeNames: deps.typeNames,
        signal,
      }),
      filters.length ? configurationForFilters(deps, principal, signal, filters)?.catch(() => null) : null,
    ]);
    const notices = config ? unknownFilterNotices(unknownValues(filters, config)) : [];
    const summary = `${result.rowCount} row${result.rowCount === 1 ? '' : 's'}.`;
    return {
      result: rowsResult(result, deps.limits, summary, notices),
      outcome: 'ok',
      rowCount: result.rowCount,
      truncated: result.truncated,
    };
  },
};
