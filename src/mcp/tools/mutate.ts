/**
 * `mutate`: one INSERT, UPDATE, DELETE or MERGE, run as the signed-in user under Row Level
 * Security, committed on success and rolled back on any error. A write that deletes rows or
 * changes many is held until the user confirms it (see ../confirm.ts).
 */
import { z } from 'zod';
import { checkStatement } from '../../db/policy.js';
import { runStatement, WriteHeld, type StatementResult } from '../../db/run.js';
import { unknownValues, valueUses } from '../../crm/known-values.js';
import { configurationFor, unknownValueOutcome } from '../known-values.js';
import { describeChanges, sampleRows, statementHash } from '../confirm.js';
import { errorResult, rowsResult, untrusted } from '../results.js';
import { refusalOutcome, statementOutput, type ToolDefinition, type ToolOutcome } from './tool.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const mutateTool: ToolDefinition<{ sql: z.ZodString; confirm_rows: z.ZodOptional<z.ZodNumber> }> = {
  name: 'mutate',
  config: {
    title: 'Change CRM data with SQL',
    description: [
      'Run ONE INSERT, UPDATE, DELETE or MERGE statement (optionally under WITH) as the signed-in user; Row Level',
      'Security decides what may change. It commits on success and changes nothing on error. Add',
      '`RETURNING *` (or the columns you need) to see the rows written. Atomic CRM notes: leave sales_id out',
      'and it defaults to the current user; contact_notes need contact_id, deal_notes need deal_id, tasks need',
      'contact_id; deals need name and stage (a slug such as opportunity); emails go in contacts.email_jsonb',
      'as [{"email":"a@b.com","type":"Work"}]; deals.stage and category, contacts and contact_notes status, tasks.type',
      'and companies.sector take only the configured slugs (get_schema lists them): another value is refused as',
      'UNKNOWN_VALUE with the nearest one. The web app keeps some columns itself (get_schema lists them):',
      'contacts.status and last_seen follow notes, deals.index orders each stage column, deals.updated_at has no',
      'trigger (for those prefer log_contact_note, create_task, complete_task, postpone_task, move_deal,',
      'archive_deal, log_deal_note or create_contact, which keep them as the app does); contacts.tags and',
      'deals.contact_ids hold ids without a foreign key; merging two contacts or deleting a tag takes several',
      'calls, in the order get_schema gives; companies.revenue is free text. Deleting a company',
      'deletes its contacts, deals, notes and tasks. A write that deletes rows or changes many first asks the',
      'user (nothing changes until they agree); add RETURNING id, name so they see which rows. Reads belong to',
      'the `query` tool.',
    ].join(' '),
    inputSchema: z.object({
      sql: z.string().min(1).max(100_000).describe('Exactly one INSERT, UPDATE, DELETE or MERGE statement.'),
      confirm_rows: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe('Only after the user agreed to a change this tool held for confirmation: the row count it reported.'),
    }),
    outputSchema: statementOutput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  },
  async run({ sql: text, confirm_rows }, { deps, principal, signal, asking }) {
    const verdict = checkStatement(text, 'mutate');
    if (!verdict.ok) return refusalOutcome(verdict.refusal);
    const writes = valueUses(verdict.tree, text).writes;
    if (writes.length) {
      const unknown = unknownValues(writes, await configurationFor(deps, principal, signal));
      if (unknown.length) return unknownValueOutcome(unknown);
    }
    const hash = statementHash(verdict.statement);
    // The count the user agreed to. Where the client can ask the human, only their answer counts:
    // an agent steered by hostile text could pass confirm_rows itself.
    let expected: number | undefined;
    if (asking.canElicit) {
      const { answer } = asking;
      if (answer.kind === 'declined') return declined();
      if (answer.kind === 'accepted') {
        if (answer.state.statement !== hash) return mismatch();
        expected = answer.state.rows;
      }
    } else {
      expected = confirm_rows;
    }

    let result: StatementResult;
    try {
      result = await runStatement(deps.sql, principal, verdict.statement, {
        access: 'write',
        limits: deps.limits,
        typeNames: deps.typeNames,
        signal,
        guard: { maxRows: deps.confirmWriteRows, expected },
      });
    } catch (error) {
      if (!(error instanceof WriteHeld)) throw error;
      const rows = error.total;
      const what = `${describeChanges(error.changes)} (${plural(rows, 'row')} in all, cascades included)`;
      if (expected !== undefined) return stale(expected, rows, what);
      const sample = sampleRows(error.result);
      if (asking.canElicit) {
        const message = [
          `An AI agent asks to change your CRM: this statement ${what}.`,
          `Statement: ${verdict.statement.slice(0, 300)}${verdict.statement.length > 300 ? '…' : ''}`,
          ...sample.map((row) => `• ${JSON.stringify(row)}`),
          'Apply it?',
        ].join('\n');
        return {
          result: await asking.ask({ statement: hash, rows }, message),
          outcome: 'CONFIRMATION_REQUESTED',
          rowCount: 0,
        };
      }
      const held = errorResult({
        code: 'CONFIRMATION_REQUIRED',
        message:
          `Nothing was changed yet: this statement ${what}. Deleting rows or changing more than ` +
          `${plural(deps.confirmWriteRows, 'row')} needs the user's consent. Tell the user exactly what it would change` +
          `${sample.length ? ' (the rows below)' : ''}; if they agree, call mutate again with the same sql and confirm_rows: ${rows}.`,
        rows,
        changes: error.changes,
      });
      if (sample.length)
        held.content.push({ type: 'text', text: untrusted('Rows it would change, as JSON.', JSON.stringify(sample)) });
      return { result: held, outcome: 'CONFIRMATION_REQUIRED', rowCount: 0 };
    }
    const returned = result.rows.length
      ? ` Returned ${result.rows.length} row${result.rows.length === 1 ? '' : 's'}.`
      : '';
    const summary = result.notice
      ? `${result.command}: committed.`
      : `${result.command}: ${result.rowCount} row${result.rowCount === 1 ? '' : 's'} affected.${returned}`;
    return {
      result: rowsResult(result, deps.limits, summary),
      outcome: 'ok',
      rowCount: result.rowCount,
      truncated: result.truncated,
    };
  },
};

function declined(): ToolOutcome {
  return {
    result: errorResult({
      code: 'WRITE_DECLINED',
      message: 'The user declined this change; nothing was changed. Do not retry it unless they ask.',
    }),
    outcome: 'WRITE_DECLINED',
  };
}

function mismatch(): ToolOutcome {
  return {
    result: errorResult({
      code: 'CONFIRMATION_MISMATCH',
      message:
        'The confirmation was given for a different statement; nothing was changed. Send the statement the user approved, or ask again.',
    }),
    outcome: 'CONFIRMATION_MISMATCH',
  };
}

function stale(confirmed: number, now: number, what: string): ToolOutcome {
  return {
    result: errorResult({
      code: 'CONFIRMATION_STALE',
      message:
        `The user confirmed a change of ${plural(confirmed, 'row')}, but the statement now ${what}; nothing was changed. ` +
        'The data moved since: show the user the new count and ask again.',
      rows: now,
    }),
    outcome: 'CONFIRMATION_STALE',
  };
}
