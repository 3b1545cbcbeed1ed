/**
 * `npm run doctor`: checks a deployment's configuration against the real project and says, for
 * each check, what it found and the exact fix. Runtime-agnostic (fetch + postgres.js only): the
 * CLI (scripts/doctor.ts) and `/readyz?details=1` both call `runDoctor`.
 *
 * Every check has a stable `code` (tests and operators grep for it), a `found` sentence and, when
 * it does not pass, a `fix`. Nothing here prints secrets: database URLs are masked and tokens are
 * only ever described by their claims.
 *
 * @example
 *   const report = await runDoctor({ env: process.env, token });
 *   for (const c of report.checks) console.log(c.status, c.title, c.found, c.fix ?? '');
 */
import postgres from 'postgres';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createTokenVerifier, TokenError } from './auth/verify.js';
import { ConfigError, loadConfig, maskDatabaseUrl } from './config.js';
import { inspectLoginRole, LEAST_PRIVILEGE_FIX } from './db/login-role.js';
import { EXTENDED, type Sql } from './db/pool.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable identifier of the check, e.g. `jwks`. */
  id: string;
  title: string;
  status: CheckStatus;
  /** Stable diagnosis code, e.g. `JWKS_LEGACY_ONLY`; `OK` when the check passes. */
  code: string;
  /** What the check found (never a secret). */
  found: string;
  /** The exact fix, for warn/fail. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

/** IPv4/IPv6 addresses of a host name (injected by the CLI; src stays runtime-agnostic). */
export type Resolver = (host: string) => Promise<{ v4: string[]; v6: string[] }>;

export interface DoctorOptions {
  /** Environment (SUPABASE_URL, DATABASE_URL, ALLOW_SESSION_TOKENS, DOCTOR_TOKEN …). */
  env: Record<string, string | undefined>;
  /** An access token to verify exactly as the server would (else env.DOCTOR_TOKEN). */
  token?: string;
  /**
   * Use this pool instead of connecting to DATABASE_URL (the server's /readyz). The connection
   * checks (format, connect) then report on the pool.
   */
  sql?: Sql;
  /** Observe the authorization path: an existing OAuth client and one of its redirect URIs. */
  authorizeProbe?: { clientId: string; redirectUri: string };
  /**
   * Probe the registration endpoint with an invalid (empty) registration: 400 = enabled,
   * 403 = disabled. Creates nothing. Default true.
   */
  probeRegistration?: boolean;
  fetch?: typeof fetch;
  resolve?: Resolver;
  /** Per network operation. Default 8000. */
  timeoutMs?: number;
  /** Only these checks (ids); the rest are skipped. */
  only?: readonly string[];
}

export const CRM_TABLES = ['companies', 'contacts', 'contact_notes', 'deals', 'deal_notes', 'tasks', 'sales', 'tags', 'configuration'] as const;

export const JWT_ROTATION_STEPS =
  'Supabase dashboard → Project Settings → JWT Keys: (1) "Create standby key", type ECC (P-256) (ES256, recommended) ' +
  'or RSA; (2) "Rotate keys" so the standby key signs new tokens (the legacy HS256 secret becomes "previously used": ' +
  'tokens it signed keep working until they expire); (3) after the longest token lifetime (1 h by default), revoke the ' +
  'legacy secret. Then re-run `npm run doctor`: the JWKS at SUPABASE_URL/auth/v1/.well-known/jwks.json must list an ' +
  'ES256 or RS256 key.';

const OAUTH_SERVER_STEPS = 'Supabase dashboard → Authentication → OAuth Server: enable "OAuth 2.1 server"';

// ---------------------------------------------------------------------------------------------
// Database URL classification

export interface DatabaseUrlInfo {
  kind: 'direct' | 'pooler-session' | 'pooler-transaction' | 'other';
  host: string;
  port: number;
  user: string;
  /** The project ref, from the host (direct) or the user (`user.REF`, pooler). */
  ref: string | null;
  /** A sentence naming the kind, e.g. "Supavisor pooler, transaction mode (port 6543)". */
  describe: string;
}

const DIRECT_HOST = /^db\.([a-z0-9]+)\.supabase\.(co|com|net)$/i;
const POOLER_HOST = /\.pooler\.supabase\.(com|co|net)$/i;

export function classifyDatabaseUrl(url: string): DatabaseUrlInfo | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 5432);
  const user = decodeURIComponent(u.username);
  const direct = DIRECT_HOST.exec(host);
  if (direct) {
    return { kind: 'direct', host, port, user, ref: direct[1]!.toLowerCase(), describe: `direct connection to ${host}:${port} (IPv6 only unless the IPv4 add-on is enabled)` };
  }
  if (POOLER_HOST.test(host)) {
    const dot = user.lastIndexOf('.');
    const ref = dot > 0 ? user.slice(dot + 1) : null;
    return port === 6543
      ? { kind: 'pooler-transaction', host, port, user, ref, describe: `Supavisor pooler, transaction mode (${host}:6543)` }
      : { kind: 'pooler-session', host, port, user, ref, describe: `Supavisor pooler, session mode (${host}:${port})` };
  }
  return { kind: 'other', host, port, user, ref: null, describe: `PostgreSQL at ${host}:${port} (not a Supabase-hosted address)` };
}

// ---------------------------------------------------------------------------------------------

interface Ctx {
  options: DoctorOptions;
  fetch: typeof fetch;
  timeoutMs: number;
  supabaseUrl: string | null;
  issuer: string | null;
  databaseUrl: string | null;
  allowSessionTokens: boolean;
  /** Suffix-form or path-insertion metadata, whichever answered. */
  metadata: Record<string, unknown> | null;
  supabaseAnswers: boolean;
  sql: Sql | null;
  dbConnected: boolean;
}

const pass = (id: string, title: string, found: string): CheckResult => ({ id, title, status: 'pass', code: 'OK', found });
const fail = (id: string, title: string, code: string, found: string, fix: string): CheckResult => ({ id, title, status: 'fail', code, found, fix });
const warn = (id: string, title: string, code: string, found: string, fix: string): CheckResult => ({ id, title, status: 'warn', code, found, fix });
const skip = (id: string, title: string, found: string): CheckResult => ({ id, title, status: 'skip', code: 'SKIPPED', found });

function errorCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    // AggregateError (happy eyeballs) carries the per-address errors.
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.length) {
      const c = errorCode(inner[0]);
      if (c) return c;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function errorMessage(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string' && m && !parts.includes(m)) parts.push(m);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(error);
}

async function fetchWithTimeout(ctx: Ctx, url: string, init: RequestInit = {}): Promise<Response> {
  return ctx.fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(ctx.timeoutMs) });
}

async function readJson(response: Response): Promise<Record<string, unknown> | null> {
  try {
    const body = (await response.json()) as unknown;
    return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

function checkConfig(ctx: Ctx): CheckResult {
  const id = 'config';
  const title = 'Configuration';
  // With a pool given (the server's /readyz), DATABASE_URL is not needed.
  const env = ctx.options.sql && !ctx.options.env.DATABASE_URL ? { ...ctx.options.env, DATABASE_URL: 'postgresql://pool' } : ctx.options.env;
  try {
    const config = loadConfig(env);
    ctx.supabaseUrl = config.supabaseUrl;
    ctx.issuer = config.auth.issuer;
    ctx.databaseUrl = ctx.options.sql ? null : config.databaseUrl;
    ctx.allowSessionTokens = config.auth.allowSessionTokens;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Keep what parses, so the other checks still say something useful.
    const raw = env.SUPABASE_URL?.trim();
    if (raw && /^https?:\/\//.test(raw)) {
      ctx.supabaseUrl = raw.replace(/[?#].*$/, '').replace(/\/+$/, '');
      ctx.issuer = `${ctx.supabaseUrl}/auth/v1`;
    }
    if (env.DATABASE_URL && /^postgres(ql)?:\/\//.test(env.DATABASE_URL)) ctx.databaseUrl = env.DATABASE_URL;
    return fail(id, title, 'CONFIG_INVALID', error.problems.join('; '), 'Set these variables in the environment or in .env (see .env.example).');
  }
  const url = new URL(ctx.supabaseUrl!);
  if (/(^|\.)supabase\.com$/i.test(url.hostname) && /\/dashboard\//.test(url.pathname)) {
    const ref = /\/project\/([a-z0-9]+)/i.exec(url.pathname)?.[1] ?? 'YOUR-REF';
    return fail(id, title, 'SUPABASE_URL_IS_DASHBOARD', `SUPABASE_URL is a dashboard address (${ctx.supabaseUrl}).`, `Set SUPABASE_URL=https://${ref}.supabase.co (Project Settings → API → Project URL).`);
  }
  const apiPath = /\/(auth|rest|storage|realtime|functions)\/v1$/.exec(url.pathname);
  if (apiPath) {
    const base = ctx.supabaseUrl!.slice(0, -apiPath[0].length);
    return fail(id, title, 'SUPABASE_URL_HAS_PATH', `SUPABASE_URL ends with ${apiPath[0]}: the server would expect the issuer ${ctx.issuer}.`, `Set SUPABASE_URL=${base} (the project URL, without ${apiPath[0]}).`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !local) {
    return warn(id, title, 'SUPABASE_URL_NOT_HTTPS', `SUPABASE_URL uses plain http (${ctx.supabaseUrl}).`, `Use https://${url.host}: Supabase projects are served over TLS, and tokens carry the https issuer.`);
  }
  return pass(id, title, `SUPABASE_URL=${ctx.supabaseUrl} (token issuer ${ctx.issuer})${ctx.databaseUrl ? `; DATABASE_URL=${maskDatabaseUrl(ctx.databaseUrl)}` : ''}.`);
}

async function checkSupabaseAnswers(ctx: Ctx): Promise<CheckResult> {
  const id = 'supabase_url';
  const title = 'SUPABASE_URL answers';
  if (!ctx.supabaseUrl) return skip(id, title, 'SUPABASE_URL is not set.');
  try {
    const response = await fetchWithTimeout(ctx, `${ctx.issuer}/.well-known/jwks.json`);
    await response.body?.cancel();
    ctx.supabaseAnswers = true;
    return pass(id, title, `${ctx.supabaseUrl} answered (HTTP ${response.status} for the JWKS).`);
  } catch (error) {
    const code = errorCode(error);
    const host = new URL(ctx.supabaseUrl).host;
    const why =
      code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? `the host ${host} does not resolve (${code})`
        : code === 'ECONNREFUSED'
          ? `nothing listens at ${host} (ECONNREFUSED)`
          : (error as Error)?.name === 'TimeoutError'
            ? `no answer within ${ctx.timeoutMs} ms`
            : `${code ?? 'network error'}: ${errorMessage(error)}`;
    return fail(id, title, 'SUPABASE_UNREACHABLE', `${ctx.supabaseUrl} did not answer: ${why}.`,
      'Set SUPABASE_URL to the Project URL shown in the Supabase dashboard (Project Settings → API), e.g. https://abcd1234.supabase.co, and check this host can reach it (proxy, firewall).');
  }
}

async function checkMetadata(ctx: Ctx): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const insertion = { id: 'as_metadata', title: 'Authorization-server metadata (RFC 8414 path-insertion URL)' };
  const suffix = { id: 'oauth_server', title: 'OAuth 2.1 server enabled' };
  const dcr = { id: 'dynamic_registration', title: 'Dynamic client registration allowed' };
  const iss = { id: 'issuer', title: 'Issuer matches' };
  if (!ctx.supabaseAnswers) {
    for (const c of [insertion, suffix, dcr, iss]) results.push(skip(c.id, c.title, 'SUPABASE_URL did not answer.'));
    return results;
  }
  const get = async (url: string): Promise<{ status: number; body: Record<string, unknown> | null; error?: string }> => {
    try {
      const response = await fetchWithTimeout(ctx, url, { headers: { Accept: 'application/json' } });
      return { status: response.status, body: response.ok ? await readJson(response) : (await response.body?.cancel(), null) };
    } catch (error) {
      return { status: 0, body: null, error: errorMessage(error) };
    }
  };
  const insertionUrl = `${ctx.supabaseUrl}/.well-known/oauth-authorization-server/auth/v1`;
  const suffixUrl = `${ctx.issuer}/.well-known/oauth-authorization-server`;
  const [a, b] = await Promise.all([get(insertionUrl), get(suffixUrl)]);

  if (a.body && typeof a.body.issuer === 'string') {
    results.push(pass(insertion.id, insertion.title, `${insertionUrl} serves metadata (issuer ${a.body.issuer}). MCP clients discover the sign-in endpoints here.`));
  } else {
    results.push(fail(insertion.id, insertion.title, 'AS_METADATA_MISSING',
      `${insertionUrl} answered ${a.status ? `HTTP ${a.status}` : a.error} without authorization-server metadata.`,
      `Check SUPABASE_URL is the project URL (not a custom API gateway that drops /.well-known/*), then ${OAUTH_SERVER_STEPS}.`));
  }
  if (b.body && typeof b.body.issuer === 'string') {
    results.push(pass(suffix.id, suffix.title, `${suffixUrl} serves metadata: the OAuth server is on.`));
  } else {
    results.push(fail(suffix.id, suffix.title, 'OAUTH_SERVER_DISABLED',
      `${suffixUrl} answered ${b.status ? `HTTP ${b.status}` : b.error}: the OAuth 2.1 server is not enabled.`,
      `${OAUTH_SERVER_STEPS}, set "Site URL" (Authentication → URL Configuration) to your Atomic CRM URL and "Authorization Path" to /#/oauth/consent.`));
  }
  const metadata = b.body ?? a.body;
  ctx.metadata = metadata;

  if (!metadata) {
    results.push(skip(dcr.id, dcr.title, 'No metadata to read.'), skip(iss.id, iss.title, 'No metadata to read.'));
    return results;
  }
  // Dynamic registration: the metadata field, confirmed by an invalid registration that creates nothing.
  const advertised = typeof metadata.registration_endpoint === 'string';
  let probe: number | undefined;
  if (ctx.options.probeRegistration ?? true) {
    try {
      const response = await fetchWithTimeout(ctx, `${ctx.issuer}/oauth/clients/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ redirect_uris: [] }),
      });
      await response.body?.cancel();
      probe = response.status;
    } catch {
      probe = undefined;
    }
  }
  const dcrFix = 'Supabase dashboard → Authentication → OAuth Server: turn on "Allow dynamic client registration" (MCP clients register themselves; without it every client must be pre-registered by hand).';
  if (advertised && probe !== 403) {
    results.push(pass(dcr.id, dcr.title, `registration_endpoint ${metadata.registration_endpoint}${probe ? ` (an empty registration was refused with HTTP ${probe}, as expected)` : ''}.`));
  } else if (!advertised) {
    results.push(fail(dcr.id, dcr.title, 'DCR_DISABLED', `The metadata has no registration_endpoint${probe === 403 ? ' and the register endpoint answers 403' : ''}.`, dcrFix));
  } else {
    results.push(fail(dcr.id, dcr.title, 'DCR_DISABLED', 'The metadata lists a registration_endpoint but registering answers HTTP 403.', dcrFix));
  }

  if (metadata.issuer === ctx.issuer) {
    results.push(pass(iss.id, iss.title, `metadata issuer = expected issuer = ${ctx.issuer}.`));
  } else {
    const got = String(metadata.issuer);
    const base = got.replace(/\/auth\/v1\/?$/, '');
    results.push(fail(iss.id, iss.title, 'ISSUER_MISMATCH',
      `The server expects tokens from ${ctx.issuer} but Supabase Auth says its issuer is ${got}: every token would be refused (TOKEN_ISSUER_INVALID).`,
      got.endsWith('/auth/v1') ? `Set SUPABASE_URL=${base} (a custom domain changes the issuer).` : `Set SUPABASE_URL so that SUPABASE_URL/auth/v1 equals ${got}.`));
  }
  return results;
}

async function checkAuthorizationPath(ctx: Ctx): Promise<CheckResult> {
  const id = 'authorization_path';
  const title = 'Authorization path (consent page)';
  const manual = 'Supabase dashboard → Authentication → OAuth Server → "Authorization Path" = /#/oauth/consent, and Authentication → URL Configuration → "Site URL" = your Atomic CRM URL.';
  const probe = ctx.options.authorizeProbe;
  if (!ctx.metadata) return skip(id, title, 'No metadata to read.');
  if (!probe) {
    return skip(id, title, `Not observable without a registered client. Check by hand: ${manual} (or pass --client-id=… --redirect-uri=… of an existing client).`);
  }
  const verifier = 'doctor-probe-'.padEnd(64, 'x');
  const challenge = await pkceS256(verifier);
  const url = new URL(typeof ctx.metadata.authorization_endpoint === 'string' ? ctx.metadata.authorization_endpoint : `${ctx.issuer}/oauth/authorize`);
  url.search = new URLSearchParams({
    client_id: probe.clientId,
    redirect_uri: probe.redirectUri,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'doctor',
  }).toString();
  let response: Response;
  try {
    response = await fetchWithTimeout(ctx, url.href);
  } catch (error) {
    return fail(id, title, 'AUTHORIZE_UNREACHABLE', `${url.origin}${url.pathname} did not answer: ${errorMessage(error)}.`, manual);
  }
  const location = response.headers.get('location') ?? '';
  const body = response.status >= 300 && response.status < 400 ? '' : (await response.text()).slice(0, 300);
  if (!location) {
    return fail(id, title, 'AUTHORIZE_FAILED', `The authorize endpoint answered HTTP ${response.status}: ${body}`,
      `Check the client id and redirect URI passed to the doctor, then: ${manual}`);
  }
  if (location.startsWith(probe.redirectUri)) {
    const error = new URL(location).searchParams.get('error_description') ?? new URL(location).searchParams.get('error');
    return fail(id, title, 'AUTHORIZE_FAILED', `The authorize endpoint sent the client back with an error: ${error}.`, manual);
  }
  if (/oauth\/consent/.test(location) && /authorization_id=/.test(location)) {
    return pass(id, title, `Sign-in goes to ${location.replace(/authorization_id=[^&]*/, 'authorization_id=…')}.`);
  }
  return fail(id, title, 'AUTHORIZATION_PATH_WRONG', `Sign-in is sent to ${location.replace(/authorization_id=[^&]*/, 'authorization_id=…')}, not to Atomic CRM's consent page.`, manual);
}

async function pkceS256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function checkJwks(ctx: Ctx): Promise<CheckResult> {
  const id = 'jwks';
  const title = 'Asymmetric JWT signing key (JWKS)';
  if (!ctx.supabaseAnswers || !ctx.issuer) return skip(id, title, 'SUPABASE_URL did not answer.');
  const jwksUrl = typeof ctx.metadata?.jwks_uri === 'string' ? ctx.metadata.jwks_uri : `${ctx.issuer}/.well-known/jwks.json`;
  const expected = `${ctx.issuer}/.well-known/jwks.json`;
  let body: Record<string, unknown> | null = null;
  let status = 0;
  try {
    const response = await fetchWithTimeout(ctx, expected);
    status = response.status;
    body = response.ok ? await readJson(response) : (await response.body?.cancel(), null);
  } catch (error) {
    return fail(id, title, 'JWKS_UNREACHABLE', `${expected} did not answer: ${errorMessage(error)}.`, 'Check SUPABASE_URL and the network path to it.');
  }
  if (!body || !Array.isArray(body.keys)) {
    return fail(id, title, 'JWKS_UNREACHABLE', `${expected} answered HTTP ${status} without a key set.`, 'Check SUPABASE_URL: it must be the project URL.');
  }
  const keys = body.keys as Array<Record<string, unknown>>;
  const usable = keys.filter((k) => k.alg === 'ES256' || k.alg === 'RS256');
  const signedWith = Array.isArray(ctx.metadata?.id_token_signing_alg_values_supported) ? (ctx.metadata!.id_token_signing_alg_values_supported as unknown[]).join(', ') : null;
  if (!usable.length) {
    const legacy = keys.length === 0 || signedWith?.includes('HS256');
    return fail(id, title, legacy ? 'JWKS_LEGACY_ONLY' : 'JWKS_NO_USABLE_KEY',
      `${expected} lists ${keys.length} key(s)${keys.length ? ` (${keys.map((k) => `${k.kty}/${k.alg ?? 'no alg'}`).join(', ')})` : ''}, none ES256 or RS256` +
        `${signedWith ? `; Auth signs with ${signedWith}` : ''}: the project still uses the legacy HS256 shared secret, which this server never accepts (anyone with the secret could mint tokens).`,
      JWT_ROTATION_STEPS);
  }
  const note = jwksUrl !== expected ? ` (metadata jwks_uri is ${jwksUrl}, the server reads ${expected})` : '';
  if (signedWith && signedWith.includes('HS256') && !/ES256|RS256/.test(signedWith)) {
    return warn(id, title, 'JWKS_NOT_ROTATED',
      `The JWKS has ${usable.length} asymmetric key(s) but Auth still signs with ${signedWith}: new tokens will be refused.`,
      'Supabase dashboard → Project Settings → JWT Keys → "Rotate keys" so the asymmetric (standby) key becomes the current key.');
  }
  return pass(id, title, `${usable.length} usable key(s): ${usable.map((k) => `${k.alg} kid=${k.kid}`).join(', ')}${note}.`);
}

function checkDatabaseFormat(ctx: Ctx): CheckResult {
  const id = 'database_url_format';
  const title = 'DATABASE_URL format';
  if (ctx.options.sql) return skip(id, title, 'Using the running server\'s pool.');
  if (!ctx.databaseUrl) return skip(id, title, 'DATABASE_URL is not set.');
  const info = classifyDatabaseUrl(ctx.databaseUrl);
  if (!info) return fail(id, title, 'DATABASE_URL_UNPARSEABLE', 'DATABASE_URL is not a URL.', 'Use postgresql://USER:PASSWORD@HOST:PORT/postgres (URL-encode special characters in the password).');
  const projectRef = ctx.supabaseUrl ? /^https:\/\/([a-z0-9]+)\.supabase\.co$/i.exec(ctx.supabaseUrl)?.[1]?.toLowerCase() ?? null : null;
  const ref = projectRef ?? info.ref ?? 'YOUR-REF';
  if (info.kind === 'direct') {
    if (info.user.includes('.')) {
      const plain = info.user.slice(0, info.user.lastIndexOf('.'));
      return fail(id, title, 'DB_USER_FORMAT_POOLER_ON_DIRECT', `${info.describe}; user "${info.user}" has the pooler form user.REF, which the direct host does not know ("Tenant or user not found" / role does not exist).`,
        `Use user "${plain}" with db.${info.ref}.supabase.co, or keep "${info.user}" and connect through the pooler (Dashboard → Connect → Session pooler / Transaction pooler).`);
    }
    if (projectRef && info.ref !== projectRef) {
      return fail(id, title, 'DB_PROJECT_MISMATCH', `${info.describe}: project ${info.ref}, but SUPABASE_URL is project ${projectRef}.`, 'Use the connection string of the same project as SUPABASE_URL (Dashboard → Connect).');
    }
    return pass(id, title, `${info.describe}, user "${info.user}". If this host has no IPv6 route, use the pooler instead (user "${info.user}.${ref}").`);
  }
  if (info.kind === 'pooler-session' || info.kind === 'pooler-transaction') {
    if (!info.ref) {
      return fail(id, title, 'DB_USER_FORMAT_DIRECT_ON_POOLER', `${info.describe}; user "${info.user}" lacks the project ref: the pooler answers "Tenant or user not found".`,
        `Use user "${info.user}.${ref}" (USER.PROJECT_REF) with the pooler.`);
    }
    if (projectRef && info.ref !== projectRef) {
      return fail(id, title, 'DB_PROJECT_MISMATCH', `${info.describe}; user "${info.user}" names project ${info.ref}, but SUPABASE_URL is project ${projectRef}.`, `Use user "${info.user.slice(0, info.user.lastIndexOf('.'))}.${projectRef}".`);
    }
    const mode = info.kind === 'pooler-transaction' ? 'transaction mode: fine for this server (it never uses named prepared statements or session state)' : 'session mode: one server connection per client connection; size DB_POOL_SIZE below the pooler\'s pool size';
    return pass(id, title, `${info.describe}, user "${info.user}" (${mode}).`);
  }
  return pass(id, title, `${info.describe}, user "${info.user}".`);
}

async function connectDatabase(ctx: Ctx): Promise<CheckResult> {
  const id = 'database_connect';
  const title = 'DATABASE_URL connects';
  if (ctx.options.sql) {
    ctx.sql = ctx.options.sql;
  } else if (!ctx.databaseUrl) {
    return skip(id, title, 'DATABASE_URL is not set.');
  } else {
    ctx.sql = postgres(ctx.databaseUrl, {
      max: 1,
      prepare: false,
      connect_timeout: Math.ceil(ctx.timeoutMs / 1000),
      idle_timeout: 5,
      onnotice: () => {},
      connection: { application_name: 'atomic-crm-mcp-doctor' },
    });
  }
  try {
    const [row] = (await ctx.sql.unsafe(`select current_user as "user", current_database() as db, current_setting('server_version') as version`, [], EXTENDED)) as unknown as [{ user: string; db: string; version: string }];
    ctx.dbConnected = true;
    const info = ctx.databaseUrl && !ctx.options.sql ? classifyDatabaseUrl(ctx.databaseUrl) : null;
    return pass(id, title, `Connected as "${row.user}" to database "${row.db}" (PostgreSQL ${row.version})${info ? ` via ${info.describe}` : ''}.`);
  } catch (error) {
    return diagnoseConnectError(ctx, error);
  }
}

async function diagnoseConnectError(ctx: Ctx, error: unknown): Promise<CheckResult> {
  const id = 'database_connect';
  const title = 'DATABASE_URL connects';
  const code = errorCode(error);
  const message = errorMessage(error);
  const info = ctx.databaseUrl ? classifyDatabaseUrl(ctx.databaseUrl) : null;
  const masked = ctx.databaseUrl ? maskDatabaseUrl(ctx.databaseUrl) : '(pool)';
  const ref = info?.ref ?? (ctx.supabaseUrl ? /^https:\/\/([a-z0-9]+)\.supabase\.co$/i.exec(ctx.supabaseUrl)?.[1] : undefined) ?? 'YOUR-REF';
  const baseUser = info ? (info.user.includes('.') ? info.user.slice(0, info.user.lastIndexOf('.')) : info.user) : 'mcp_login';
  const poolerFix = `Use the Supavisor pooler, which has IPv4: Dashboard → Connect → "Transaction pooler" (port 6543) or "Session pooler" (5432), user "${baseUser}.${ref}", e.g. postgresql://${baseUser}.${ref}:PASSWORD@aws-0-REGION.pooler.supabase.com:6543/postgres. Or enable the IPv4 add-on, or deploy where IPv6 egress works.`;

  if (/tenant or user not found/i.test(message)) {
    const where = info?.kind === 'direct' ? 'direct host' : info?.kind?.startsWith('pooler') ? 'pooler' : 'server';
    const fix =
      info?.kind?.startsWith('pooler') && !info.ref
        ? `The pooler needs user "${info.user}.${ref}" (USER.PROJECT_REF).`
        : info?.kind === 'direct' && info.user.includes('.')
          ? `The direct host needs the plain user "${baseUser}", without ".${info.ref}".`
          : `Check the project ref in the user (${info?.user ?? '?'}) and the pooler host/region: copy the string from Dashboard → Connect, then replace the user with "${baseUser}.${ref}".`;
    return fail(id, title, 'DB_TENANT_NOT_FOUND', `The ${where} answered "Tenant or user not found" (${masked}): the user name is in the wrong form for this host, or the project ref/region is wrong.`, fix);
  }
  if (code === '28P01') {
    return fail(id, title, 'DB_PASSWORD', `Password authentication failed for user "${info?.user ?? '?'}" (28P01, ${masked}).`,
      `Reset the role's password (as postgres: ALTER ROLE ${baseUser} PASSWORD '…'; for "postgres" itself: Dashboard → Project Settings → Database → Reset database password) and put it in DATABASE_URL, percent-encoding characters such as @ : / ? # % (e.g. @ → %40).`);
  }
  if (code === '28000' || /role .* does not exist/i.test(message)) {
    return fail(id, title, 'DB_ROLE_MISSING', `The database refused the user "${info?.user ?? '?'}": ${message} (${code}).`,
      `Create the login role (npm run login-role-sql prints the SQL; run it as postgres) or fix the user name in DATABASE_URL.`);
  }
  if (code === '3D000') {
    return fail(id, title, 'DB_DATABASE_MISSING', `${message} (3D000).`, 'On Supabase the database is "postgres": end DATABASE_URL with /postgres.');
  }
  const network = ['ENETUNREACH', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'CONNECT_TIMEOUT', 'CONNECTION_CONNECT_TIMEOUT'];
  if (code && network.includes(code) && info) {
    let addresses: { v4: string[]; v6: string[] } | null = null;
    if (ctx.options.resolve) addresses = await ctx.options.resolve(info.host).catch(() => null);
    const ipv6Only = info.kind === 'direct' ? !addresses || (addresses.v4.length === 0) : addresses ? addresses.v4.length === 0 && addresses.v6.length > 0 : false;
    if (ipv6Only) {
      const seen = addresses ? ` (DNS: ${addresses.v6.length} AAAA, ${addresses.v4.length} A record(s))` : '';
      return fail(id, title, 'DB_IPV6_ONLY', `${info.host} is IPv6-only${seen} and this host cannot reach it over IPv6 (${code}).`, poolerFix);
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      return fail(id, title, 'DB_HOST_UNKNOWN', `The host ${info.host} does not resolve (${code}).`, 'Copy the host from Dashboard → Connect (the pooler host includes your region, e.g. aws-0-eu-central-1.pooler.supabase.com).');
    }
    return fail(id, title, 'DB_UNREACHABLE', `${info.host}:${info.port} is unreachable (${code}).`, 'Check the host, port and the outbound firewall of this machine.');
  }
  if (code === 'ECONNREFUSED') {
    return fail(id, title, 'DB_REFUSED', `Nothing accepts connections at ${info?.host}:${info?.port} (ECONNREFUSED).`, 'Check the host and port (direct 5432; pooler 5432 session / 6543 transaction).');
  }
  if (/ssl|tls|certificate/i.test(message)) {
    return fail(id, title, 'DB_TLS', `TLS failed: ${message}.`, 'Add ?sslmode=require to DATABASE_URL (Supabase requires TLS; sslmode=verify-full needs the project CA certificate).');
  }
  return fail(id, title, 'DB_CONNECT_FAILED', `Connecting failed: ${code ? `${code} ` : ''}${message} (${masked}).`, 'Copy the connection string from Dashboard → Connect and replace the user with your least-privilege login role.');
}

async function checkLoginRole(ctx: Ctx): Promise<CheckResult[]> {
  const role = { id: 'login_role', title: 'Login role is least-privilege' };
  const auth = { id: 'authenticated_role', title: 'Role "authenticated" exists and is reachable' };
  if (!ctx.dbConnected || !ctx.sql) return [skip(role.id, role.title, 'No database connection.'), skip(auth.id, auth.title, 'No database connection.')];
  const [{ exists }] = (await ctx.sql.unsafe(`select to_regrole('authenticated') is not null as exists`, [], EXTENDED)) as unknown as [{ exists: boolean }];
  const report = await inspectLoginRole(ctx.sql);
  const results: CheckResult[] = [];
  results.push(
    report.problems.length
      ? fail(role.id, role.title, 'LOGIN_ROLE_PRIVILEGED', report.problems.join(' '), LEAST_PRIVILEGE_FIX)
      : pass(role.id, role.title, `"${report.role}" can only become "authenticated", owns nothing and bypasses nothing.`),
  );
  if (!exists) {
    results.push(fail(auth.id, auth.title, 'AUTHENTICATED_MISSING', 'There is no role "authenticated": this is not a Supabase database (or not the "postgres" database of the project).', 'Point DATABASE_URL at your Supabase project\'s "postgres" database.'));
  } else if (!report.canActAsUser) {
    results.push(fail(auth.id, auth.title, 'AUTHENTICATED_NOT_GRANTED', `"${report.role}" is not a member of "authenticated": it cannot run requests as the signed-in user.`, `As postgres: GRANT authenticated TO ${report.role}; (or re-run the SQL from npm run login-role-sql).`));
  } else {
    results.push(pass(auth.id, auth.title, `"${report.role}" is a member of "authenticated".`));
  }
  return results;
}

async function checkSchema(ctx: Ctx): Promise<CheckResult[]> {
  const rls = { id: 'rls', title: 'Row Level Security on every table in public' };
  const crm = { id: 'crm_tables', title: 'Atomic CRM tables present' };
  if (!ctx.dbConnected || !ctx.sql) return [skip(rls.id, rls.title, 'No database connection.'), skip(crm.id, crm.title, 'No database connection.')];
  // pg_class is readable by every role, whatever its table privileges.
  const tables = (await ctx.sql.unsafe(
    `select c.relname::text as name, c.relrowsecurity as rls from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition order by 1`,
    [],
    EXTENDED,
  )) as unknown as { name: string; rls: boolean }[];
  const off = tables.filter((t) => !t.rls).map((t) => t.name);
  const results: CheckResult[] = [];
  results.push(
    off.length
      ? fail(rls.id, rls.title, 'RLS_DISABLED', `${off.length} of ${tables.length} table(s) in public have RLS off: ${off.join(', ')}. Every signed-in user (and any agent) can read and change all their rows.`,
          `As postgres, for each: ${off.map((t) => `alter table public.${quoteIdent(t)} enable row level security;`).join(' ')} Then add policies for "authenticated" (with RLS on and no policy, nobody but the owner sees rows).`)
      : pass(rls.id, rls.title, `All ${tables.length} table(s) in public have RLS enabled.`),
  );
  const present = new Set(tables.map((t) => t.name));
  const missing = CRM_TABLES.filter((t) => !present.has(t));
  results.push(
    missing.length
      ? fail(crm.id, crm.title, 'CRM_TABLES_MISSING', `Missing from schema public: ${missing.join(', ')}.`,
          'DATABASE_URL must point at the Atomic CRM project\'s database ("postgres"), with the Atomic CRM migrations applied (from the atomic-crm repository: npx supabase db push).')
      : pass(crm.id, crm.title, `All ${CRM_TABLES.length} tables present (${CRM_TABLES.join(', ')}).`),
  );
  return results;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

async function checkToken(ctx: Ctx): Promise<CheckResult> {
  const id = 'token';
  const title = 'Access token accepted by the server';
  const token = ctx.options.token ?? ctx.options.env.DOCTOR_TOKEN;
  if (!token) return skip(id, title, 'No token given (--token=… or DOCTOR_TOKEN).');
  if (!ctx.issuer) return skip(id, title, 'SUPABASE_URL is not set.');
  const requireClientId = !ctx.allowSessionTokens;
  const verifier = createTokenVerifier({ issuer: ctx.issuer, jwksUrl: `${ctx.issuer}/.well-known/jwks.json`, requireClientId, fetch: ctx.fetch });
  let header: Record<string, unknown> = {};
  let claims: Record<string, unknown> = {};
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
    claims = decodeJwt(token) as Record<string, unknown>;
  } catch {
    // verify() explains malformed tokens.
  }
  try {
    const principal = await verifier.verify(token);
    const left = Math.round(principal.expiresAt - Date.now() / 1000);
    return pass(id, title, `Accepted: sub ${principal.sub}, client_id ${principal.clientId ?? '(none: session token)'}, scope "${principal.scopes.join(' ')}", expires in ${left} s.`);
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
    const detail: Record<string, string> = {
      TOKEN_ISSUER_INVALID: `claim iss = ${show(claims.iss)}, the server expects ${JSON.stringify(ctx.issuer)}.`,
      TOKEN_AUDIENCE_INVALID: `claim aud = ${show(claims.aud)}, the server expects "authenticated".`,
      TOKEN_EXPIRED: `claim exp = ${show(claims.exp)}${typeof claims.exp === 'number' ? ` (${new Date(claims.exp * 1000).toISOString()})` : ''}.`,
      TOKEN_NOT_YET_VALID: `claim iat/nbf is in the future: iat = ${show(claims.iat)}, nbf = ${show(claims.nbf)}.`,
      TOKEN_ALGORITHM_NOT_ALLOWED: `header alg = ${show(header.alg)}; only ES256 and RS256 are accepted.`,
      TOKEN_KEY_UNKNOWN: `header kid = ${show(header.kid)} is not in the project's JWKS.`,
      TOKEN_NOT_FOR_OAUTH_CLIENT: `claim client_id is absent: this is a web-app session token, not one minted for an OAuth client.`,
      TOKEN_CLAIM_INVALID: `claims: role = ${show(claims.role)}, sub = ${show(claims.sub)}, client_id = ${show(claims.client_id)}.`,
    };
    const fixes: Record<string, string> = {
      TOKEN_ISSUER_INVALID: 'Use a token from this project, or set SUPABASE_URL so that SUPABASE_URL/auth/v1 equals the token\'s iss.',
      TOKEN_EXPIRED: 'Get a fresh token (the client refreshes it with its refresh token).',
      TOKEN_ALGORITHM_NOT_ALLOWED: JWT_ROTATION_STEPS,
      TOKEN_KEY_UNKNOWN: 'The key that signed it was revoked or belongs to another project: sign in again.',
      TOKEN_NOT_FOR_OAUTH_CLIENT: 'Sign in through the MCP client (OAuth), or set ALLOW_SESSION_TOKENS=true to accept the web app\'s own session tokens.',
      TOKEN_NOT_YET_VALID: 'Synchronise this machine\'s clock (NTP).',
      JWKS_UNAVAILABLE: 'Fix the JWKS check above first.',
    };
    return fail(id, title, error.code, `Refused (${error.code}): ${error.message} ${detail[error.code] ?? ''}`.trim(), fixes[error.code] ?? 'Sign in again through the MCP client to get a token from this project.');
  }
}

// ---------------------------------------------------------------------------------------------

export const CHECK_IDS = [
  'config', 'supabase_url', 'as_metadata', 'oauth_server', 'dynamic_registration', 'issuer', 'authorization_path', 'jwks',
  'database_url_format', 'database_connect', 'login_role', 'authenticated_role', 'rls', 'crm_tables', 'token',
] as const;

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const ctx: Ctx = {
    options,
    fetch: options.fetch ?? fetch,
    timeoutMs: options.timeoutMs ?? 8_000,
    supabaseUrl: null,
    issuer: null,
    databaseUrl: null,
    allowSessionTokens: false,
    metadata: null,
    supabaseAnswers: false,
    sql: null,
    dbConnected: false,
  };
  const checks: CheckResult[] = [];
  const ownPool = !options.sql;
  try {
    checks.push(checkConfig(ctx));
    const http = (async () => {
      const out: CheckResult[] = [await checkSupabaseAnswers(ctx)];
      out.push(...(await checkMetadata(ctx)));
      out.push(await checkAuthorizationPath(ctx));
      out.push(await checkJwks(ctx));
      return out;
    })();
    const db = (async () => {
      const out: CheckResult[] = [checkDatabaseFormat(ctx), await connectDatabase(ctx)];
      out.push(...(await checkLoginRole(ctx).catch((e) => [failed('login_role', e)])));
      out.push(...(await checkSchema(ctx).catch((e) => [failed('rls', e)])));
      return out;
    })();
    const [h, d] = await Promise.all([http, db]);
    checks.push(...h, ...d, await checkToken(ctx));
  } finally {
    if (ownPool && ctx.sql) await ctx.sql.end({ timeout: 2 }).catch(() => {});
  }
  const selected = options.only ? checks.map((c) => (options.only!.includes(c.id) ? c : skip(c.id, c.title, 'Not selected.'))) : checks;
  return { ok: selected.every((c) => c.status !== 'fail'), checks: selected };
}

function failed(id: string, error: unknown): CheckResult {
  return fail(id, id, 'CHECK_ERROR', `The check itself failed: ${errorMessage(error)}.`, 'Re-run; if it persists, report it.');
}

/** Human-readable lines for one check (the CLI's output). */
export function formatCheck(check: CheckResult): string {
  const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' }[check.status];
  const lines = [`[${mark}] ${check.title}${check.status === 'pass' || check.status === 'skip' ? '' : ` (${check.code})`}`, `       ${check.found}`];
  if (check.fix && check.status !== 'pass') lines.push(`  fix: ${check.fix}`);
  return lines.join('\n');
}
