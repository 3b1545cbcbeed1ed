/**
 * Configuration: environment variables (and `--url=` on the command line) → a typed, validated
 * Config. Validation happens once at start-up and reports every problem in one message, because
 * an operator fixing a deployment should not have to restart once per mistake.
 *
 * @example
 *   const config = loadConfig(process.env, process.argv.slice(2));
 */
import { z } from 'zod';

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = (fallback: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().positive().max(max).default(fallback);

/** A URL without trailing slash, query or fragment: the form every derived URL is built from. */
const baseUrl = z
  .url({ protocol: /^https?$/ })
  .transform((s) => new URL(s))
  .refine((u) => !u.search && !u.hash, 'must not carry a query string or a #fragment')
  .transform((u) => u.href.replace(/\/+$/, ''));

const schema = z.object({
  SUPABASE_URL: baseUrl.describe('your project URL, e.g. https://abcd1234.supabase.co'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string')
    .describe('a PostgreSQL connection string for the least-privilege login role (see sql/least-privilege-role.sql)'),
  MCP_SERVER_URL: baseUrl.optional().describe('the public base URL clients reach, e.g. https://abcd.ngrok.app'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  ALLOW_SESSION_TOKENS: flag,
  ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((s) => (s ?? '').split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.url()).transform((list) => list.map((o) => new URL(o).origin))),
  STATEMENT_TIMEOUT_MS: positiveInt(8_000, 600_000),
  LOCK_TIMEOUT_MS: positiveInt(2_000, 600_000),
  MAX_ROWS: positiveInt(200, 100_000),
  MAX_RESULT_BYTES: positiveInt(100_000, 50_000_000),
  DB_POOL_SIZE: positiveInt(10, 1_000),
  DB_POOL_WAIT_MS: positiveInt(5_000, 600_000),
  // Unset: a quarter of the pool (rounded up), so at least four users always find a connection.
  DB_USER_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).optional(),
  // Unset: four requests per pool connection; past it requests are refused with 503 + Retry-After.
  MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).optional(),
  ALLOW_PRIVILEGED_LOGIN_ROLE: flag,
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000, 600_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  LOG_STATEMENTS: flag,
});

export type Config = {
  supabaseUrl: string;
  /** `SUPABASE_URL/auth/v1`: the `iss` of every token Supabase Auth mints. */
  issuer: string;
  jwksUrl: string;
  databaseUrl: string;
  /** Public base URL of this server (no trailing slash). */
  publicUrl: string;
  /** The MCP endpoint's canonical URL: the `resource` of the protected-resource metadata. */
  resourceUrl: string;
  port: number;
  host: string;
  allowSessionTokens: boolean;
  allowedOrigins: string[];
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  maxRows: number;
  maxResultBytes: number;
  poolSize: number;
  poolWaitMs: number;
  /** Statements one user may run at once. */
  userConcurrency: number;
  /** HTTP requests handled at once before new ones get 503. */
  maxInFlight: number;
  allowPrivilegedLoginRole: boolean;
  shutdownTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  logFormat: 'json' | 'pretty';
  logStatements: boolean;
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(
      `The server cannot start: its configuration has ${problems.length} problem(s).\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\nSet these as environment variables or in a .env file (see .env.example).',
    );
    this.name = 'ConfigError';
  }
}

/** Reads `--url=<public URL>` (as printed by ngrok) from the command line; it wins over MCP_SERVER_URL. */
function urlFromArgs(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--url=')) return arg.slice('--url='.length);
    if (arg === '--url') return argv[i + 1];
  }
  return undefined;
}

/** Hides the password of a connection string, for messages and logs. */
export function maskDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(unparseable connection string)';
  }
}

export function loadConfig(env: Record<string, string | undefined>, argv: readonly string[] = []): Config {
  const input: Record<string, string | undefined> = { ...env, MCP_SERVER_URL: urlFromArgs(argv) ?? env.MCP_SERVER_URL };
  // Empty strings (VAR= in a .env file) mean "not set", so defaults apply.
  for (const key of Object.keys(input)) if (input[key] === '') delete input[key];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? '');
        const hint = (schema.shape as Record<string, z.ZodType>)[key]?.description;
        const given = key === 'DATABASE_URL' && env[key] ? ` (got ${maskDatabaseUrl(env[key]!)})` : '';
        const what = issue.code === 'invalid_type' && input[key] === undefined ? 'is required' : issue.message;
        return `${key} ${what}${given}${hint ? `: ${hint}` : ''}`;
      }),
    );
  }
  const v = parsed.data;
  const publicUrl = v.MCP_SERVER_URL ?? `http://localhost:${v.PORT}`;
  const issuer = `${v.SUPABASE_URL}/auth/v1`;
  return {
    supabaseUrl: v.SUPABASE_URL,
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    databaseUrl: v.DATABASE_URL,
    publicUrl,
    resourceUrl: `${publicUrl}/mcp`,
    port: v.PORT,
    host: v.HOST,
    allowSessionTokens: v.ALLOW_SESSION_TOKENS,
    allowedOrigins: v.ALLOWED_ORIGINS,
    statementTimeoutMs: v.STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: v.LOCK_TIMEOUT_MS,
    maxRows: v.MAX_ROWS,
    maxResultBytes: v.MAX_RESULT_BYTES,
    poolSize: v.DB_POOL_SIZE,
    poolWaitMs: v.DB_POOL_WAIT_MS,
    userConcurrency: v.DB_USER_CONCURRENCY ?? Math.ceil(v.DB_POOL_SIZE / 4),
    maxInFlight: v.MAX_IN_FLIGHT ?? v.DB_POOL_SIZE * 4,
    allowPrivilegedLoginRole: v.ALLOW_PRIVILEGED_LOGIN_ROLE,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
    logStatements: v.LOG_STATEMENTS,
  };
}
