/**
 * One tool call, as both ways in run it (the SDK's server in server.ts, the lean exchange in
 * lean-exchange.ts): exactly one audit line, a security event for a refusal that is one, any
 * failure turned into an actionable result, and the statement cancelled when the call ends early
 * (the client goes away, a shutdown stops waiting, or a 2026-07-28 request is cancelled).
 */
import type { CallToolResult, InputRequiredResult } from '@modelcontextprotocol/server';
import { statementFingerprint as fingerprint } from '../db/policy.js';
import { DbError } from '../db/run.js';
import { securityEvent } from '../errors.js';
import type { Asking } from './confirm.js';
import { failureResult } from './results.js';
import type { CallContext, McpDeps } from './server.js';
import type { ToolDefinition, ToolOutcome } from './tools/tool.js';

export interface ToolCall {
  deps: McpDeps;
  call: CallContext;
  /** How this call can ask the human (destructive writes). */
  asking: Asking;
  /** The SDK's own signal for the request (a 2026-07-28 cancellation), when the SDK serves it. */
  signal?: AbortSignal;
}

/**
 * The call's endings (and the SDK's signal) as one signal. Listeners rather than AbortSignal.any:
 * a composite signal hanging off the long-lived shutdown signal is what some runtimes keep alive.
 * The returned function detaches them.
 */
function joinSignals(signals: AbortSignal[]): [AbortSignal, () => void] {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (signals.some((s) => s.aborted)) abort();
  for (const s of signals) s.addEventListener('abort', abort, { once: true });
  return [controller.signal, () => signals.forEach((s) => s.removeEventListener('abort', abort))];
}

/** Runs `tool` on arguments already checked against its input schema. Never throws. */
export async function runToolCall(
  // biome-ignore lint/suspicious/noExplicitAny: each tool has its own input type; the caller checked it.
  tool: ToolDefinition<any>,
  input: Record<string, unknown>,
  { deps, call, asking, signal: sdkSignal }: ToolCall,
): Promise<CallToolResult | InputRequiredResult> {
  const started = performance.now();
  // From the parse the statement policy then reuses: one parse per call, for every line it writes.
  const statementFingerprint = fingerprint(input.sql);
  const [signal, detach] = joinSignals(sdkSignal ? [sdkSignal, ...call.endings] : call.endings);
  let outcome: ToolOutcome;
  try {
    outcome = await tool.run(input, { deps, principal: call.principal, signal, asking });
  } catch (error) {
    outcome = {
      result: failureResult(error),
      outcome: error instanceof DbError ? error.code : 'INTERNAL_ERROR',
      sqlstate: error instanceof DbError ? error.pg?.sqlstate : undefined,
    };
    if (!(error instanceof DbError)) {
      deps.log.error('tool_failure', {
        requestId: call.requestId,
        tool: tool.name,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  } finally {
    detach();
  }
  const event = securityEvent(outcome.outcome);
  if (event) {
    deps.log[event.level]('security_event', {
      kind: event.kind,
      requestId: call.requestId,
      sub: call.principal.sub,
      tool: tool.name,
      code: outcome.outcome,
      fingerprint: statementFingerprint,
    });
  }
  deps.log.info('tool_call', {
    requestId: call.requestId,
    sub: call.principal.sub,
    clientId: call.principal.clientId,
    tool: tool.name,
    fingerprint: statementFingerprint,
    statement: deps.logStatements ? input.sql : undefined,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    rowCount: outcome.rowCount,
    truncated: outcome.truncated
      ? outcome.truncated
      : 'isError' in outcome.result && outcome.result.isError
        ? undefined
        : false,
    outcome: outcome.outcome,
    sqlstate: outcome.sqlstate,
  });
  return outcome.result;
}
