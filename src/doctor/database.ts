/**
 * The database checks: is DATABASE_URL in the form its host expects (direct host or Supavisor
 * pooler), does it connect (and if not, why, in the operator's terms), is the login role
 * least-privilege and able to become "authenticated", is RLS on everywhere, is this Atomic CRM?
 */
import postgres from 'postgres';
import { maskDatabaseUrl } from '../config.js';
import { inspectLoginRole, LEAST_PRIVILEGE_FIX, type LoginRoleReport } from '../db/login-role.js';
import { EXTENDED, type Sql } from '../db/pool.js';
import { errorCode, errorMessage, fail, pass, type CheckResult } from './report.js';

export const CRM_TABLES = [
  'companies',
  'contacts',
  'contact_notes',
  'deals',
  'deal_notes',
  'tasks',
  'sales',
  'tags',
  'configuration',
] as const;

/** IPv4/IPv6 addresses of a host name (injected by the CLI; src stays runtime-agnostic). */
export type Resolver = (host: string) => Promise<{ v4: string[]; v6: string[] }>;

export interface DatabaseUrlInfo {
  kind: 'direct' | 'pooler-session' | 'pooler-transaction' | 'other';
  host: string;
  port: number;
  user: string;
  /** The user without a `.REF` suffix: the role's name in the database. */
  role: string;
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
  const dot = user.lastIndexOf('.');
  const role = dot > 0 ? user.slice(0, dot) : user;
  const direct = DIRECT_HOST.exec(host);
  if (direct) {
    const describe = `direct connection to ${host}:${port} (IPv6 only unless the IPv4 add-on is enabled)`;
    return { kind: 'direct', host, port, user, role, ref: direct[1]!.toLowerCase(), describe };
  }
  if (POOLER_HOST.test(host)) {
    const ref = dot > 0 ? user.slice(dot + 1) : null;
    return port === 6543
      ? {
          kind: 'pooler-transaction',
          host,
          port,
          user,
          role,
          ref,
          describe: `Supavisor pooler, transaction mode (${host}:6543)`,
        }
      : {
          kind: 'pooler-session',
          host,
          port,
          user,
          role,
          ref,
          describe: `Supavisor pooler, session mode (${host}:${port})`,
        };
  }
  return {
    kind: 'other',
    host,
    port,
    user,
    role,
    ref: null,
    describe: `PostgreSQL at ${host}:${port} (not a Supabase-hosted address)`,
  };
}

/** `projectRef`: the project SUPABASE_URL names, if it is a supabase.co URL. */
export function checkDatabaseUrlFormat(databaseUrl: string, projectRef: string | null): CheckResult {
  const id = 'database_url_format';
  const info = classifyDatabaseUrl(databaseUrl);
  if (!info) {
    const fix = 'Use postgresql://USER:PASSWORD@HOST:PORT/postgres (URL-encode special characters in the password).';
    return fail(id, 'DATABASE_URL_UNPARSEABLE', 'DATABASE_URL is not a URL.', fix);
  }
  const ref = projectRef ?? info.ref ?? 'YOUR-REF';
  if (info.kind === 'direct') {
    if (info.user !== info.role) {
      return fail(
        id,
        'DB_USER_FORMAT_POOLER_ON_DIRECT',
        `${info.describe}; user "${info.user}" has the pooler form user.REF, which the direct host does not know ` +
          '("Tenant or user not found" / role does not exist).',
        `Use user "${info.role}" with db.${info.ref}.supabase.co, or keep "${info.user}" and connect through the pooler ` +
          '(Dashboard → Connect → Session pooler / Transaction pooler).',
      );
    }
    if (projectRef && info.ref !== projectRef) {
      return fail(
        id,
        'DB_PROJECT_MISMATCH',
        `${info.describe}: project ${info.ref}, but SUPABASE_URL is project ${projectRef}.`,
        'Use the connection string of the same project as SUPABASE_URL (Dashboard → Connect).',
      );
    }
    return pass(
      id,
      `${info.describe}, user "${info.user}". If this host has no IPv6 route, use the pooler instead (user "${info.user}.${ref}").`,
    );
  }
  if (info.kind === 'pooler-session' || info.kind === 'pooler-transaction') {
    if (!info.ref) {
      return fail(
        id,
        'DB_USER_FORMAT_DIRECT_ON_POOLER',
        `${info.describe}; user "${info.user}" lacks the project ref: the pooler answers "Tenant or user not found".`,
        `Use user "${info.user}.${ref}" (USER.PROJECT_REF) with the pooler.`,
      );
    }
    if (projectRef && info.ref !== projectRef) {
      return fail(
        id,
        'DB_PROJECT_MISMATCH',
        `${info.describe}; user "${info.user}" names project ${info.ref}, but SUPABASE_URL is project ${projectRef}.`,
        `Use user "${info.role}.${projectRef}".`,
      );
    }
    const mode =
      info.kind === 'pooler-transaction'
        ? 'transaction mode: fine for this server (it never uses named prepared statements or session state)'
        : "session mode: one server connection per client connection; size DB_POOL_SIZE below the pooler's pool size";
    return pass(id, `${info.describe}, user "${info.user}" (${mode}).`);
  }
  return pass(id, `${info.describe}, user "${info.user}".`);
}

/** A one-connection pool of the doctor's own, bounded by the doctor's timeout. */
export function openDoctorPool(databaseUrl: string, timeoutMs: number): Sql {
  return postgres(databaseUrl, {
    max: 1,
    prepare: false,
    connect_timeout: Math.ceil(timeoutMs / 1000),
    idle_timeout: 5,
    onnotice: () => {},
    connection: { application_name: 'atomic-crm-mcp-doctor' },
  });
}

export interface ConnectionTarget {
  /** Null when `sql` is the running server's pool. */
  databaseUrl: string | null;
  projectRef: string | null;
  resolve?: Resolver;
}

export async function checkConnection(sql: Sql, target: ConnectionTarget): Promise<CheckResult> {
  try {
    const [row] = (await sql.unsafe(
      `select current_user as "user", current_database() as db, current_setting('server_version') as version`,
      [],
      EXTENDED,
    )) as unknown as [{ user: string; db: string; version: string }];
    const info = target.databaseUrl ? classifyDatabaseUrl(target.databaseUrl) : null;
    return pass(
      'database_connect',
      `Connected as "${row.user}" to database "${row.db}" (PostgreSQL ${row.version})${info ? ` via ${info.describe}` : ''}.`,
    );
  } catch (error) {
    return diagnoseConnectError(error, target);
  }
}

const NETWORK_CODES = [
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'CONNECT_TIMEOUT',
  'CONNECTION_CONNECT_TIMEOUT',
];

/** Why a connection failed, in the operator's terms, with the connection string that would work. */
async function diagnoseConnectError(
  error: unknown,
  { databaseUrl, projectRef, resolve }: ConnectionTarget,
): Promise<CheckResult> {
  const id = 'database_connect';
  const code = errorCode(error);
  const message = errorMessage(error);
  const info = databaseUrl ? classifyDatabaseUrl(databaseUrl) : null;
  const masked = databaseUrl ? maskDatabaseUrl(databaseUrl) : '(pool)';
  const ref = info?.ref ?? projectRef ?? 'YOUR-REF';
  const role = info?.role ?? 'mcp_login';
  const pooled = info?.kind === 'pooler-session' || info?.kind === 'pooler-transaction';

  if (/tenant or user not found/i.test(message)) {
    const where = info?.kind === 'direct' ? 'direct host' : pooled ? 'pooler' : 'server';
    const fix =
      pooled && !info.ref
        ? `The pooler needs user "${info.user}.${ref}" (USER.PROJECT_REF).`
        : info?.kind === 'direct' && info.user !== info.role
          ? `The direct host needs the plain user "${role}", without ".${info.ref}".`
          : `Check the project ref in the user (${info?.user ?? '?'}) and the pooler host/region: copy the string from ` +
            `Dashboard → Connect, then replace the user with "${role}.${ref}".`;
    return fail(
      id,
      'DB_TENANT_NOT_FOUND',
      `The ${where} answered "Tenant or user not found" (${masked}): the user name is in the wrong form for this host, or the project ref/region is wrong.`,
      fix,
    );
  }
  if (code === '28P01') {
    return fail(
      id,
      'DB_PASSWORD',
      `Password authentication failed for user "${info?.user ?? '?'}" (28P01, ${masked}).`,
      `Reset the role's password (as postgres: ALTER ROLE ${role} PASSWORD '…'; for "postgres" itself: ` +
        'Dashboard → Project Settings → Database → Reset database password) ' +
        'and put it in DATABASE_URL, percent-encoding characters such as @ : / ? # % (e.g. @ → %40).',
    );
  }
  if (code === '28000' || /role .* does not exist/i.test(message)) {
    return fail(
      id,
      'DB_ROLE_MISSING',
      `The database refused the user "${info?.user ?? '?'}": ${message} (${code}).`,
      'Create the login role (npm run login-role-sql prints the SQL; run it as postgres) or fix the user name in DATABASE_URL.',
    );
  }
  if (code === '3D000') {
    return fail(
      id,
      'DB_DATABASE_MISSING',
      `${message} (3D000).`,
      'On Supabase the database is "postgres": end DATABASE_URL with /postgres.',
    );
  }
  if (code && NETWORK_CODES.includes(code) && info) {
    const addresses = resolve ? await resolve(info.host).catch(() => null) : null;
    // A direct host is IPv6-only unless DNS says otherwise; any other host only when DNS says so.
    const ipv6Only =
      info.kind === 'direct'
        ? !addresses || addresses.v4.length === 0
        : addresses
          ? addresses.v4.length === 0 && addresses.v6.length > 0
          : false;
    if (ipv6Only) {
      const seen = addresses ? ` (DNS: ${addresses.v6.length} AAAA, ${addresses.v4.length} A record(s))` : '';
      return fail(
        id,
        'DB_IPV6_ONLY',
        `${info.host} is IPv6-only${seen} and this host cannot reach it over IPv6 (${code}).`,
        'Use the Supavisor pooler, which has IPv4: Dashboard → Connect → "Transaction pooler" (port 6543) or ' +
          `"Session pooler" (5432), user "${role}.${ref}", e.g. postgresql://${role}.${ref}:PASSWORD@aws-0-REGION.pooler.supabase.com:6543/postgres. ` +
          'Or enable the IPv4 add-on, or deploy where IPv6 egress works.',
      );
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      return fail(
        id,
        'DB_HOST_UNKNOWN',
        `The host ${info.host} does not resolve (${code}).`,
        'Copy the host from Dashboard → Connect (the pooler host includes your region, e.g. aws-0-eu-central-1.pooler.supabase.com).',
      );
    }
    const fix = 'Check the host, port and the outbound firewall of this machine.';
    return fail(id, 'DB_UNREACHABLE', `${info.host}:${info.port} is unreachable (${code}).`, fix);
  }
  if (code === 'ECONNREFUSED') {
    return fail(
      id,
      'DB_REFUSED',
      `Nothing accepts connections at ${info?.host}:${info?.port} (ECONNREFUSED).`,
      'Check the host and port (direct 5432; pooler 5432 session / 6543 transaction).',
    );
  }
  if (/ssl|tls|certificate/i.test(message)) {
    const fix =
      'Add ?sslmode=require to DATABASE_URL (Supabase requires TLS; sslmode=verify-full needs the project CA certificate).';
    return fail(id, 'DB_TLS', `TLS failed: ${message}.`, fix);
  }
  return fail(
    id,
    'DB_CONNECT_FAILED',
    `Connecting failed: ${code ? `${code} ` : ''}${message} (${masked}).`,
    'Copy the connection string from Dashboard → Connect and replace the user with your least-privilege login role.',
  );
}

export interface Roles {
  /** Whether the database has a role "authenticated" at all (every Supabase database does). */
  authenticatedExists: boolean;
  login: LoginRoleReport;
}

export async function readRoles(sql: Sql): Promise<Roles> {
  const [{ exists }] = (await sql.unsafe(
    `select to_regrole('authenticated') is not null as exists`,
    [],
    EXTENDED,
  )) as unknown as [{ exists: boolean }];
  return { authenticatedExists: exists, login: await inspectLoginRole(sql) };
}

export function checkLoginRole({ login }: Roles): CheckResult {
  if (login.problems.length)
    return fail('login_role', 'LOGIN_ROLE_PRIVILEGED', login.problems.join(' '), LEAST_PRIVILEGE_FIX);
  return pass('login_role', `"${login.role}" can only become "authenticated", owns nothing and bypasses nothing.`);
}

export function checkAuthenticatedRole({ authenticatedExists, login }: Roles): CheckResult {
  const id = 'authenticated_role';
  if (!authenticatedExists) {
    return fail(
      id,
      'AUTHENTICATED_MISSING',
      'There is no role "authenticated": this is not a Supabase database (or not the "postgres" database of the project).',
      'Point DATABASE_URL at your Supabase project\'s "postgres" database.',
    );
  }
  if (!login.canActAsUser) {
    return fail(
      id,
      'AUTHENTICATED_NOT_GRANTED',
      `"${login.role}" is not a member of "authenticated": it cannot run requests as the signed-in user.`,
      `As postgres: GRANT authenticated TO ${login.role}; (or re-run the SQL from npm run login-role-sql).`,
    );
  }
  return pass(id, `"${login.role}" is a member of "authenticated".`);
}

export interface PublicTable {
  name: string;
  rls: boolean;
}

/** The tables of schema public; pg_class is readable by every role, whatever its table privileges. */
export async function readPublicTables(sql: Sql): Promise<PublicTable[]> {
  return (await sql.unsafe(
    `select c.relname::text as name, c.relrowsecurity as rls from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition order by 1`,
    [],
    EXTENDED,
  )) as unknown as PublicTable[];
}

export function checkRls(tables: readonly PublicTable[]): CheckResult {
  const off = tables.filter((t) => !t.rls).map((t) => t.name);
  if (!off.length) return pass('rls', `All ${tables.length} table(s) in public have RLS enabled.`);
  return fail(
    'rls',
    'RLS_DISABLED',
    `${off.length} of ${tables.length} table(s) in public have RLS off: ${off.join(', ')}. ` +
      'Every signed-in user (and any agent) can read and change all their rows.',
    `As postgres, for each: ${off.map((t) => `alter table public.${quoteIdent(t)} enable row level security;`).join(' ')} ` +
      'Then add policies for "authenticated" (with RLS on and no policy, nobody but the owner sees rows).',
  );
}

export function checkCrmTables(tables: readonly PublicTable[]): CheckResult {
  const present = new Set(tables.map((t) => t.name));
  const missing = CRM_TABLES.filter((t) => !present.has(t));
  if (!missing.length) return pass('crm_tables', `All ${CRM_TABLES.length} tables present (${CRM_TABLES.join(', ')}).`);
  return fail(
    'crm_tables',
    'CRM_TABLES_MISSING',
    `Missing from schema public: ${missing.join(', ')}.`,
    'DATABASE_URL must point at the Atomic CRM project\'s database ("postgres"), with the Atomic CRM migrations applied ' +
      '(from the atomic-crm repository: npx supabase db push).',
  );
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
