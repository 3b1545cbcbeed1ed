/**
 * Asking the human before a destructive write. A `mutate` that deletes rows or changes more than
 * the configured number is run and rolled back (db/run.ts WriteGuard); then:
 *
 * - a 2026-07-28 client that declares elicitation gets an `input_required` result: a yes/no
 *   question showing the count, the tables and a few of the returned rows, plus a `requestState`
 *   that seals the statement's hash and the count (HMAC, bound to the user, ten minutes). Its
 *   retry with the user's acceptance commits only if the statement and the count are unchanged.
 * - any other client gets a result asking the agent to confirm with the user and call again with
 *   `confirm_rows: <count>`. An agent could pass that number unasked; where the client can ask the
 *   human, `confirm_rows` is therefore ignored and the human is asked.
 *
 * Nothing is kept between the rounds: any replica with the same key can finish the flow.
 */
import { createHash } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  createRequestStateCodec,
  inputRequired,
  type InputRequiredResult,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { StatementResult, TableChanges } from '../db/run.js';

/** What a confirmation covers: the exact statement (by hash) and the count the user saw. */
export interface ConfirmState {
  statement: string;
  rows: number;
}

/** The user's answer carried by a retried request, if it carries one. */
export type Answer = { kind: 'none' } | { kind: 'declined' } | { kind: 'accepted'; state: ConfirmState };

/** How one call can reach the human. */
export interface Asking {
  /** The client can show the user a question and return the answer (2026-07-28 elicitation). */
  canElicit: boolean;
  answer: Answer;
  /** An input_required result asking the user about this held write. */
  ask(state: ConfirmState, message: string): Promise<InputRequiredResult>;
}

const QUESTION = 'confirm';

/** The signing codec: one key for every replica (derived from a secret they all share). */
export function confirmCodec(key: string): RequestStateCodec<ConfirmState> {
  return createRequestStateCodec<ConfirmState>({
    key,
    ttlSeconds: 600,
    // A confirmation minted for one user cannot be replayed by another.
    bind: (ctx) => {
      const extra = ctx.http?.authInfo?.extra as { principal?: { sub?: string } } | undefined;
      return `mutate\0${extra?.principal?.sub ?? ''}`;
    },
  });
}

/** Reads what the SDK lifted off the request: declared capabilities, input responses, verified state. */
export function askingFor(ctx: ServerContext, codec: RequestStateCodec<ConfirmState>): Asking {
  const envelope = ctx.mcpReq.envelope as Record<string, { elicitation?: unknown } | undefined> | undefined;
  const canElicit = envelope?.[CLIENT_CAPABILITIES_META_KEY]?.elicitation !== undefined;
  const response = ctx.mcpReq.inputResponses?.[QUESTION] as
    | { action?: string; content?: Record<string, unknown> }
    | undefined;
  // Verified by the SDK (ServerOptions.requestState.verify) before the tool runs; forged or
  // expired state never gets here.
  const state = ctx.mcpReq.requestState<ConfirmState>();
  let answer: Answer = { kind: 'none' };
  if (response && state) {
    answer =
      response.action === 'accept' && response.content?.[QUESTION] === true
        ? { kind: 'accepted', state }
        : { kind: 'declined' };
  }
  return {
    canElicit,
    answer,
    async ask(next, message) {
      return inputRequired({
        inputRequests: {
          [QUESTION]: inputRequired.elicit({
            message,
            requestedSchema: {
              type: 'object',
              properties: { [QUESTION]: { type: 'boolean', title: 'Apply this change', default: false } },
              required: [QUESTION],
            },
          }),
        },
        requestState: await codec.mint(next, ctx),
      });
    },
  };
}

/**
 * SHA-256 of the statement text, hex: what a confirmation is bound to. node:crypto's synchronous
 * hash (every runtime has it): WebCrypto's digest queues each hash on a worker thread and costs a
 * write several times the hash itself.
 */
export function statementHash(statement: string): string {
  return createHash('sha256').update(statement).digest('hex');
}

/** Columns that name a row for a person, in the order they help most. */
const IDENTIFYING = ['id', 'name', 'first_name', 'last_name', 'title', 'email', 'text', 'type', 'stage'];
const SAMPLE_ROWS = 5;

/** Up to five returned rows, reduced to the columns that say which row it is. */
export function sampleRows(result: StatementResult): Record<string, unknown>[] {
  const columns = IDENTIFYING.filter((c) => result.columns.some((col) => col.name === c));
  if (columns.length === 0) return [];
  return result.rows
    .slice(0, SAMPLE_ROWS)
    .map((row) =>
      Object.fromEntries(
        columns.map((c) => [c, typeof row[c] === 'string' ? (row[c] as string).slice(0, 80) : row[c]]),
      ),
    );
}

/** "deletes 3 rows in companies, 12 in contacts; updates 1 in deals" */
export function describeChanges(changes: TableChanges[]): string {
  const parts: string[] = [];
  for (const [verb, field] of [
    ['deletes', 'deleted'],
    ['updates', 'updated'],
    ['inserts', 'inserted'],
  ] as const) {
    const tables = changes.filter((c) => c[field] > 0).map((c) => `${c[field]} in ${c.table}`);
    if (tables.length) parts.push(`${verb} ${tables.join(', ')}`);
  }
  return parts.length ? parts.join('; ') : 'changes no row';
}
