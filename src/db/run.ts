/**
 * Runs one statement as a signed-in user: the whole transaction (begin, identity and limits, the
 * statement, an integrity check, commit) is written to one reserved connection without waiting
 * between steps, so a tool call costs one network round trip however far the database is.
 *
 * Safety rests on three layers, in order: the statement policy (policy.ts) refuses what PostgreSQL
 * cannot stop; PostgreSQL enforces the role, RLS and READ ONLY; and the integrity check below
 * proves, in the same transaction and before anything is returned, that the statement left the
 * role and the claims as they were. A failed check raises inside SQL, so the pipelined COMMIT
 * turns into a ROLLBACK with no extra round trip.
 *
 * @example
 *   const result = await runStatement(sql, { sub, claims }, 'select name from companies', {
 *     access: 'read', limits,
 *   });
 */
import type postgres from 'postgres';
import type { Config } from '../config.js';
import { type Codes, CodedError } from '../errors.js';
import { UserSlots } from './fair-share.js';
import { EXTENDED, type Sql } from './pool.js';

/** Who the statement runs as: the verified token's subject and claims. */
export interface Identity {
  sub: string;
  claims: Readonly<Record<string, unknown>>;
}

/** What one call may use: the `limits` group of the configuration (src/config.ts), as it is. */
export type Limits = Config['limits'];

export interface Column {
  name: string;
  type: string;
}

export interface StatementResult {
  /** PostgreSQL's command tag: SELECT, INSERT, UPDATE, DELETE, MERGE. */
  command: string;
  columns: Column[];
  rows: Record<string, unknown>[];
  /** The same rows as arrays in the columns' order: the text table is written from these. */
  values: unknown[][];
  /** Rows returned to the caller (after caps); for writes, rows the statement affected. */
  rowCount: number;
  /** Why the rows were cut short, or null when every row is here. */
  truncated: null | 'rows' | 'bytes';
  /** Set when a write committed but its own result was lost with the connection (no rows, no count). */
  notice?: string;
}

/** What the database answered instead of rows; see src/errors.ts. */
export type DbErrorCode = Codes<
  | 'SQL_ERROR'
  | 'STATEMENT_TIMEOUT'
  | 'CANCELLED'
  | 'POOL_BUSY'
  | 'INTEGRITY_VIOLATION'
  | 'DATABASE_UNAVAILABLE'
  | 'DATABASE_MISCONFIGURED'
  | 'WRITE_ROLLED_BACK'
  | 'WRITE_IN_DOUBT'
  | 'USER_BUSY'
>;

/** PostgreSQL's own description of an error, kept whole so the agent can fix its statement. */
export interface PgErrorFields {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character offset into the agent's statement. */
  position?: number;
  where?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

export class DbError extends CodedError<DbErrorCode> {
  constructor(
    code: DbErrorCode,
    message: string,
    readonly pg?: PgErrorFields,
    /** More fields for the agent (e.g. the transaction id of a write in doubt). */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(code, message);
    this.name = 'DbError';
  }
}

export interface RunOptions {
  /** `read` runs the transaction READ ONLY. */
  access: 'read' | 'write';
  /** For writes: commit only what this allows, else roll back and throw WriteHeld. */
  guard?: WriteGuard;
  limits: Limits;
  /** Aborting cancels the running statement in PostgreSQL. */
  signal?: AbortSignal;
  /** Column type names by oid (see loadTypeNames); unknown types are reported as `oid:N`. */
  typeNames?: ReadonlyMap<number, string>;
}

/**
 * Which writes commit without asking. Decided in SQL after the statement, in the same pipeline, so
 * an ordinary write still costs one round trip: a failed gate turns the pipelined COMMIT into a
 * ROLLBACK. Counts are the transaction's own, from the counters behind pg_stat_xact_user_tables
 * (XACT_TABLES below): cascades and triggers included, which is what the user would lose.
 */
export interface WriteGuard {
  /** Without `expected`: commit when at most this many rows changed and none was deleted. */
  maxRows: number;
  /** A count the user confirmed: commit only when exactly this many rows changed. */
  expected?: number;
}

/** Rows one table gained, changed and lost in the transaction. */
export interface TableChanges {
  table: string;
  inserted: number;
  updated: number;
  deleted: number;
}

/** The write was rolled back because its guard did not allow it; nothing was changed. */
export class WriteHeld extends Error {
  readonly code = 'WRITE_HELD';
  constructor(
    readonly changes: TableChanges[],
    readonly result: StatementResult,
  ) {
    super('The write was held for confirmation and rolled back.');
    this.name = 'WriteHeld';
  }
  /** Every row inserted, updated or deleted, cascades included. */
  get total(): number {
    return this.changes.reduce((n, c) => n + c.inserted + c.updated + c.deleted, 0);
  }
}

/**
 * The transaction's changes are the counters of pg_stat_xact_user_tables minus what they held
 * before the statement: a backend flushes them only between transactions, so counts of earlier
 * transactions on the same pooled connection may still be there. The snapshot sits in a setting
 * the agent's SQL cannot touch (the policy refuses set_config and SET).
 *
 * The counters are read from the three functions behind the view's n_tup_ins, n_tup_upd and
 * n_tup_del, for the view's relations found more cheaply: the view computes a dozen counters per
 * table and joins pg_index, and its schema filter joins pg_namespace and runs a regular expression
 * over every row of pg_class. What that filter leaves out is what initdb made (pg_catalog,
 * information_schema) and toast tables (pg_toast schemas); every relation made after initdb has an
 * OID of 16384 or more (docs/mcp-protocol.md), so OID and kind pick the same relations without the
 * join. (A table a superuser put in information_schema would be counted too: the safe side.) Each
 * of a guarded write's two scans costs PostgreSQL about half the CPU it did; test/db/write-guard.test.ts
 * holds the two to the same rows. Every operator here has operands of one type, so PostgreSQL's own
 * (pg_catalog is searched first) wins over any an attacker could put in a schema on the path: an
 * `oid >= integer` in public would be an exact match and beat pg_catalog's `oid >= oid`.
 */
export const XACT_TABLES =
  '(select c.oid as relid,' +
  ' (select n.nspname from pg_catalog.pg_namespace as n where n.oid = c.relnamespace) as schemaname, c.relname,' +
  ' pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) as n_tup_ins,' +
  ' pg_catalog.pg_stat_get_xact_tuples_updated(c.oid) as n_tup_upd,' +
  ' pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) as n_tup_del' +
  " from pg_catalog.pg_class as c where c.oid >= '16384'::pg_catalog.oid and c.relkind in ('r', 'm', 'p'))";
const BEFORE = 'mcp.changes_before';
const SNAPSHOT_SQL =
  `select pg_catalog.set_config('${BEFORE}', coalesce((select pg_catalog.json_object_agg(relid, pg_catalog.json_build_array(n_tup_ins, n_tup_upd, n_tup_del))` +
  ` from ${XACT_TABLES} as x where n_tup_ins + n_tup_upd + n_tup_del > 0), '{}')::text, true)`;
const DELTA =
  "(select case when t.schemaname = 'public' then t.relname::text else t.schemaname || '.' || t.relname end as table," +
  ' (t.n_tup_ins - coalesce((b.value->>0)::bigint, 0))::int as inserted,' +
  ' (t.n_tup_upd - coalesce((b.value->>1)::bigint, 0))::int as updated,' +
  ' (t.n_tup_del - coalesce((b.value->>2)::bigint, 0))::int as deleted' +
  ` from ${XACT_TABLES} as t` +
  ` left join pg_catalog.json_each(pg_catalog.current_setting('${BEFORE}')::json) b on b.key = t.relid::text) as d`;
/**
 * The changes, as a JSON list by table, are also kept in a setting for the gate: it then reads
 * four numbers instead of planning and running the catalog scan again (the guard's three steps
 * were most of a write's PostgreSQL time, half of it planning). Nothing of the agent's runs
 * between the two steps.
 */
const CHANGES = 'mcp.changes';
const CHANGES_SQL =
  `select pg_catalog.set_config('${CHANGES}', coalesce((select pg_catalog.json_agg(d order by d.table) from ${DELTA}` +
  " where d.inserted + d.updated + d.deleted > 0), '[]')::text, true) as changes";

/** Fails (division by zero, in its own step) when the guard does not allow the transaction's changes. */
function gateSql(guard: WriteGuard): string {
  const allowed =
    guard.expected !== undefined
      ? `s.total = ${Math.trunc(guard.expected)}`
      : `s.deleted = 0 and s.total <= ${Math.trunc(guard.maxRows)}`;
  return (
    `select 1 / (case when ${allowed} then 1 else 0 end) as allowed` +
    ' from (select coalesce(sum(d.inserted + d.updated + d.deleted), 0) as total, coalesce(sum(d.deleted), 0) as deleted' +
    ` from pg_catalog.json_to_recordset(pg_catalog.current_setting('${CHANGES}')::json) as d(inserted int, updated int, deleted int)) as s`
  );
}

/** A result of postgres.js, as objects or (with `.values()`) as arrays. */
type Rows = postgres.RowList<postgres.Row[]>;
type Pending =
  | postgres.PendingQuery<postgres.Row[]>
  | postgres.PendingValuesQuery<(postgres.Row & Iterable<postgres.Row>)[]>;

/**
 * A SQL string literal that is safe whatever the text holds. The E'' form interprets backslashes
 * itself, so the result does not depend on `standard_conforming_strings` (which a role default could
 * turn off). Claims contain user-editable text (user_metadata), hence the care.
 */
export function literal(text: string): string {
  if (text.includes('\0')) throw new DbError('SQL_ERROR', 'Text for PostgreSQL cannot contain NUL characters.');
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * Our own statement (a domain tool's, an app's) with its `$1…$n` bound as literals. postgres.js
 * sends a statement that has parameters as Parse + Describe first and waits for the parameter types
 * before it binds them (short of named prepared statements, which transaction-mode poolers refuse):
 * a round trip in the middle of the pipeline. Inlined, the call keeps its one round trip. Only for
 * templates in this repository: placeholders are found by pattern, so none may sit inside a string.
 *
 * @example
 *   inlineParameters('select $1::bigint, $2::text', [42, "O'Brien"]); // "select 42::bigint, E'O''Brien'::text"
 */
export function inlineParameters(text: string, parameters: readonly (string | number | boolean | null)[]): string {
  return text.replace(/\$(\d+)(?!\d)/g, (placeholder, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= parameters.length) throw new Error(`${placeholder} has no value`);
    const value = parameters[index]!;
    if (value === null) return 'NULL';
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error(`${placeholder} is not a finite number`);
      // Parenthesised: `-1::bigint` would cast before negating, and `x-$1` must not become `x--1`.
      return value < 0 ? `(${value})` : String(value);
    }
    return literal(value);
  });
}

/**
 * Everything the transaction sets before the agent's statement; SET LOCAL semantics throughout. A
 * write also learns its transaction id here, in the same pipeline: if the connection is lost after
 * COMMIT left, that id is how the server asks PostgreSQL whether it committed.
 */
function setupSql(identity: Identity, claimsJson: string, limits: Limits, access: RunOptions['access']): string {
  const settings: [string, string][] = [
    ['role', 'authenticated'],
    ['request.jwt.claims', claimsJson],
    // auth.uid() reads this one first: set it too, so nothing left on the connection can win.
    ['request.jwt.claim.sub', identity.sub],
    ['request.jwt.claim.role', 'authenticated'],
    // Role defaults (authenticated's 8 s) apply only at login, so the server sets limits itself.
    ['statement_timeout', String(limits.statementTimeoutMs)],
    ['lock_timeout', String(limits.lockTimeoutMs)],
    ['idle_in_transaction_session_timeout', String(limits.statementTimeoutMs + 5_000)],
    // As Supabase's API does: citext operators live in `extensions`.
    ['search_path', 'public, extensions'],
    // The statement policy parsed the text with the default grammar; a role or database default
    // of `off` would make PostgreSQL read backslashes in '' strings differently from the policy.
    ['standard_conforming_strings', 'on'],
    ['TimeZone', 'UTC'],
  ];
  const xid = access === 'write' ? ', pg_catalog.pg_current_xact_id()::text as xid' : '';
  return `select ${settings.map(([k, v]) => `pg_catalog.set_config('${k}', ${literal(v)}, true)`).join(', ')}${xid}`;
}

/**
 * Fails (division by zero, SQLSTATE 22012) unless the role and identity are still the ones set up.
 * The divisor is not a constant, so the planner cannot fold it into an error on the happy path.
 */
function integrityCheckSql(identity: Identity, claimsJson: string): string {
  return (
    "select 1 / (case when current_user = 'authenticated'" +
    ` and pg_catalog.current_setting('request.jwt.claims', true) = ${literal(claimsJson)}` +
    ` and pg_catalog.current_setting('request.jwt.claim.sub', true) = ${literal(identity.sub)}` +
    ' then 1 else 0 end) as integrity'
  );
}

/** The set-up and integrity-check texts for one identity under one set of limits. */
interface Prelude {
  limits: Limits;
  setup: Record<RunOptions['access'], string>;
  check: string;
}

/**
 * Preludes by identity: a verified token's principal is one object for as long as the token cache
 * keeps it (src/auth/verified-cache.ts), so a user's calls reuse the texts instead of serialising
 * and quoting the claims twice per call. Claims are read-only; other limits make a new prelude.
 */
const preludes = new WeakMap<Identity, Prelude>();

function preludeFor(identity: Identity, limits: Limits): Prelude {
  let prelude = preludes.get(identity);
  if (prelude?.limits !== limits) {
    const claimsJson = JSON.stringify(identity.claims);
    prelude = {
      limits,
      setup: {
        read: setupSql(identity, claimsJson, limits, 'read'),
        write: setupSql(identity, claimsJson, limits, 'write'),
      },
      check: integrityCheckSql(identity, claimsJson),
    };
    preludes.set(identity, prelude);
  }
  return prelude;
}

// Helper column names no agent query will use; they are stripped before results leave this file.
const ROW_NO = '__mcp_row_no_c0ffee';
const RUNNING_BYTES = '__mcp_running_bytes_c0ffee';
const SEEN = '__mcp_rows_seen_c0ffee';
const OVER = '__mcp_bytes_over_c0ffee';
const HELPER_COLUMNS = 4;

/**
 * Wraps a SELECT so PostgreSQL itself enforces the caps: it stops after maxRows + 1 rows (so
 * `generate_series(1, 1e9)` ends early) and never sends rows past the byte budget, so the server
 * holds at most the caps in memory. `seen` and `over` say whether anything was cut.
 */
function cappedSelect(statement: string, limits: Limits): { text: string; offset: number } {
  const prefix =
    `with __mcp_rows as (select __mcp_q.*, row_number() over () as ${ROW_NO},` +
    ` sum(octet_length(__mcp_q::text)) over (rows unbounded preceding) as ${RUNNING_BYTES}` +
    ' from (\n';
  const suffix =
    `\n) as __mcp_q limit ${limits.maxRows + 1})` +
    ` select __mcp_r.*, __mcp_s.${SEEN}, __mcp_s.${OVER}` +
    ` from (select count(*) as ${SEEN}, coalesce(bool_or(${RUNNING_BYTES} > ${limits.maxBytes}), false) as ${OVER} from __mcp_rows) as __mcp_s` +
    ` left join __mcp_rows as __mcp_r on __mcp_r.${RUNNING_BYTES} <= ${limits.maxBytes}` +
    ` order by __mcp_r.${ROW_NO}`;
  return { text: prefix + statement + suffix, offset: prefix.length };
}

/**
 * Runs `body` as the user inside one pipelined transaction and returns its result. Used for the
 * agent's statements and for the server's own introspection queries alike.
 */
export async function asUser(
  sql: Sql,
  identity: Identity,
  options: RunOptions,
  body: (connection: postgres.ReservedSql) => Pending,
  describeError: (error: postgres.PostgresError) => DbError = (e) => fromPostgres(e, 0, 0),
): Promise<Rows> {
  const { limits, signal } = options;
  if (signal?.aborted) throw new DbError('CANCELLED', 'The request was cancelled before the statement ran.');
  const slot = limits.userConcurrency
    ? await slotsFor(sql, limits.userConcurrency, limits.userHeavyMs).acquire(identity.sub, limits.poolWaitMs)
    : undefined;
  let databaseMs: number | undefined;
  try {
    return await asUserInSlot(sql, identity, options, body, describeError, (ms) => (databaseMs = ms));
  } finally {
    slot?.release(databaseMs);
  }
}

/** One UserSlots per pool: the cap shares that pool's connections (and its database's CPU). */
const slotsByPool = new WeakMap<Sql, UserSlots>();
function slotsFor(sql: Sql, cap: number, heavyMs: number): UserSlots {
  let slots = slotsByPool.get(sql);
  if (slots?.cap !== cap || slots.heavyMs !== heavyMs) slotsByPool.set(sql, (slots = new UserSlots(cap, heavyMs)));
  return slots;
}

async function asUserInSlot(
  sql: Sql,
  identity: Identity,
  options: RunOptions,
  body: (connection: postgres.ReservedSql) => Pending,
  describeError: (error: postgres.PostgresError) => DbError,
  /** How long the transaction held its connection, ms: the cost fair-share.ts weighs the user by. */
  timed: (databaseMs: number) => void,
): Promise<Rows> {
  const { limits, signal } = options;
  // Built before the connection is reserved: literal() throws on a NUL, and nothing would release it.
  const prelude = preludeFor(identity, limits);
  const connection = await reserve(sql, limits.poolWaitMs);
  const step = (text: string) => connection.unsafe(text, [], EXTENDED);
  const { guard } = options;
  const steps = [
    step(options.access === 'read' ? 'begin read only' : 'begin'),
    step(prelude.setup[options.access]),
    ...(guard ? [step(SNAPSHOT_SQL)] : []),
    body(connection),
    step(prelude.check),
    ...(guard ? [step(CHANGES_SQL), step(gateSql(guard))] : []),
    step('commit'),
  ];
  const at = guard ? 1 : 0;
  const statement = steps[2 + at]!;
  const cancel = () => void statement.cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  // Written back to back: postgres.js pipelines queries on a connection until one needs a reply,
  // defers each query's write by one microtask and (patched) flushes in a microtask queued by the
  // first write, so every step is in the buffer before the flush and the whole transaction leaves
  // in one socket write, however fast the database answers its first steps
  // (docs/postgres-js-patch.md, item 6).
  const started = performance.now();
  for (const s of steps) s.execute();
  const settled = (await Promise.allSettled(steps)) as PromiseSettledResult<Rows>[];
  timed(performance.now() - started);
  const [begun, setUp] = settled as [PromiseSettledResult<Rows>, PromiseSettledResult<Rows>];
  const snapshot = guard ? settled[2] : undefined;
  const ran = settled[2 + at]!;
  const checked = settled[3 + at]!;
  const [changes, gate] = guard ? settled.slice(4 + at, 6 + at) : [];
  const committed = settled.at(-1)!;
  signal?.removeEventListener('abort', cancel);

  try {
    if (options.access === 'write' && isLostAfterCommitLeft(settled)) {
      const xid = setUp.status === 'fulfilled' ? String(setUp.value[0]?.xid ?? '') || null : null;
      // PostgreSQL ended the session (FATAL) at a step before COMMIT: COMMIT never ran.
      const endedBeforeCommit = settled
        .slice(0, -1)
        .some((step) => step.status === 'rejected' && isPostgresError(step.reason));
      const outcome = endedBeforeCommit ? 'aborted' : xid ? await transactionOutcome(sql, xid) : 'unknown';
      if (outcome === 'committed') {
        if (ran.status === 'fulfilled') return ran.value;
        throw new CommittedWithoutResult(xid!);
      }
      if (outcome === 'aborted') {
        throw new DbError(
          'WRITE_ROLLED_BACK',
          `The connection to the database was lost during this write, and ${xid ? `PostgreSQL confirms its transaction ${xid}` : 'PostgreSQL ended the session before its COMMIT, so it'} ` +
            'rolled back: nothing was changed. It is safe to run the statement again.',
          undefined,
          xid ? { xid } : undefined,
        );
      }
      throw inDoubt(xid);
    }
    // A cancel request stops whichever step is running when it lands, not always the statement.
    if (signal?.aborted && firstFailure(...settled) !== undefined) {
      throw new DbError('CANCELLED', 'The request was cancelled; the statement was stopped and nothing was changed.');
    }
    const failure = firstFailure(begun, setUp, ...(snapshot ? [snapshot] : []));
    if (failure) throw setupFailure(failure);
    if (ran.status === 'rejected') {
      const error = ran.reason;
      if (isPostgresError(error) && error.code === '57014') {
        throw new DbError(
          'STATEMENT_TIMEOUT',
          `The statement ran longer than ${limits.statementTimeoutMs} ms and was stopped; nothing was changed. ` +
            'Narrow it (WHERE, LIMIT, fewer joins) or aggregate in SQL.',
          pgFields(error, 0, 0),
        );
      }
      if (isPostgresError(error) && !isConnectionLost(error)) throw describeError(error);
      throw unavailable(error);
    }
    if (checked.status === 'rejected') {
      const error = checked.reason;
      if (isPostgresError(error) && error.code === '22012') {
        throw new DbError(
          'INTEGRITY_VIOLATION',
          'The statement changed the role or identity it runs as. It was rolled back and nothing was returned.',
        );
      }
      throw isPostgresError(error) && !isConnectionLost(error) ? describeError(error) : unavailable(error);
    }
    if (changes && gate) {
      if (changes.status === 'rejected')
        throw isPostgresError(changes.reason) ? describeError(changes.reason) : unavailable(changes.reason);
      if (gate.status === 'rejected') {
        if (isPostgresError(gate.reason) && gate.reason.code === '22012')
          throw new HeldRows(ran.value, JSON.parse(String(changes.value[0]?.changes ?? '[]')) as TableChanges[]);
        throw isPostgresError(gate.reason) ? describeError(gate.reason) : unavailable(gate.reason);
      }
    }
    if (committed.status === 'rejected') {
      const error = committed.reason;
      throw isPostgresError(error) && !isConnectionLost(error) ? describeError(error) : unavailable(error);
    }
    if (committed.value.command !== 'COMMIT') {
      throw new DbError('DATABASE_UNAVAILABLE', 'The transaction did not commit; nothing was changed. Try again.');
    }
    return ran.value;
  } finally {
    await release(connection, settled);
  }
}

/**
 * A write whose connection was lost with nothing but the transport failing: no step was refused
 * by PostgreSQL before COMMIT (a refused step aborts the transaction, so it cannot have committed).
 */
function isLostAfterCommitLeft(steps: PromiseSettledResult<unknown>[]): boolean {
  const committed = steps.at(-1)!;
  if (committed.status !== 'rejected' || !isConnectionLost(committed.reason)) return false;
  return steps.every((step) => step.status === 'fulfilled' || isConnectionLost(step.reason));
}

/** How long the server keeps asking PostgreSQL for a lost write's outcome before calling it in doubt. */
const OUTCOME_WAIT_MS = 3_000;
/** After this long `in progress`, the session still holding the transaction is ended so it decides. */
const OUTCOME_TERMINATE_AFTER_MS = 500;

/**
 * Asks PostgreSQL, on another pool connection, what became of transaction `xid`. "in progress"
 * means its session has not noticed the client is gone (a COMMIT that never arrived leaves it idle
 * in the transaction): that session belongs to the login role, so it is ended, which rolls back an
 * open transaction and cannot undo one already committing. `unknown` when the database cannot be
 * asked within OUTCOME_WAIT_MS.
 */
async function transactionOutcome(sql: Sql, xid: string): Promise<'committed' | 'aborted' | 'unknown'> {
  if (!/^\d+$/.test(xid)) return 'unknown';
  // pg_stat_activity shows the 32-bit xid; xid8 adds the epoch in the high bits.
  const xid32 = String(BigInt(xid) % 4294967296n);
  const started = performance.now();
  const left = () => OUTCOME_WAIT_MS - (performance.now() - started);
  while (left() > 0) {
    try {
      const [row] = await bounded(
        sql.unsafe(`select pg_catalog.pg_xact_status('${xid}'::xid8) as status`, [], EXTENDED),
        left(),
      );
      const status = row?.status as string | null | undefined;
      if (status === 'committed' || status === 'aborted') return status;
      if (status !== 'in progress') return 'unknown';
      if (performance.now() - started > OUTCOME_TERMINATE_AFTER_MS) {
        await bounded(
          sql.unsafe(
            `select pg_catalog.pg_terminate_backend(pid, 1000) from pg_catalog.pg_stat_activity where backend_xid::text = '${xid32}'`,
            [],
            EXTENDED,
          ),
          left(),
        );
      }
    } catch {
      // The database is unreachable too: ask again until the bound.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return 'unknown';
}

/** `promise`, or a rejection once `ms` have passed (a pool query waits for a free connection). */
async function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error('no answer in time')), Math.max(0, ms))),
  );
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function inDoubt(xid: string | null): DbError {
  if (!xid) {
    return new DbError(
      'WRITE_IN_DOUBT',
      'The connection to the database was lost after the COMMIT was sent and before any answer arrived, so this write ' +
        'may or may not have been applied. Before running it again, check with the query tool whether its change is ' +
        'present (e.g. select the rows it would have written); run it again only if it is not.',
    );
  }
  const check = `select pg_xact_status('${xid}'::xid8) as status`;
  return new DbError(
    'WRITE_IN_DOUBT',
    `The connection to the database was lost after the COMMIT of transaction ${xid} was sent, and its outcome could ` +
      `not be confirmed yet. Before running it again, run with the query tool: ${check} — 'committed': it was applied, ` +
      "do not run it again; 'aborted': nothing changed, run it again; 'in progress': ask again in a few seconds.",
    undefined,
    { xid, check },
  );
}

/** A write that committed although its own result (rows, count) was lost with the connection. */
class CommittedWithoutResult extends Error {
  constructor(readonly xid: string) {
    super(`transaction ${xid} committed`);
  }
}

/** Internal: the rolled-back statement's rows and changes, shaped into WriteHeld by runStatement. */
class HeldRows extends Error {
  constructor(
    readonly rows: Rows,
    readonly changes: TableChanges[],
  ) {
    super('held');
  }
}

/**
 * Names of the types an agent meets (built-ins and those of public and extensions, e.g. citext),
 * read once at start-up so results can say `citext` rather than an oid.
 */
export async function loadTypeNames(sql: Sql): Promise<Map<number, string>> {
  const rows = await sql.unsafe(
    // format_type would qualify extension types (`extensions.citext`): the login role's search_path
    // is not the one statements run with, so those are named by hand.
    `select t.oid::int as oid,
       case when n.nspname = 'pg_catalog' then format_type(t.oid, null)
            when e.oid is not null then e.typname || '[]'
            else t.typname end as name
     from pg_type t
     join pg_namespace n on n.oid = t.typnamespace
     left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
     where n.nspname in ('pg_catalog', 'public', 'extensions') and t.typisdefined`,
    [],
    EXTENDED,
  );
  return new Map(rows.map((r) => [Number(r.oid), String(r.name)]));
}

/** Runs the agent's statement (already accepted by the policy) and shapes the rows for the agent. */
export async function runStatement(
  sql: Sql,
  identity: Identity,
  statement: string,
  options: RunOptions,
): Promise<StatementResult> {
  const { limits } = options;
  if (options.access === 'read') {
    const capped = cappedSelect(statement, limits);
    const result = await asUser(
      sql,
      identity,
      options,
      (c) => c.unsafe(capped.text, [], EXTENDED).values(),
      (e) => fromPostgres(e, capped.offset, statement.length),
    );
    const columns = result.columns.slice(0, -HELPER_COLUMNS);
    const all = result as unknown as unknown[][];
    const first = all[0];
    const seen = Number(first?.at(-2) ?? 0);
    const over = first?.at(-1) === true;
    // Within the budget, the helper row number is set; the one row without it only carries `seen`.
    const kept = all.filter((row) => row[columns.length] !== null).slice(0, limits.maxRows);
    const shaped = shape(columns, kept, options.typeNames);
    return {
      command: 'SELECT',
      ...shaped,
      rowCount: shaped.rows.length,
      // The byte budget cut first when fewer rows arrived than were seen (up to the row cap).
      truncated:
        over && shaped.rows.length < Math.min(seen, limits.maxRows) ? 'bytes' : seen > limits.maxRows ? 'rows' : null,
    };
  }

  const write = (result: Rows): StatementResult => {
    const all = result as unknown as unknown[][];
    // A write without RETURNING has no row description at all.
    const shaped = shape(result.columns ?? [], all, options.typeNames);
    const { count, truncated } = capInMemory(shaped.values, limits);
    return {
      command: result.command,
      columns: shaped.columns,
      rows: shaped.rows.slice(0, count),
      values: shaped.values.slice(0, count),
      rowCount: result.count ?? all.length,
      truncated,
    };
  };
  try {
    return write(
      await asUser(
        sql,
        identity,
        options,
        (c) => c.unsafe(statement, [], EXTENDED).values(),
        (e) => fromPostgres(e, 0, statement.length),
      ),
    );
  } catch (error) {
    if (error instanceof HeldRows) throw new WriteHeld(error.changes, write(error.rows));
    if (!(error instanceof CommittedWithoutResult)) throw error;
    return {
      command: statement.trim().split(/\s+/, 1)[0]!.toUpperCase(),
      columns: [],
      rows: [],
      values: [],
      rowCount: 0,
      truncated: null,
      notice:
        `Committed (PostgreSQL confirms transaction ${error.xid}), but the connection was lost before the statement's ` +
        'result arrived, so its RETURNING rows and row count could not be read. Do not run it again; query the ' +
        'table to see what it wrote.',
    };
  }
}

/**
 * RETURNING rows of a write arrive whole; how many are passed on, capped by rows, then by bytes
 * (each row as the JSON array the text table shows).
 */
function capInMemory(
  rows: readonly unknown[][],
  limits: Limits,
): { count: number; truncated: StatementResult['truncated'] } {
  let bytes = 0;
  for (const [i, row] of rows.entries()) {
    if (i === limits.maxRows) return { count: i, truncated: 'rows' };
    bytes += jsonText(row).length;
    if (bytes > limits.maxBytes) return { count: i, truncated: 'bytes' };
  }
  return { count: rows.length, truncated: null };
}

/**
 * JSON of a value from a result. The driver returns no BigInt (int8 arrives as text, see
 * bigintValue), so the replacer, which makes JSON.stringify several times slower, runs only if a
 * custom type parser ever returns one.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
}

const BIGINT = 20;
const BIGINT_ARRAY = 1016;

/** bigint → number where exact, else string; numeric stays a string: no value loses precision. */
function bigintValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

/**
 * Rows as objects for structuredContent and as arrays for the text table, built in one pass: the
 * arrays are the driver's own, converted in place, and each object takes its values from them.
 */
function shape(
  columns: readonly postgres.ColumnList<string>[number][],
  rows: unknown[][],
  typeNames: ReadonlyMap<number, string> = new Map(),
): { columns: Column[]; rows: Record<string, unknown>[]; values: unknown[][] } {
  // Duplicate names (`select a.id, b.id`) get a suffix so no value is silently dropped.
  const used = new Map<string, number>();
  const names = columns.map((c) => {
    const count = used.get(c.name) ?? 0;
    used.set(c.name, count + 1);
    return count === 0 ? c.name : `${c.name}_${count + 1}`;
  });
  const types = columns.map((c) => c.type);
  const objects: Record<string, unknown>[] = new Array(rows.length);
  const values: unknown[][] = new Array(rows.length);
  for (const [r, source] of rows.entries()) {
    // Only the data columns: a capped read's rows end in the helper columns.
    const row = source.length === names.length ? source : source.slice(0, names.length);
    const object: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) {
      let value = row[i];
      if (types[i] === BIGINT) value = bigintValue(value);
      else if (types[i] === BIGINT_ARRAY && Array.isArray(value)) value = value.map(bigintValue);
      row[i] = value;
      // A column named __proto__ must stay a column, not become the object's prototype.
      if (names[i] === '__proto__')
        Object.defineProperty(object, '__proto__', { value, enumerable: true, writable: true });
      else object[names[i]!] = value;
    }
    objects[r] = object;
    values[r] = row;
  }
  return {
    columns: columns.map((c, i) => ({ name: names[i]!, type: typeNames.get(c.type) ?? `oid:${c.type}` })),
    rows: objects,
    values,
  };
}

function isPostgresError(error: unknown): error is postgres.PostgresError {
  return error instanceof Error && error.name === 'PostgresError';
}

/** PostgreSQL's error fields, with the position moved back into the agent's own text. */
function pgFields(error: postgres.PostgresError, offset: number, length: number): PgErrorFields {
  const raw = Number(error.position);
  const position = raw > offset && raw <= offset + length ? raw - offset : undefined;
  const fields: PgErrorFields = { sqlstate: error.code, message: error.message };
  if (error.detail) fields.detail = error.detail;
  if (error.hint) fields.hint = error.hint;
  if (position) fields.position = position;
  if (error.where) fields.where = error.where;
  if (error.table_name) fields.table = error.table_name;
  if (error.column_name) fields.column = error.column_name;
  if (error.constraint_name) fields.constraint = error.constraint_name;
  return fields;
}

function fromPostgres(error: postgres.PostgresError, offset: number, length: number): DbError {
  return new DbError('SQL_ERROR', error.message, pgFields(error, offset, length));
}

function setupFailure(error: unknown): DbError {
  if (!isPostgresError(error) || isConnectionLost(error)) return unavailable(error);
  // 42501 on set_config('role'): the login role is not a member of `authenticated`.
  return new DbError(
    'DATABASE_MISCONFIGURED',
    `The server could not switch to the user's identity: ${error.message}. ` +
      'The login role in DATABASE_URL must be a member of `authenticated` (see sql/least-privilege-role.sql).',
    pgFields(error, 0, 0),
  );
}

/** Seconds an agent should wait before retrying a call that met an unreachable database. */
const RETRY_AFTER_SECONDS = 2;

function unavailable(error: unknown): DbError {
  const code = (error as { code?: string })?.code ?? 'UNKNOWN';
  return new DbError(
    'DATABASE_UNAVAILABLE',
    `The database could not be reached (${code}). Retry in ${RETRY_AFTER_SECONDS} seconds or more.`,
    undefined,
    { retryAfterSeconds: RETRY_AFTER_SECONDS },
  );
}

function firstFailure(...results: PromiseSettledResult<unknown>[]): unknown {
  for (const r of results) if (r.status === 'rejected') return r.reason;
  return undefined;
}

/** Waits at most `waitMs` for a free connection; a late one goes straight back to the pool. */
async function reserve(sql: Sql, waitMs: number): Promise<postgres.ReservedSql> {
  const pending = sql.reserve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const busy = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DbError('POOL_BUSY', `Every database connection stayed busy for ${waitMs} ms. Retry in a few seconds.`),
        ),
      waitMs,
    );
  });
  try {
    return await Promise.race([pending, busy]);
  } catch (error) {
    pending.then(
      (c) => c.release(),
      () => {},
    );
    throw error instanceof DbError ? error : unavailable(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Hands the connection back only when its transaction is known to be over; otherwise a ROLLBACK
 * first, so no state can reach the next caller. A connection that was lost is never touched again:
 * postgres.js has already returned it to the pool as closed (it reconnects on next use), and
 * writing to it (the ROLLBACK) schedules a socket write that would run after the socket is gone
 * and throw outside any promise, killing the process (porsager/postgres#1208), while releasing it
 * would put a socketless connection among the open ones.
 */
async function release(connection: postgres.ReservedSql, steps: PromiseSettledResult<unknown>[]): Promise<void> {
  if (steps.some((step) => step.status === 'rejected' && isConnectionLost(step.reason))) return;
  const committed = steps.at(-1) as PromiseSettledResult<Rows>;
  const ended = committed.status === 'fulfilled' && ['COMMIT', 'ROLLBACK'].includes(committed.value.command);
  if (!ended) await connection.unsafe('rollback', [], EXTENDED).catch(() => {});
  connection.release();
}

/**
 * postgres.js's own connection errors, socket errors, PostgreSQL ending the session (FATAL), and
 * SQLSTATE class 08 (connection exception: what a pooler such as PgBouncer reports when it cannot
 * reach PostgreSQL) or 57P01–57P03 (shutdown, crash, not accepting connections yet).
 */
const LOST_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT']);

export function isConnectionLost(error: unknown): boolean {
  if (isPostgresError(error)) {
    return (
      error.severity === 'FATAL' ||
      error.severity === 'PANIC' ||
      error.code.startsWith('08') ||
      /^57P0[123]$/.test(error.code)
    );
  }
  const e = error as { code?: unknown; syscall?: unknown; errno?: unknown } | null;
  return typeof e?.code === 'string' && (LOST_CODES.has(e.code) || e.syscall !== undefined || e.errno !== undefined);
}
