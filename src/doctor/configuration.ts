/**
 * The `config` check: does the configuration load, and is SUPABASE_URL the project URL (not the
 * dashboard, not an API path, not plain http)? It also hands the other checks what they test:
 * the project, the issuer and the connection string, read once by src/config.ts.
 */
import { ConfigError, issuerOf, loadConfig, maskDatabaseUrl, readSetting, type Config } from '../config.js';
import { fail, pass, warn, type CheckResult } from './report.js';

/** What the other checks test; null where the configuration does not say. */
export interface Target {
  supabaseUrl: string | null;
  issuer: string | null;
  /** From a `https://REF.supabase.co` SUPABASE_URL; null for other hosts. */
  projectRef: string | null;
  /** Null when the doctor runs on the server's own pool. */
  databaseUrl: string | null;
  allowSessionTokens: boolean;
}

/** The CLI's case: the configuration as the environment gives it. */
export function readConfiguration(env: Record<string, string | undefined>): { check: CheckResult; target: Target } {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Keep what is valid, so the other checks still say something useful.
    const supabaseUrl = readSetting('supabaseUrl', env) ?? null;
    const target = targetOf(
      supabaseUrl,
      readSetting('databaseUrl', env) ?? null,
      readSetting('auth', env)?.allowSessionTokens ?? false,
    );
    const fix = 'Set these variables in the environment or in .env (see .env.example).';
    return { check: fail('config', 'CONFIG_INVALID', error.problems.join('; '), fix), target };
  }
  const target = targetOf(config.supabaseUrl, config.databaseUrl, config.auth.allowSessionTokens);
  return { check: checkSupabaseUrl(target.supabaseUrl!, target.databaseUrl), target };
}

/** The running server's case: its configuration loaded, its pool open. */
export function serverConfiguration(config: Pick<Config, 'supabaseUrl' | 'auth'>): {
  check: CheckResult;
  target: Target;
} {
  const target = targetOf(config.supabaseUrl, null, config.auth.allowSessionTokens);
  return { check: checkSupabaseUrl(config.supabaseUrl, null), target };
}

function targetOf(supabaseUrl: string | null, databaseUrl: string | null, allowSessionTokens: boolean): Target {
  const projectRef = supabaseUrl
    ? (/^https:\/\/([a-z0-9]+)\.supabase\.co$/i.exec(supabaseUrl)?.[1]?.toLowerCase() ?? null)
    : null;
  return {
    supabaseUrl,
    issuer: supabaseUrl ? issuerOf(supabaseUrl) : null,
    projectRef,
    databaseUrl,
    allowSessionTokens,
  };
}

/** SUPABASE_URL must be the project URL: the issuer is derived from it. */
export function checkSupabaseUrl(supabaseUrl: string, databaseUrl: string | null): CheckResult {
  const url = new URL(supabaseUrl);
  const issuer = issuerOf(supabaseUrl);
  if (/(^|\.)supabase\.com$/i.test(url.hostname) && /\/dashboard\//.test(url.pathname)) {
    const ref = /\/project\/([a-z0-9]+)/i.exec(url.pathname)?.[1] ?? 'YOUR-REF';
    return fail(
      'config',
      'SUPABASE_URL_IS_DASHBOARD',
      `SUPABASE_URL is a dashboard address (${supabaseUrl}).`,
      `Set SUPABASE_URL=https://${ref}.supabase.co (Project Settings → API → Project URL).`,
    );
  }
  const apiPath = /\/(auth|rest|storage|realtime|functions)\/v1$/.exec(url.pathname);
  if (apiPath) {
    const base = supabaseUrl.slice(0, -apiPath[0].length);
    return fail(
      'config',
      'SUPABASE_URL_HAS_PATH',
      `SUPABASE_URL ends with ${apiPath[0]}: the server would expect the issuer ${issuer}.`,
      `Set SUPABASE_URL=${base} (the project URL, without ${apiPath[0]}).`,
    );
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !local) {
    return warn(
      'config',
      'SUPABASE_URL_NOT_HTTPS',
      `SUPABASE_URL uses plain http (${supabaseUrl}).`,
      `Use https://${url.host}: Supabase projects are served over TLS, and tokens carry the https issuer.`,
    );
  }
  const database = databaseUrl ? `; DATABASE_URL=${maskDatabaseUrl(databaseUrl)}` : '';
  return pass('config', `SUPABASE_URL=${supabaseUrl} (token issuer ${issuer})${database}.`);
}
