/**
 * Per-test databases cloned from the seeded template that test/run.ts builds once per run.
 *
 * Every test file gets fresh, fully seeded databases in a few tens of milliseconds
 * (CREATE DATABASE … TEMPLATE copies files, no SQL replay), so tests may write freely.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export interface TestDatabase {
  name: string;
  /** Superuser URL of this database. */
  adminUrl: string;
  /** Same database as the least-privilege login role (mcp_login: NOINHERIT, member of authenticated only). */
  loginUrl: string;
  /** Superuser connection to this database (closed by drop()). */
  admin: postgres.Sql;
  /** Closes `admin`, terminates any other connection and drops the database. Idempotent. */
  drop(): Promise<void>;
}

export interface TestEnvironment {
  adminUrl: string;
  loginRole: string;
  loginPassword: string;
  template: string;
}

/** What test/run.ts hands to the test processes. */
export function testEnvironment(): TestEnvironment {
  const { TEST_PG_ADMIN_URL, TEST_PG_LOGIN_ROLE, TEST_PG_LOGIN_PASSWORD, TEST_PG_TEMPLATE } = process.env;
  if (!TEST_PG_ADMIN_URL || !TEST_PG_LOGIN_ROLE || !TEST_PG_LOGIN_PASSWORD || !TEST_PG_TEMPLATE) {
    throw new Error(
      'The test database is not set up (TEST_PG_* variables missing). Run tests through the runner: ' +
        '`npm test`, or `node --import tsx test/run.ts test/<file>.test.ts` for one file.',
    );
  }
  return {
    adminUrl: TEST_PG_ADMIN_URL,
    loginRole: TEST_PG_LOGIN_ROLE,
    loginPassword: TEST_PG_LOGIN_PASSWORD,
    template: TEST_PG_TEMPLATE,
  };
}

function withDatabase(url: string, database: string, credentials?: { user: string; password: string }): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  if (credentials) {
    u.username = encodeURIComponent(credentials.user);
    u.password = encodeURIComponent(credentials.password);
  }
  return u.toString();
}

/** Short-lived maintenance connection: a pool left open would keep the test process alive. */
async function onMaintenanceConnection<T>(adminUrl: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

let counter = 0;

/** Unique, valid identifier: label + pid + counter + random (≤ 63 bytes). */
function uniqueName(label: string): string {
  const clean =
    label
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 30) || 'test';
  return `${clean}_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
}

export interface CreateTestDatabaseOptions {
  /** Clone this template instead of the seeded one (e.g. 'template0' for an empty database). */
  template?: string;
}

/**
 * Creates a fresh database cloned from the seeded template. `label` only makes the name readable;
 * the name is always unique.
 */
export async function createTestDatabase(
  label = 'test',
  options: CreateTestDatabaseOptions = {},
): Promise<TestDatabase> {
  const env = testEnvironment();
  const name = uniqueName(label);
  const template = options.template ?? env.template;
  await onMaintenanceConnection(env.adminUrl, async (sql) => {
    const [server] = await sql<{ version: number }[]>`SELECT current_setting('server_version_num')::int AS version`;
    // FILE_COPY (PG15+) copies the ~10 MB template as files: measurably faster per clone here than
    // the default WAL_LOG, which writes every block to the WAL.
    const strategy = server!.version >= 150000 ? sql`STRATEGY FILE_COPY` : sql``;
    await sql`CREATE DATABASE ${sql(name)} TEMPLATE ${sql(template)} ${strategy}`;
  });

  const adminUrl = withDatabase(env.adminUrl, name);
  // idle_timeout: a test that forgets drop() must not hang its process on an idle connection.
  const admin = postgres(adminUrl, { max: 4, idle_timeout: 2, onnotice: () => undefined, connect_timeout: 10 });
  let dropped: Promise<void> | undefined;
  return {
    name,
    adminUrl,
    loginUrl: withDatabase(env.adminUrl, name, { user: env.loginRole, password: env.loginPassword }),
    admin,
    drop() {
      dropped ??= (async () => {
        await admin.end({ timeout: 5 });
        // FORCE: also ends connections the code under test may have left open.
        await onMaintenanceConnection(env.adminUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`);
      })();
      return dropped;
    },
  };
}
