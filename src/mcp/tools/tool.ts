/**
 * What every tool shares: its definition shape, the context it runs in, and the output schema of
 * statement results.
 */
import type { CallToolResult, InputRequiredResult, ToolAnnotations } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Principal } from '../../auth/verify.js';
import { EXTENDED, type Sql } from '../../db/pool.js';
import type { Refusal } from '../../db/policy.js';
import { asUser, inlineParameters, type Limits } from '../../db/run.js';
import type { Asking } from '../confirm.js';
import { errorResult } from '../results.js';

export interface ToolDeps {
  sql: Sql;
  limits: Limits;
  typeNames: ReadonlyMap<number, string>;
  /** A write that changes more rows than this, or deletes any, asks the user first. */
  confirmWriteRows: number;
  /** The Atomic CRM web app's base URL, when configured: records link into it (src/crm/links.ts). */
  atomicCrmUrl?: string;
}

export interface ToolContext {
  deps: ToolDeps;
  principal: Principal;
  signal: AbortSignal;
  /** How this call can ask the human (destructive writes). */
  asking: Asking;
}

/** What a tool reports besides its result, for the audit line. */
export interface ToolOutcome {
  /** A result, or (2026-07-28) a question for the user that the client answers by retrying. */
  result: CallToolResult | InputRequiredResult;
  /** 'ok', or the stable code of the refusal or error. */
  outcome: string;
  /** PostgreSQL's SQLSTATE when the database refused the statement. */
  sqlstate?: string;
  rowCount?: number;
  truncated?: string | null;
}

export interface ToolDefinition<Input extends z.ZodRawShape> {
  name: string;
  config: {
    title: string;
    description: string;
    inputSchema: z.ZodObject<Input>;
    outputSchema?: z.ZodObject;
    annotations: ToolAnnotations;
    /** MCP Apps: the view that draws the result (src/mcp/apps/ui.ts). */
    _meta?: Record<string, unknown>;
  };
  run(input: z.infer<z.ZodObject<Input>>, context: ToolContext): Promise<ToolOutcome>;
}

/** The outcome of a statement the policy refused (src/errors.ts says which refusals are security events). */
export function refusalOutcome(refusal: Refusal): ToolOutcome {
  return { result: errorResult({ ...refusal }), outcome: refusal.code };
}

export const statementOutput = z.object({
  command: z.string().describe('PostgreSQL command tag: SELECT, INSERT, UPDATE, DELETE or MERGE.'),
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  rows: z.array(z.record(z.string(), z.unknown())),
  rowCount: z.number().int().describe('Rows returned (query) or affected (mutate).'),
  truncated: z.boolean().describe('True when rows were left out to respect the result caps.'),
  notice: z.string().optional().describe('How to narrow the statement when the result was truncated.'),
  notices: z.array(z.string()).optional().describe('Values compared with that the CRM configuration does not know.'),
});

/** A domain tool's own statement: a template from src/crm/ and its values. */
export interface OwnStatement {
  text: string;
  parameters: readonly (string | number | boolean | null)[];
}

/**
 * Runs a domain tool's statement as the user in one write transaction, its values inlined
 * (inlineParameters) so the call stays one round trip.
 */
export function runWrite(
  { deps, principal, signal }: Pick<ToolContext, 'deps' | 'principal' | 'signal'>,
  statement: OwnStatement,
) {
  return asUser(deps.sql, principal, { access: 'write', limits: deps.limits, signal }, (c) =>
    c.unsafe(inlineParameters(statement.text, statement.parameters), [], EXTENDED),
  );
}
