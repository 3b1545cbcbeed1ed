/**
 * `npm run doctor`: checks a deployment's configuration against the real project and says, for
 * each check, what it found and the exact fix. Runtime-agnostic (fetch + postgres.js only): the
 * CLI (scripts/doctor.ts) calls `runDoctor`, the server's `/readyz?details=1` calls
 * `checkRunningServer` (src/doctor/summary.ts).
 *
 * One file per area: configuration.ts, oauth.ts, keys.ts, database.ts, token.ts. Each check is a
 * function of what it needs; this file is the only place that knows which check feeds which: the
 * configuration first, then the authorization server, the database and the token side by side.
 * Nothing here prints secrets: database URLs are masked, tokens are only described by their claims.
 *
 * @example
 *   const report = await runDoctor({ env: process.env, token });
 *   for (const c of report.checks) console.log(formatCheck(c));
 */
import { readSetting, type Config } from '../config.js';
import type { Sql } from '../db/pool.js';
import { readConfiguration, serverConfiguration, type Target } from './configuration.js';
import {
  checkAuthenticatedRole,
  checkConnection,
  checkCrmTables,
  checkDatabaseUrlFormat,
  checkLoginRole,
  checkRls,
  openDoctorPool,
  readPublicTables,
  readRoles,
  type Resolver,
} from './database.js';
import { checkEdgeFunction, type EdgeSetup } from './edge.js';
import { createHttp, type Http } from './http.js';
import { checkJwks } from './keys.js';
import {
  checkAuthorizationPath,
  checkInsertionMetadata,
  checkIssuer,
  checkOAuthServer,
  checkRegistration,
  checkSupabaseAnswers,
  probeRegistration,
  readMetadata,
  type AuthorizeProbe,
} from './oauth.js';
import { broken, CHECK_IDS, skip, type CheckId, type CheckResult, type DoctorReport } from './report.js';
import { checkToken } from './token.js';

export { classifyDatabaseUrl, CRM_TABLES, type DatabaseUrlInfo, type Resolver } from './database.js';
export { JWT_ROTATION_STEPS } from './keys.js';
export {
  CHECK_IDS,
  formatCheck,
  type CheckCode,
  type CheckId,
  type CheckResult,
  type CheckStatus,
  type DoctorReport,
  type FailureCode,
} from './report.js';

export interface DoctorOptions {
  /** Environment (SUPABASE_URL, DATABASE_URL, ALLOW_SESSION_TOKENS, DOCTOR_TOKEN …). */
  env: Record<string, string | undefined>;
  /** An access token to verify exactly as the server would (else env.DOCTOR_TOKEN). */
  token?: string;
  /** Observe the authorization path: an existing OAuth client and one of its redirect URIs. */
  authorizeProbe?: AuthorizeProbe;
  /**
   * Probe the registration endpoint with an invalid (empty) registration: 400 = enabled,
   * 403 = disabled. Creates nothing. Default true.
   */
  probeRegistration?: boolean;
  fetch?: typeof fetch;
  resolve?: Resolver;
  /** Per network operation. Default 8000. */
  timeoutMs?: number;
  /** Only these checks; the rest are reported as skipped. */
  only?: readonly CheckId[];
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { check, target } = readConfiguration(options.env);
  const checks = await runChecks(check, {
    target,
    http: createHttp(options.fetch ?? fetch, options.timeoutMs ?? 8_000),
    token: options.token ?? options.env.DOCTOR_TOKEN,
    authorizeProbe: options.authorizeProbe,
    probeRegistration: options.probeRegistration ?? true,
    resolve: options.resolve,
    edge: {
      supabaseUrl: target.supabaseUrl,
      publicUrl: readSetting('publicUrl', options.env) ?? null,
      basePath: readSetting('basePath', options.env) ?? '',
      databaseUrl: target.databaseUrl,
    },
  });
  const { only } = options;
  const selected = only ? checks.map((c) => (only.includes(c.id) ? c : skip(c.id, 'Not selected.'))) : checks;
  return { ok: selected.every((c) => c.status !== 'fail'), checks: selected };
}

/**
 * The running server's view: its loaded configuration and its own pool, nothing that writes
 * (no registration probe) and nothing the caller supplies (no token, no client).
 */
export async function checkRunningServer(
  config: Pick<Config, 'supabaseUrl' | 'auth'>,
  sql: Sql,
  timeoutMs = 5_000,
): Promise<DoctorReport> {
  const { check, target } = serverConfiguration(config);
  const checks = await runChecks(check, { target, http: createHttp(fetch, timeoutMs), sql, probeRegistration: false });
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

interface Run {
  target: Target;
  http: Http;
  /** The server's pool; otherwise the doctor opens its own to target.databaseUrl. */
  sql?: Sql;
  token?: string;
  authorizeProbe?: AuthorizeProbe;
  probeRegistration: boolean;
  resolve?: Resolver;
  /** Where the Edge Function is, when the configuration says it is one (the CLI's case only). */
  edge?: EdgeSetup;
}

type Verdicts<K extends CheckId> = { [Id in K]: CheckResult };

function skipped<K extends CheckId>(ids: readonly K[], found: string): Verdicts<K> {
  return Object.fromEntries(ids.map((id) => [id, skip(id, found)])) as Verdicts<K>;
}

async function runChecks(config: CheckResult, run: Run): Promise<CheckResult[]> {
  const [oauth, database, token, edge_function] = await Promise.all([
    authorizationServer(run),
    databaseChecks(run),
    tokenCheck(run),
    run.edge
      ? checkEdgeFunction(run.http, run.edge).catch((e: unknown) => broken('edge_function', e))
      : skip('edge_function', 'Checked by `npm run doctor`, not by the running server.'),
  ]);
  const verdicts: Verdicts<CheckId> = { config, ...oauth, ...database, token, edge_function };
  return CHECK_IDS.map((id) => verdicts[id]);
}

type OAuthId =
  | 'supabase_url'
  | 'as_metadata'
  | 'oauth_server'
  | 'dynamic_registration'
  | 'issuer'
  | 'authorization_path'
  | 'jwks';

/** Reachability → the metadata documents → what the metadata says (registration, issuer, sign-in, keys). */
async function authorizationServer({ target, http, authorizeProbe, ...run }: Run): Promise<Verdicts<OAuthId>> {
  const { supabaseUrl, issuer } = target;
  const unreachable = (supabase_url: CheckResult): Verdicts<OAuthId> => ({
    supabase_url,
    ...skipped(
      ['as_metadata', 'oauth_server', 'dynamic_registration', 'issuer', 'jwks'],
      'SUPABASE_URL did not answer.',
    ),
    authorization_path: skip('authorization_path', 'No metadata to read.'),
  });
  if (!supabaseUrl || !issuer) return unreachable(skip('supabase_url', 'SUPABASE_URL is not set.'));
  const supabase_url = await checkSupabaseAnswers(http, supabaseUrl, issuer);
  if (supabase_url.status !== 'pass') return unreachable(supabase_url);

  const { insertion, suffix } = await readMetadata(http, supabaseUrl, issuer);
  const documents = {
    supabase_url,
    as_metadata: checkInsertionMetadata(insertion),
    oauth_server: checkOAuthServer(suffix),
  };
  const metadata = suffix.body ?? insertion.body;
  if (!metadata) {
    return {
      ...documents,
      ...skipped(['dynamic_registration', 'issuer', 'authorization_path'], 'No metadata to read.'),
      jwks: await checkJwks(http, issuer, null),
    };
  }
  const [registration, authorization_path, jwks] = await Promise.all([
    run.probeRegistration ? probeRegistration(http, issuer, metadata) : null,
    checkAuthorizationPath(http, issuer, metadata, authorizeProbe),
    checkJwks(http, issuer, metadata),
  ]);
  return {
    ...documents,
    dynamic_registration: checkRegistration(metadata, registration),
    issuer: checkIssuer(metadata, issuer),
    authorization_path,
    jwks,
  };
}

type DatabaseId =
  | 'database_url_format'
  | 'database_connect'
  | 'login_role'
  | 'authenticated_role'
  | 'rls'
  | 'crm_tables';

/** The connection string's form → connecting → the roles and the tables, read over that connection. */
async function databaseChecks({ target, http, sql: serverPool, resolve }: Run): Promise<Verdicts<DatabaseId>> {
  const { databaseUrl, projectRef } = target;
  const database_url_format = serverPool
    ? skip('database_url_format', "Using the running server's pool.")
    : databaseUrl
      ? checkDatabaseUrlFormat(databaseUrl, projectRef)
      : skip('database_url_format', 'DATABASE_URL is not set.');
  const unconnected = skipped(['login_role', 'authenticated_role', 'rls', 'crm_tables'], 'No database connection.');
  const sql = serverPool ?? (databaseUrl ? openDoctorPool(databaseUrl, http.timeoutMs) : null);
  if (!sql)
    return {
      database_url_format,
      database_connect: skip('database_connect', 'DATABASE_URL is not set.'),
      ...unconnected,
    };
  try {
    const database_connect = await checkConnection(sql, { databaseUrl, projectRef, resolve });
    if (database_connect.status !== 'pass') return { database_url_format, database_connect, ...unconnected };
    const [roles, tables] = await Promise.all([
      readRoles(sql).then(
        (r) => ({ login_role: checkLoginRole(r), authenticated_role: checkAuthenticatedRole(r) }),
        (e: unknown) => ({ login_role: broken('login_role', e), authenticated_role: broken('authenticated_role', e) }),
      ),
      readPublicTables(sql).then(
        (t) => ({ rls: checkRls(t), crm_tables: checkCrmTables(t) }),
        (e: unknown) => ({ rls: broken('rls', e), crm_tables: broken('crm_tables', e) }),
      ),
    ]);
    return { database_url_format, database_connect, ...roles, ...tables };
  } finally {
    if (!serverPool) await sql.end({ timeout: 2 }).catch(() => {});
  }
}

async function tokenCheck({ target, http, token }: Run): Promise<CheckResult> {
  if (!token) return skip('token', 'No token given (--token=… or DOCTOR_TOKEN).');
  if (!target.issuer) return skip('token', 'SUPABASE_URL is not set.');
  return checkToken(token, { issuer: target.issuer, allowSessionTokens: target.allowSessionTokens }, http.fetch);
}
