/**
 * What every doctor check returns: a verdict with a stable code, what it found and, when it does
 * not pass, the exact fix. The table of checks below is also the order of the report.
 *
 * @example
 *   fail('rls', 'RLS_DISABLED', '1 of 9 table(s) in public have RLS off: notes.', 'alter table …');
 */
import type { TokenErrorCode } from '../auth/verify.js';

/** Every check, in report order, with its title. */
export const CHECKS = {
  config: 'Configuration',
  supabase_url: 'SUPABASE_URL answers',
  as_metadata: 'Authorization-server metadata (RFC 8414 path-insertion URL)',
  oauth_server: 'OAuth 2.1 server enabled',
  dynamic_registration: 'Dynamic client registration allowed',
  issuer: 'Issuer matches',
  authorization_path: 'Authorization path (consent page)',
  jwks: 'Asymmetric JWT signing key (JWKS)',
  database_url_format: 'DATABASE_URL format',
  database_connect: 'DATABASE_URL connects',
  login_role: 'Login role is least-privilege',
  authenticated_role: 'Role "authenticated" exists and is reachable',
  rls: 'Row Level Security on every table in public',
  crm_tables: 'Atomic CRM tables present',
  token: 'Access token accepted by the server',
  edge_function: 'Edge Function setup (prefix, secrets, pooler, challenge)',
} as const;

export type CheckId = keyof typeof CHECKS;

export const CHECK_IDS = Object.keys(CHECKS) as CheckId[];

/** Why a check did not pass. Operators and tests match on these; they never change meaning. */
export type FailureCode =
  | 'CHECK_ERROR'
  // configuration.ts
  | 'CONFIG_INVALID'
  | 'SUPABASE_URL_IS_DASHBOARD'
  | 'SUPABASE_URL_HAS_PATH'
  | 'SUPABASE_URL_NOT_HTTPS'
  // oauth.ts
  | 'SUPABASE_UNREACHABLE'
  | 'AS_METADATA_MISSING'
  | 'OAUTH_SERVER_DISABLED'
  | 'DCR_DISABLED'
  | 'DCR_UNCONFIRMED'
  | 'ISSUER_MISMATCH'
  | 'AUTHORIZE_UNREACHABLE'
  | 'AUTHORIZE_FAILED'
  | 'AUTHORIZATION_PATH_WRONG'
  // keys.ts
  | 'JWKS_UNREACHABLE'
  | 'JWKS_LEGACY_ONLY'
  | 'JWKS_NO_USABLE_KEY'
  | 'JWKS_NOT_ROTATED'
  // database.ts
  | 'DATABASE_URL_UNPARSEABLE'
  | 'DB_USER_FORMAT_POOLER_ON_DIRECT'
  | 'DB_USER_FORMAT_DIRECT_ON_POOLER'
  | 'DB_PROJECT_MISMATCH'
  | 'DB_TENANT_NOT_FOUND'
  | 'DB_PASSWORD'
  | 'DB_ROLE_MISSING'
  | 'DB_DATABASE_MISSING'
  | 'DB_IPV6_ONLY'
  | 'DB_HOST_UNKNOWN'
  | 'DB_UNREACHABLE'
  | 'DB_REFUSED'
  | 'DB_TLS'
  | 'DB_CONNECT_FAILED'
  | 'LOGIN_ROLE_PRIVILEGED'
  | 'AUTHENTICATED_MISSING'
  | 'AUTHENTICATED_NOT_GRANTED'
  | 'RLS_DISABLED'
  | 'CRM_TABLES_MISSING'
  // edge.ts
  | 'EDGE_URL_WRONG'
  | 'EDGE_PREFIX_MISMATCH'
  | 'EDGE_PRIVILEGED_SECRET'
  | 'EDGE_NOT_TRANSACTION_POOLER'
  | 'EDGE_UNREACHABLE'
  | 'EDGE_NOT_DEPLOYED'
  | 'EDGE_NOT_STARTING'
  | 'EDGE_VERIFY_JWT_ON'
  | 'EDGE_CHALLENGE_WRONG'
  | 'EDGE_METADATA_WRONG'
  // token.ts: the server's own refusal codes
  | TokenErrorCode;

export type CheckCode = 'OK' | 'SKIPPED' | FailureCode;

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  id: CheckId;
  title: string;
  status: CheckStatus;
  /** `OK` when the check passes, `SKIPPED` when it did not run. */
  code: CheckCode;
  /** What the check found (never a secret). */
  found: string;
  /** The exact fix, for warn/fail. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

export const pass = (id: CheckId, found: string): CheckResult => ({
  id,
  title: CHECKS[id],
  status: 'pass',
  code: 'OK',
  found,
});

export const fail = (id: CheckId, code: FailureCode, found: string, fix: string): CheckResult => ({
  id,
  title: CHECKS[id],
  status: 'fail',
  code,
  found,
  fix,
});

export const warn = (id: CheckId, code: FailureCode, found: string, fix: string): CheckResult => ({
  ...fail(id, code, found, fix),
  status: 'warn',
});

export const skip = (id: CheckId, found: string): CheckResult => ({
  id,
  title: CHECKS[id],
  status: 'skip',
  code: 'SKIPPED',
  found,
});

/** A check whose own code threw: reported, so one broken check does not hide the others. */
export const broken = (id: CheckId, error: unknown): CheckResult =>
  fail(id, 'CHECK_ERROR', `The check itself failed: ${errorMessage(error)}.`, 'Re-run; if it persists, report it.');

/** The first `code` on an error, its causes, or the per-address errors of an AggregateError (happy eyeballs). */
export function errorCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.length) {
      const c = errorCode(inner[0]);
      if (c) return c;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** An error's message and those of its causes, e.g. "fetch failed: connect ECONNREFUSED …". */
export function errorMessage(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string' && m && !parts.includes(m)) parts.push(m);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(error);
}

/** Human-readable lines for one check (the CLI's output). */
export function formatCheck(check: CheckResult): string {
  const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' }[check.status];
  const code = check.status === 'pass' || check.status === 'skip' ? '' : ` (${check.code})`;
  const lines = [`[${mark}] ${check.title}${code}`, `       ${check.found}`];
  if (check.fix && check.status !== 'pass') lines.push(`  fix: ${check.fix}`);
  return lines.join('\n');
}
