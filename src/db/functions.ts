/**
 * What each function an agent could call really does. The statement policy (policy.ts) judges the
 * statement's own tree; a call of a function hides a body it cannot see. Stock Atomic CRM grants
 * `authenticated` EXECUTE on get_avatar_for_email(), whose plpgsql body calls
 * extensions.http_get(): a "read" that makes the database send an HTTP request, which neither READ
 * ONLY nor ROLLBACK undoes. So at start-up, and again whenever the catalogue changes, the server
 * reads every function, view and operator the database itself defines (language, SECURITY DEFINER,
 * definition), parses SQL bodies and view definitions with PostgreSQL's grammar and plpgsql bodies
 * with PostgreSQL's plpgsql parser (libpg-query), judges every statement and expression in them by
 * the very rules agent SQL is judged by, and follows calls, views and operators to a fixpoint. A
 * call of a function (or a read of a view, a use of an operator) is then judged as what it reaches:
 *
 * - denied: something the policy refuses in agent SQL (network, settings, dynamic SQL, files,
 *   locks, sleeps, notifications, sequences, role changes, utility statements, relations and
 *   functions outside the allowed schemas: a SECURITY DEFINER body reads them as its owner, and an
 *   invoker one would hand the agent what the schema allow-list keeps it from naming). Refused in
 *   both tools, naming the chain:
 *   `get_avatar_for_email → extensions.http_get: it makes network requests from the database server`.
 * - writes: the body runs INSERT/UPDATE/DELETE/MERGE. Refused in the query tool whatever its
 *   declared volatility (query is read-only in effect, not only by READ ONLY, and a declared
 *   volatility is the author's claim, not a fact); in the mutate tool allowed for SECURITY INVOKER
 *   functions (the caller's RLS applies) and refused for SECURITY DEFINER ones (they write as their
 *   owner, past RLS).
 * - unanalysable: a body that does not parse, a language other than sql and plpgsql, or a call of
 *   a function that is neither the database's own nor a classified built-in. Refused in both
 *   tools: what cannot be read is not trusted.
 *
 * Functions that belong to an extension (citext, pgcrypto, http, pg_net, …) are compiled code with
 * no body to read; they are judged by name, like PostgreSQL's own (builtin-functions.ts).
 *
 * Triggers, column defaults and RLS policies are not followed: they run on the agent's INSERT or
 * UPDATE (the CRM's avatar and favicon look-ups) as the CRM's own behaviour for that write, exactly
 * as when the web app makes it. Not covered either: casts and type input functions an operator
 * defines with a function (rare in a CRM schema).
 */
import { loadModule, parsePlPgSQLSync, parseSync } from 'libpg-query';
import { allowedBuiltins, deniedBuiltins } from './builtin-functions.js';
import type { Sql } from './pool.js';
import { judgeBodyStatement, useFunctionCatalogue, type BodyFinding } from './policy.js';
import { functionRefreshMs } from './policy-rules.js';

export type FunctionVerdict =
  | { kind: 'clean' }
  | { kind: 'writes'; chain: readonly string[]; what: string; securityDefiner: boolean }
  | { kind: 'denied'; chain: readonly string[]; reason: string }
  | { kind: 'unanalysable'; chain: readonly string[]; reason: string };

export interface CatalogueFunction {
  schema: string;
  name: string;
  verdict: FunctionVerdict;
}

/** User-defined functions by name (overloads and schemas together): what a call of that name may reach. */
export interface FunctionCatalogue {
  byName: ReadonlyMap<string, readonly CatalogueFunction[]>;
  /** Views by name: selecting from one runs the functions of its definition as the caller. */
  views: ReadonlyMap<string, readonly CatalogueFunction[]>;
  /** User-defined operators by name: using one calls its function. */
  operators: ReadonlyMap<string, readonly CatalogueFunction[]>;
  /** How long reading and analysing took, in ms. */
  analysisMs: number;
}

interface FunctionRow {
  kind: 'function' | 'view';
  oid: number;
  schema: string;
  name: string;
  language: string;
  security_definer: boolean;
  extension_member: boolean;
  definition: string | null;
}

/** Every function outside PostgreSQL's own schemas: what an agent can call and what those call. */
const FUNCTIONS_SQL = `
  SELECT 'function' AS kind, p.oid::int AS oid, n.nspname AS schema, p.proname AS name,
         l.lanname AS language,
         p.prosecdef AS security_definer,
         EXISTS (SELECT 1 FROM pg_depend d
                 WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') AS extension_member,
         CASE WHEN l.lanname IN ('sql', 'plpgsql') AND p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
  UNION ALL
  SELECT 'view', c.oid::int, n.nspname, c.relname, 'sql', false, false, pg_get_viewdef(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'v' AND n.nspname IN ('public', 'extensions')`;

/** Operators defined outside PostgreSQL's schemas and extensions, with the function each one runs. */
const OPERATORS_SQL = `
  SELECT o.oprname AS name, n.nspname AS schema, o.oprcode::oid::int AS function_oid, p.proname AS function_name
  FROM pg_operator o
  JOIN pg_namespace n ON n.oid = o.oprnamespace
  JOIN pg_proc p ON p.oid = o.oprcode
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_operator'::regclass AND d.objid = o.oid AND d.deptype = 'e')`;

interface OperatorRow {
  name: string;
  schema: string;
  function_oid: number;
  function_name: string;
}

/**
 * Changes whenever a function is created, replaced, dropped, renamed or granted (each rewrites its
 * pg_proc row, so its xmin changes), an extension adds functions, or a view is created or
 * replaced (its pg_rewrite rule): cheap enough to ask often.
 */
const FINGERPRINT_SQL = `
  SELECT md5(coalesce(string_agg(k, ',' ORDER BY k), '')) AS fingerprint FROM (
    SELECT 'f' || p.oid::text || ':' || p.xmin::text AS k
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
    UNION ALL
    SELECT 'v' || r.oid::text || ':' || r.xmin::text
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'v' AND n.nspname IN ('public', 'extensions')
    UNION ALL
    SELECT 'o' || o.oid::text || ':' || o.xmin::text
    FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
  ) keys`;

/** Reads and analyses every function, installs the result in the policy, and returns it. */
export async function loadFunctionCatalogue(sql: Sql): Promise<FunctionCatalogue> {
  await loadModule();
  const started = performance.now();
  const rows = await sql.unsafe<FunctionRow[]>(FUNCTIONS_SQL, [], { prepare: false });
  const operators = await sql.unsafe<OperatorRow[]>(OPERATORS_SQL, [], { prepare: false });
  const catalogue = analyseFunctions(rows, operators, started);
  useFunctionCatalogue(catalogue);
  return catalogue;
}

/** What an operator wants to know after each analysis: what was read and which calls are refused. */
export interface CatalogueSummary {
  functions: number;
  views: number;
  operators: number;
  analysisMs: number;
  /** `public.get_avatar_for_email: public.get_avatar_for_email → extensions.http_get (denied)`. */
  refused: string[];
}

export function summarise(catalogue: FunctionCatalogue): CatalogueSummary {
  const refused: string[] = [];
  const count = (index: ReadonlyMap<string, readonly CatalogueFunction[]>): number => {
    let n = 0;
    for (const entries of index.values()) {
      for (const { verdict } of entries) {
        n++;
        if (verdict.kind === 'denied' || verdict.kind === 'unanalysable')
          refused.push(`${verdict.chain.join(' → ')} (${verdict.kind})`);
      }
    }
    return n;
  };
  return {
    functions: count(catalogue.byName),
    views: count(catalogue.views),
    operators: count(catalogue.operators),
    analysisMs: Math.round(catalogue.analysisMs),
    refused: refused.sort(),
  };
}

export interface FunctionWatch {
  /** Re-reads the catalogue now if it changed; resolves when the policy uses the current one. */
  refresh(): Promise<void>;
  stop(): void;
}

export interface WatchOptions {
  intervalMs?: number;
  /** After each (re)load, e.g. to log what is refused. */
  onLoad?: (summary: CatalogueSummary) => void;
  /** A failed check; the last catalogue stays in use and the next tick retries. */
  onError?: (error: unknown) => void;
}

/** Loads the catalogue, then checks every `intervalMs` whether it changed and reloads it if so. */
export async function watchFunctionCatalogue(
  sql: Sql,
  { intervalMs = functionRefreshMs, onLoad, onError }: WatchOptions = {},
): Promise<FunctionWatch> {
  let fingerprint = await readFingerprint(sql);
  const reload = async (): Promise<void> => {
    const catalogue = await loadFunctionCatalogue(sql);
    onLoad?.(summarise(catalogue));
  };
  await reload();
  let running: Promise<void> | undefined;
  const refresh = (): Promise<void> =>
    (running ??= (async () => {
      try {
        const now = await readFingerprint(sql);
        if (now !== fingerprint) {
          await reload();
          fingerprint = now;
        }
      } finally {
        running = undefined;
      }
    })());
  const timer = setInterval(() => refresh().catch((error) => onError?.(error)), intervalMs);
  timer.unref?.();
  return { refresh, stop: () => clearInterval(timer) };
}

async function readFingerprint(sql: Sql): Promise<string> {
  const [row] = await sql.unsafe<{ fingerprint: string }[]>(FINGERPRINT_SQL, [], { prepare: false });
  return row?.fingerprint ?? '';
}

/* ---------------------------------------------------------------------------------------------- */

interface Analysed {
  row: FunctionRow;
  /** What the body itself does, before following calls. */
  own: FunctionVerdict;
  callees: { schema: string | undefined; name: string }[];
  /** Relations the body reads or writes; views among them are followed like calls. */
  relations: { schema: string | undefined; name: string }[];
  /** Operators the body uses; user-defined ones are followed as their functions. */
  operators: { schema: string | undefined; name: string }[];
}

function analyseFunctions(
  rows: readonly FunctionRow[],
  operatorRows: readonly OperatorRow[],
  started: number,
): FunctionCatalogue {
  const analysed = new Map<number, Analysed>();
  const byNameRows = new Map<string, Analysed[]>();
  const viewRows = new Map<string, Analysed[]>();
  for (const row of rows) {
    // Compiled code with no body to read: judged by name, like the built-ins.
    if (row.extension_member) continue;
    const entry = { row, ...readBody(row) };
    analysed.set(row.oid, entry);
    const index = row.kind === 'view' ? viewRows : byNameRows;
    index.set(row.name, [...(index.get(row.name) ?? []), entry]);
  }

  // An operator is followed as the function it runs (compiled built-ins are judged by name).
  const operatorEntries = new Map<string, Analysed[]>();
  for (const [i, op] of operatorRows.entries()) {
    const target = analysed.get(op.function_oid);
    const reason = deniedBuiltins.get(op.function_name);
    const builtin: FunctionVerdict = reason
      ? { kind: 'denied', chain: [op.function_name], reason }
      : allowedBuiltins.has(op.function_name)
        ? { kind: 'clean' }
        : {
            kind: 'unanalysable',
            chain: [op.function_name],
            reason: 'it is neither a classified built-in nor a function the server could read',
          };
    const row: FunctionRow = {
      kind: 'function',
      oid: -(i + 1),
      schema: op.schema,
      name: `OPERATOR(${op.schema}.${op.name})`,
      language: 'sql',
      security_definer: false,
      extension_member: false,
      definition: null,
    };
    const entry: Analysed = target
      ? {
          row,
          own: { kind: 'clean' },
          callees: [{ schema: target.row.schema, name: target.row.name }],
          relations: [],
          operators: [],
        }
      : {
          row,
          own: builtin.kind === 'clean' ? builtin : { ...builtin, chain: [row.name, ...builtin.chain] },
          callees: [],
          relations: [],
          operators: [],
        };
    operatorEntries.set(op.name, [...(operatorEntries.get(op.name) ?? []), entry]);
  }

  // Each function starts from what its own body does; then, until nothing changes, it takes on the
  // worst of what it reaches (a fixpoint, so a cycle of calls cannot hide anything).
  const all = [...analysed.values(), ...[...operatorEntries.values()].flat()];
  const verdicts = new Map<Analysed, FunctionVerdict>();
  for (const entry of all) verdicts.set(entry, unknownCallee(entry, byNameRows) ?? entry.own);
  for (let changed = true; changed; ) {
    changed = false;
    for (const entry of all) {
      let verdict = verdicts.get(entry)!;
      const reaches = [
        ...entry.callees.map((callee) => ({ ...callee, index: byNameRows })),
        ...entry.relations.map((relation) => ({ ...relation, index: viewRows })),
        ...entry.operators.map((operator) => ({ ...operator, index: operatorEntries })),
      ];
      for (const reach of reaches) {
        for (const candidate of reach.index.get(reach.name) ?? []) {
          if (candidate === entry || (reach.schema !== undefined && candidate.row.schema !== reach.schema)) continue;
          const reached = verdicts.get(candidate)!;
          if (reached.kind === 'clean') continue;
          const chained: FunctionVerdict =
            reached.kind === 'writes'
              ? {
                  ...reached,
                  chain: [labelOf(entry), ...reached.chain],
                  securityDefiner: entry.row.security_definer || reached.securityDefiner,
                }
              : { ...reached, chain: [labelOf(entry), ...reached.chain] };
          if (severity(chained) > severity(verdict)) {
            verdict = chained;
            changed = true;
          }
        }
      }
      verdicts.set(entry, verdict);
    }
  }

  const judged = (index: Map<string, Analysed[]>): Map<string, CatalogueFunction[]> =>
    new Map(
      [...index].map(([name, entries]) => [
        name,
        entries.map((entry) => ({ schema: entry.row.schema, name, verdict: verdicts.get(entry)! })),
      ]),
    );
  return {
    byName: judged(byNameRows),
    views: judged(viewRows),
    operators: judged(operatorEntries),
    analysisMs: performance.now() - started,
  };
}

function qualified(row: { schema: string; name: string }): string {
  return `${row.schema}.${row.name}`;
}

function labelOf(entry: Analysed): string {
  return entry.row.name.startsWith('OPERATOR(') ? entry.row.name : qualified(entry.row);
}

/** Refused in more cases is worse: writes < writes as the owner < cannot be read < denied. */
function severity(verdict: FunctionVerdict): number {
  if (verdict.kind === 'writes') return verdict.securityDefiner ? 2 : 1;
  return { clean: 0, unanalysable: 3, denied: 4 }[verdict.kind];
}

/** A call of a name that is neither one of the database's functions nor a classified built-in. */
function unknownCallee(
  entry: Analysed,
  functions: ReadonlyMap<string, readonly Analysed[]>,
): FunctionVerdict | undefined {
  if (entry.own.kind === 'denied' || entry.own.kind === 'unanalysable') return undefined;
  for (const callee of entry.callees) {
    const known = (functions.get(callee.name) ?? []).some(
      (f) => callee.schema === undefined || f.row.schema === callee.schema,
    );
    if (known || allowedBuiltins.has(callee.name)) continue;
    return {
      kind: 'unanalysable',
      chain: [labelOf(entry), callee.schema === undefined ? callee.name : `${callee.schema}.${callee.name}`],
      reason: 'it calls a function that is neither a classified built-in nor one the server could read',
    };
  }
  return undefined;
}

/** Parses a function's definition and judges every statement and expression of its body. */
function readBody(row: FunctionRow): Omit<Analysed, 'row'> {
  const label = qualified(row);
  const unanalysable = (reason: string): Omit<Analysed, 'row'> => ({
    own: { kind: 'unanalysable', chain: [label], reason },
    callees: [],
    relations: [],
    operators: [],
  });
  if (row.definition === null) {
    return unanalysable(`its body is ${row.language} code, which the server cannot read`);
  }
  let queries: { sql: string; mode: number }[];
  try {
    queries =
      row.kind === 'view'
        ? [{ sql: row.definition, mode: RAW_PARSE_DEFAULT }]
        : row.language === 'plpgsql'
          ? plpgsqlQueries(row.definition)
          : sqlBody(row.definition);
  } catch (error) {
    const dynamic = (error as { dynamicSql?: boolean }).dynamicSql;
    if (dynamic) {
      return {
        own: {
          kind: 'denied',
          chain: [label, 'EXECUTE'],
          reason: 'it runs SQL built from a string at run time, which the server cannot check',
        },
        callees: [],
        relations: [],
        operators: [],
      };
    }
    return unanalysable(`its body could not be parsed (${(error as Error).message})`);
  }

  const callees: Analysed['callees'] = [];
  const relations: Analysed['relations'] = [];
  const operators: Analysed['operators'] = [];
  let writes: FunctionVerdict | undefined;
  for (const query of queries) {
    let judged: BodyFinding;
    try {
      judged = judgeBodyStatement(asStatement(query));
    } catch (error) {
      return unanalysable(`its body could not be parsed (${(error as Error).message})`);
    }
    callees.push(...judged.calls);
    relations.push(...judged.relations);
    operators.push(...judged.operators);
    if (judged.denied) {
      const construct = judged.denied.construct.replace(/\(\)$/, '');
      return {
        own: { kind: 'denied', chain: [label, construct], reason: judged.denied.reason },
        callees,
        relations,
        operators,
      };
    }
    if (judged.writes && !writes) {
      writes = {
        kind: 'writes',
        chain: [label, judged.writes],
        what: judged.writes,
        securityDefiner: row.security_definer,
      };
    }
  }
  return { own: writes ?? { kind: 'clean' }, callees, relations, operators };
}

/** An SQL function's statements: the string after AS, or a BEGIN ATOMIC body. */
function sqlBody(definition: string): { sql: string; mode: number }[] {
  const create = (parseSync(definition) as { stmts: { stmt: { CreateFunctionStmt?: JsonObject } }[] }).stmts[0]?.stmt
    .CreateFunctionStmt;
  if (!create) throw new Error('not a function definition');
  if (create.sql_body) return [{ sql: definition, mode: SQL_STANDARD_BODY }];
  for (const option of (create.options as { DefElem?: { defname?: string; arg?: JsonObject } }[] | undefined) ?? []) {
    if (option.DefElem?.defname !== 'as') continue;
    const items = (option.DefElem.arg as { List?: { items?: { String?: { sval?: string } }[] } }).List?.items ?? [];
    const source = items[0]?.String?.sval ?? '';
    return [{ sql: source, mode: RAW_PARSE_DEFAULT }];
  }
  throw new Error('no body found');
}

type JsonObject = { [key: string]: unknown };

/** PostgreSQL's RawParseMode values, as the plpgsql parser records them on each expression. */
const RAW_PARSE_DEFAULT = 0;
const RAW_PARSE_PLPGSQL_EXPR = 2;
const SQL_STANDARD_BODY = -1;

/** Node kinds of the plpgsql tree that run SQL from a string. */
const dynamicPlpgsql = ['PLpgSQL_stmt_dynexecute', 'PLpgSQL_stmt_dynfors'];

/** Every SQL statement and expression of a plpgsql body, with the mode the parser gave it. */
function plpgsqlQueries(definition: string): { sql: string; mode: number }[] {
  const tree = parsePlPgSQLSync(definition) as unknown;
  const queries: { sql: string; mode: number }[] = [];
  const pending: unknown[] = [tree];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      pending.push(...node);
      continue;
    }
    const object = node as JsonObject;
    for (const key of Object.keys(object)) {
      if (dynamicPlpgsql.includes(key) || key === 'dynquery') {
        throw Object.assign(new Error('dynamic SQL'), { dynamicSql: true });
      }
    }
    const expr = object.PLpgSQL_expr as { query?: string; parseMode?: number } | undefined;
    if (expr?.query !== undefined) queries.push({ sql: expr.query, mode: expr.parseMode ?? RAW_PARSE_DEFAULT });
    pending.push(...Object.values(object));
  }
  return queries;
}

/**
 * A standalone statement for a plpgsql fragment: expressions become `SELECT expr`, and an
 * assignment `target := expr` (or `=`) becomes `SELECT expr`.
 */
function asStatement(query: { sql: string; mode: number }): string {
  if (query.mode === RAW_PARSE_DEFAULT || query.mode === SQL_STANDARD_BODY) return query.sql;
  if (query.mode === RAW_PARSE_PLPGSQL_EXPR) return `SELECT ${query.sql}`;
  const assign = /^[^:=]*?(:=|=)/.exec(query.sql);
  return `SELECT ${assign ? query.sql.slice(assign[0].length) : query.sql}`;
}
