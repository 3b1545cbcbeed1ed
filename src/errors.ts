/**
 * Every error code the server answers with, once: where it surfaces (a tool's `isError` result or
 * an HTTP status), the level of the log line that reports it, and whether it is a security event.
 * Callers switch on `code`, as with jose's errors; the audit trail asks `securityEvent` and nothing
 * else, so deciding that a code is (or stops being) an attack signal is one edit here.
 */
import type { Level } from './log.js';

/** The `kind` of a `security_event` log line. */
export type SecurityEventKind = 'policy_refusal' | 'integrity_violation' | 'auth_failure' | 'origin_refused';

interface ToolCode {
  /** Answered as a tool result with `isError` and `{ error: { code, message, … } }`. */
  surface: 'tool';
  level: Level;
  securityEvent?: SecurityEventKind;
}

interface HttpCode {
  /** Answered as an HTTP error with `{ error, error_description }`. */
  surface: 'http';
  status: 400 | 401 | 403 | 503;
  level: Level;
  securityEvent?: SecurityEventKind;
}

// Codes that only reach the tool_call line are logged at info; a security event's level is its line's.
const tool = (securityEvent?: SecurityEventKind, level: Level = securityEvent ? 'warn' : 'info'): ToolCode =>
  securityEvent ? { surface: 'tool', level, securityEvent } : { surface: 'tool', level };
const http = (status: HttpCode['status'], securityEvent?: SecurityEventKind, level: Level = 'warn'): HttpCode =>
  securityEvent ? { surface: 'http', status, level, securityEvent } : { surface: 'http', status, level };

export const errorCodes = {
  // The database refused or failed the statement (DbError).
  SQL_ERROR: tool(),
  STATEMENT_TIMEOUT: tool(),
  CANCELLED: tool(),
  POOL_BUSY: tool(),
  /** A write broke an invariant RLS alone cannot hold: a statement that should never be sent. */
  INTEGRITY_VIOLATION: tool('integrity_violation', 'error'),
  DATABASE_UNAVAILABLE: tool(),
  DATABASE_MISCONFIGURED: tool(),
  /** The connection was lost during a write and PostgreSQL confirms it rolled back: safe to retry. */
  WRITE_ROLLED_BACK: tool(),
  /** The connection was lost after COMMIT left and the outcome is unknown: check before retrying. */
  WRITE_IN_DOUBT: tool(),
  /** The user already runs as many statements as one user may at once: retry shortly. */
  USER_BUSY: tool(),

  // The statement policy refused the text (Refusal). Mistakes any agent makes are not events.
  INVALID_TEXT: tool('policy_refusal'),
  SYNTAX_ERROR: tool(),
  EMPTY: tool(),
  MULTIPLE_STATEMENTS: tool('policy_refusal'),
  STATEMENT_NOT_ALLOWED: tool('policy_refusal'),
  WRONG_TOOL: tool(),
  FUNCTION_NOT_ALLOWED: tool('policy_refusal'),
  FUNCTION_UNCLASSIFIED: tool('policy_refusal'),
  SCHEMA_NOT_ALLOWED: tool('policy_refusal'),
  LOCKING_CLAUSE: tool('policy_refusal'),
  SELECT_INTO: tool('policy_refusal'),
  WRITE_IN_QUERY: tool('policy_refusal'),

  // Tools' own answers.
  /** Whatever a tool threw that is not a DbError: opaque to the agent, a tool_failure line for us. */
  INTERNAL_ERROR: tool(undefined, 'error'),
  TABLE_NOT_FOUND: tool(),
  CONFIRMATION_REQUIRED: tool(),
  CONFIRMATION_STALE: tool(),
  /** A confirmation replayed for another statement than the one the user approved. */
  CONFIRMATION_MISMATCH: tool('policy_refusal'),
  WRITE_DECLINED: tool(),
  UNKNOWN_VALUE: tool(),
  CONTACT_NOT_FOUND: tool(),
  TASK_NOT_FOUND: tool(),
  COMPANY_NOT_FOUND: tool(),
  DEAL_NOT_FOUND: tool(),
  /** show_record needs exactly one of contact_id and company_id. */
  RECORD_NOT_CHOSEN: tool(),
  /** An archived deal is on no board column: unarchive it before moving it. */
  DEAL_ARCHIVED: tool(),
  /** fetch: the id is not `kind:number`. */
  INVALID_RECORD_ID: tool(),
  /** fetch: no such record, or RLS hides it (one answer for both). */
  RECORD_NOT_FOUND: tool(),

  // Why a request's token was refused (TokenError, and the bearer middleware's own reasons).
  TOKEN_IN_QUERY: http(400, 'auth_failure'),
  /** Every client's first step of discovery: answered with the challenge, not an event. */
  TOKEN_MISSING: http(401, undefined, 'debug'),
  TOKEN_MALFORMED: http(401, 'auth_failure'),
  TOKEN_EXPIRED: http(401, 'auth_failure'),
  TOKEN_NOT_YET_VALID: http(401, 'auth_failure'),
  TOKEN_SIGNATURE_INVALID: http(401, 'auth_failure'),
  TOKEN_ALGORITHM_NOT_ALLOWED: http(401, 'auth_failure'),
  TOKEN_KEY_UNKNOWN: http(401, 'auth_failure'),
  TOKEN_ISSUER_INVALID: http(401, 'auth_failure'),
  TOKEN_AUDIENCE_INVALID: http(401, 'auth_failure'),
  TOKEN_CLAIM_INVALID: http(401, 'auth_failure'),
  TOKEN_NOT_FOR_OAUTH_CLIENT: http(401, 'auth_failure'),
  JWKS_UNAVAILABLE: http(503, 'auth_failure'),

  // The request itself.
  ORIGIN_NOT_ALLOWED: http(403, 'origin_refused'),
  /** More requests in flight than MAX_IN_FLIGHT: shed with Retry-After, not logged. */
  OVERLOADED: http(503),
} as const satisfies Record<string, ToolCode | HttpCode>;

export type ErrorCode = keyof typeof errorCodes;

/** Codes answered as tool results. */
export type ToolErrorCode = {
  [C in ErrorCode]: (typeof errorCodes)[C]['surface'] extends 'tool' ? C : never;
}[ErrorCode];

/** A group of catalogued codes: a code not in the catalogue fails to compile. */
export type Codes<C extends ErrorCode> = C;

/** The one base class: every error the server throws on purpose carries a catalogued code. */
export class CodedError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Whether an outcome (a code, or 'ok' and the like) is a security event, and at which level its
 * `security_event` line is written.
 */
export function securityEvent(outcome: string): { kind: SecurityEventKind; level: Level } | undefined {
  if (!Object.hasOwn(errorCodes, outcome)) return undefined;
  const entry: ToolCode | HttpCode = errorCodes[outcome as ErrorCode];
  return entry.securityEvent ? { kind: entry.securityEvent, level: entry.level } : undefined;
}
