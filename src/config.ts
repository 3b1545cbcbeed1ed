/**
 * Configuration: environment variables (and `--url=` on the command line) → a typed, validated
 * Config. Validation happens once at start-up and reports every problem in one message, because
 * an operator fixing a deployment should not have to restart once per mistake.
 *
 * One schema is the whole contract: its output is the shape the code uses (`auth`, `limits`,
 * `log`, …) and each setting names its environment variable beside its type, default and bounds.
 * Adding a setting is one line here, plus its line in .env.example and in the README's table
 * (test/config.test.ts checks both list exactly these variables).
 *
 * @example
 *   const config = loadConfig(process.env, process.argv.slice(2));
 *   createMcpHandler({ limits: config.limits, … });
 */
import { z } from 'zod';

/** The environment variable a setting is read from, and what to tell an operator who got it wrong. */
interface Variable {
  name: string;
  hint?: string;
}

const variables = z.registry<Variable>();

/** A setting read from the environment variable `name`. */
function fromEnv<T extends z.ZodType>(name: string, type: T, hint?: string): T {
  // Its own instance: one schema (a flag, a bound) backs several variables.
  const setting = type.clone();
  variables.add(setting, { name, hint });
  return setting;
}

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
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

const origins = z
  .string()
  .optional()
  .transform((s) =>
    (s ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.url()).transform((list) => list.map((o) => new URL(o).origin)));

const settings = z.object({
  supabaseUrl: fromEnv('SUPABASE_URL', baseUrl, 'your project URL, e.g. https://abcd1234.supabase.co'),
  databaseUrl: fromEnv(
    'DATABASE_URL',
    z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string'),
    'a PostgreSQL connection string for the least-privilege login role (see sql/least-privilege-role.sql)',
  ),
  /** Public base URL of this server (no trailing slash); default http://localhost:PORT. */
  publicUrl: fromEnv(
    'MCP_SERVER_URL',
    baseUrl.optional(),
    'the public base URL clients reach, e.g. https://abcd.ngrok.app',
  ),
  /**
   * The path prefix requests arrive with, when a gateway forwards only part of the public path: a
   * Supabase Edge Function is public at /functions/v1/NAME and receives /NAME/… (runtimes/edge.ts).
   */
  basePath: fromEnv(
    'MCP_BASE_PATH',
    z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must be empty or a path like /name (no trailing slash)')
      .default(''),
    'the path prefix the server receives requests under, e.g. /atomic-crm-mcp',
  ),
  /** Where the team's Atomic CRM web app is served: records carry links into it (src/crm/links.ts). */
  atomicCrmUrl: fromEnv(
    'ATOMIC_CRM_URL',
    baseUrl.optional(),
    "the web app's base URL, e.g. https://crm.example.com (records link to …/#/contacts/42/show)",
  ),
  port: fromEnv('PORT', z.coerce.number().int().min(0).max(65535).default(3000)),
  host: fromEnv('HOST', z.string().min(1).default('0.0.0.0')),
  /** Browser origins allowed besides the server's own. */
  allowedOrigins: fromEnv('ALLOWED_ORIGINS', origins),
  poolSize: fromEnv('DB_POOL_SIZE', positiveInt(10, 1_000)),
  allowPrivilegedLoginRole: fromEnv('ALLOW_PRIVILEGED_LOGIN_ROLE', flag),
  shutdownTimeoutMs: fromEnv('SHUTDOWN_TIMEOUT_MS', positiveInt(10_000, 600_000)),
  /** A write changing more rows than this, or deleting any, asks the user first (src/mcp/confirm.ts). */
  /** HTTP requests handled at once before new ones get 503 + Retry-After; unset: four per pool connection. */
  maxInFlight: fromEnv('MAX_IN_FLIGHT', z.coerce.number().int().min(1).max(100_000).optional()),
  /** New requests get 503 + Retry-After while the event loop runs later than this (src/event-loop-lag.ts); 0: off. */
  maxEventLoopLagMs: fromEnv('MAX_EVENT_LOOP_LAG_MS', z.coerce.number().int().min(0).max(600_000).default(500)),
  confirmWriteRows: fromEnv('CONFIRM_WRITE_ROWS', z.coerce.number().int().min(0).max(1_000_000).default(20)),
  auth: z.object({
    /** Also accept the web app's own session tokens (no client_id claim). */
    allowSessionTokens: fromEnv('ALLOW_SESSION_TOKENS', flag),
  }),
  /** What one tool call may use (src/db/run.ts). */
  limits: z.object({
    statementTimeoutMs: fromEnv('STATEMENT_TIMEOUT_MS', positiveInt(8_000, 600_000)),
    lockTimeoutMs: fromEnv('LOCK_TIMEOUT_MS', positiveInt(2_000, 600_000)),
    maxRows: fromEnv('MAX_ROWS', positiveInt(200, 100_000)),
    /**
     * Sized for an agent's context: about 10,000 tokens at roughly 4 bytes a token, so one answer
     * leaves room for the rest of the conversation. Measured on the rows' JSON in PostgreSQL; the
     * compact table the agent reads (src/mcp/results.ts) is smaller still.
     */
    maxBytes: fromEnv('MAX_RESULT_BYTES', positiveInt(10_000 * 4, 50_000_000)),
    /** How long a call waits for a free connection before answering POOL_BUSY. */
    poolWaitMs: fromEnv('DB_POOL_WAIT_MS', positiveInt(5_000, 600_000)),
    /** Statements one user may run at once (src/db/fair-share.ts); unset: a quarter of the pool, rounded up, so at least four users always find a connection. */
    userConcurrency: fromEnv('DB_USER_CONCURRENCY', z.coerce.number().int().min(1).max(1_000).optional()),
    /** A user whose statements average longer than this in the database runs one at a time (src/db/fair-share.ts); 0: off. */
    userHeavyMs: fromEnv('DB_USER_HEAVY_MS', z.coerce.number().int().min(0).max(600_000).default(250)),
  }),
  log: z.object({
    level: fromEnv('LOG_LEVEL', z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info')),
    format: fromEnv('LOG_FORMAT', z.enum(['json', 'pretty']).default('json')),
    /** Put the SQL text in audit lines (it may contain personal data). */
    statements: fromEnv('LOG_STATEMENTS', flag),
  }),
});

/** `SUPABASE_URL/auth/v1`: the `iss` of every token Supabase Auth mints. */
export const issuerOf = (supabaseUrl: string): string => `${supabaseUrl}/auth/v1`;

/** The settings plus the URLs derived from them. */
const schema = settings.transform((s) => {
  const publicUrl = s.publicUrl ?? `http://localhost:${s.port}`;
  const issuer = issuerOf(s.supabaseUrl);
  return {
    ...s,
    publicUrl,
    /** The MCP endpoint's canonical URL: the `resource` of the protected-resource metadata. */
    resourceUrl: `${publicUrl}/mcp`,
    /**
     * The protected-resource metadata the challenge sends clients to: always under the server's own
     * base URL. On a host of its own that is RFC 9728's path-inserted URL for /mcp; under a path
     * (an Edge Function at /functions/v1/NAME) it stays inside that path, because the host root
     * belongs to someone else (Supabase's gateway answers /.well-known/… there, not the function).
     */
    metadataUrl: `${publicUrl}/.well-known/oauth-protected-resource/mcp`,
    auth: { ...s.auth, issuer, jwksUrl: `${issuer}/.well-known/jwks.json` },
    limits: { ...s.limits, userConcurrency: s.limits.userConcurrency ?? Math.ceil(s.poolSize / 4) },
    maxInFlight: s.maxInFlight ?? s.poolSize * 4,
  };
});

export type Config = z.output<typeof schema>;

/** Where each setting sits in Config and which variable it is read from, in the schema's order. */
const SETTINGS: { path: string[]; variable: Variable }[] = (function walk(shape: z.ZodRawShape, path: string[]) {
  return Object.entries(shape).flatMap(([key, type]): { path: string[]; variable: Variable }[] => {
    const variable = variables.get(type);
    if (variable) return [{ path: [...path, key], variable }];
    if (type instanceof z.ZodObject) return walk(type.shape, [...path, key]);
    throw new Error(`config: the setting ${[...path, key].join('.')} names no environment variable`);
  });
})(settings.shape, []);

/** Every environment variable the server reads, in the schema's order. */
export const CONFIG_VARIABLES: readonly string[] = SETTINGS.map((s) => s.variable.name);

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

type Input = { [key: string]: string | undefined | Input };

/** The environment arranged in the schema's shape. */
function inputFrom(env: Record<string, string | undefined>): Input {
  const input: Input = {};
  for (const { path, variable } of SETTINGS) {
    let group = input;
    for (const key of path.slice(0, -1)) group = (group[key] ??= {}) as Input;
    // Empty strings (VAR= in a .env file) mean "not set", so defaults apply.
    group[path.at(-1)!] = env[variable.name] || undefined;
  }
  return input;
}

export function loadConfig(env: Record<string, string | undefined>, argv: readonly string[] = []): Config {
  const given: Record<string, string | undefined> = { ...env, MCP_SERVER_URL: urlFromArgs(argv) ?? env.MCP_SERVER_URL };
  const parsed = schema.safeParse(inputFrom(given));
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const setting = SETTINGS.find(({ path }) => path.every((key, i) => issue.path[i] === key));
      if (!setting) return `${issue.path.join('.')} ${issue.message}`;
      const { name, hint } = setting.variable;
      const value = given[name] || undefined;
      const shown = name === 'DATABASE_URL' && value ? ` (got ${maskDatabaseUrl(value)})` : '';
      const what = issue.code === 'invalid_type' && value === undefined ? 'is required' : issue.message;
      return `${name} ${what}${shown}${hint ? `: ${hint}` : ''}`;
    }),
  );
}

type Setting = keyof typeof settings.shape;

/**
 * One setting on its own, or undefined when it is missing or wrong: for a tool that goes on
 * checking the rest of a configuration that does not load (the doctor).
 */
export function readSetting<K extends Setting>(
  key: K,
  env: Record<string, string | undefined>,
): z.output<(typeof settings.shape)[K]> | undefined {
  const parsed = settings.shape[key].safeParse(inputFrom(env)[key]);
  return parsed.success ? (parsed.data as z.output<(typeof settings.shape)[K]>) : undefined;
}
