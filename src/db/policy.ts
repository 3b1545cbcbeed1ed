/**
 * The statement policy: the security boundary between SQL written by an agent (possibly steered by
 * text an outsider put in the CRM) and PostgreSQL.
 *
 * What PostgreSQL already enforces, and the policy therefore does not try to re-implement: row
 * level security and table privileges (the statement runs as the signed-in user), and READ ONLY for
 * the query tool (a write that slips past this file still fails there). What PostgreSQL cannot stop,
 * and this file must: a statement that rewrites the caller's identity with
 * set_config('request.jwt.claims' | 'request.jwt.claim.sub' | 'role', …) before auth.uid() is read,
 * SQL executed from a string, side channels (notify, advisory locks, network, files), sleeps, more
 * than one statement, and utility statements (SET, DO, COPY, TRUNCATE, …) some of which ignore RLS.
 *
 * Design decisions:
 *
 * - Parse with PostgreSQL's own grammar (libpg-query, WASM) and judge the tree, never the text: the
 *   statement count, quoting, U&"…" escapes, comments and dollar quotes are then decided exactly as
 *   the server decides them. Every node of the tree is visited, generically, so a function call is
 *   found wherever the grammar allows one (select list, WHERE, FROM/ROWS FROM/LATERAL, CTEs, VALUES,
 *   RETURNING, ON CONFLICT, MERGE actions, ORDER/GROUP/HAVING/WINDOW, CASE, COALESCE, casts, …).
 *
 * - Statement types are an allow-list: SELECT (including WITH, set operations, VALUES and TABLE)
 *   for query; INSERT, UPDATE, DELETE and MERGE for mutate. MERGE is allowed: it is plain DML that
 *   PostgreSQL (15+) checks against the same RLS policies as INSERT/UPDATE/DELETE, and it is the
 *   natural way to write a conditional upsert. EXPLAIN is refused: EXPLAIN ANALYZE executes its
 *   statement, option spellings multiply, plan text cannot be bounded like a result set, and an
 *   agent gains little from it.
 *
 * - Functions: every name is classified, nothing is allowed by default. Built-ins (pg_catalog,
 *   information_schema, extension members) by a table generated from real clusters of each
 *   supported PostgreSQL major (builtin-functions.ts, scripts/classify-builtins.ts); the deny-list
 *   of policy-rules.ts (change settings, execute strings, touch files, signal processes, lock,
 *   notify, sleep, use the network, advance sequences) applies first and in any schema, so a name
 *   the table has not seen yet is still refused for the right reason. The database's own
 *   functions are judged by what their bodies do (functions.ts analyses them at start-up and when
 *   they change). A name that is neither is refused as FUNCTION_UNCLASSIFIED: a newer server or a
 *   later extension adds functions, and some of those act on the server. Qualified names must also
 *   name an allowed schema: the set is small and known, and every dangerous extension schema on
 *   Supabase (net, vault, pgsodium, graphql, supabase_functions, cron, …) lies outside {public,
 *   extensions, pg_catalog, information_schema}; in auth only uid(), jwt(), role() and email().
 *
 * - The analysed functions are module state (useFunctionCatalogue), so that checkStatement stays a
 *   synchronous function of the text: one server process serves one database, and its functions
 *   are the same for every caller (whether the caller may EXECUTE one is PostgreSQL's to check).
 *   merge_contacts() stays denied by name in both tools as well: the mutate tool's writes are
 *   meant to be explicit statements.
 *
 * - Attribute notation: PostgreSQL resolves `(x).f` and `t.f` as the call f(x) when no column f
 *   exists, so a denied or analysed-and-refused function name in field position is refused too.
 *
 * - current_setting() is a read, allowed for built-in settings and request.* (the caller's own
 *   claims); custom dotted settings are refused because Supabase projects keep secrets there.
 *
 * - Not this file's job: resource limits. generate_series(1, 1e9) or a huge cross join pass the
 *   policy; the server's statement_timeout and result caps bound them. Sleeps are refused only
 *   because they have no legitimate use.
 *
 * Assumptions the caller must keep: the server sends `statement` (the parsed text, which may end in
 * a `--` comment, so anything appended must start on a new line) over the extended protocol, and the
 * session keeps PostgreSQL's default standard_conforming_strings = on, the grammar parsed here.
 */
import { hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import {
  allowedAuthFunctions,
  allowedSchemas,
  defaultStatementReason,
  deniedFunctionPrefixes,
  deniedFunctions,
  deniedRelations,
  functionRefreshMs,
  readableCustomSettingPrefix,
  statementReasons,
} from './policy-rules.js';
import { allowedBuiltins, deniedBuiltins } from './builtin-functions.js';
import { treeFingerprint } from './fingerprint.js';
import type { FunctionCatalogue, FunctionVerdict } from './functions.js';
import type { Codes } from '../errors.js';

export type Tool = 'query' | 'mutate';

/** Why the policy refused a statement; see src/errors.ts for which are security events. */
export type PolicyCode = Codes<
  | 'INVALID_TEXT'
  | 'SYNTAX_ERROR'
  | 'EMPTY'
  | 'MULTIPLE_STATEMENTS'
  | 'STATEMENT_NOT_ALLOWED'
  | 'WRONG_TOOL'
  | 'FUNCTION_NOT_ALLOWED'
  | 'FUNCTION_UNCLASSIFIED'
  | 'SCHEMA_NOT_ALLOWED'
  | 'LOCKING_CLAUSE'
  | 'SELECT_INTO'
  | 'WRITE_IN_QUERY'
>;

export interface Refusal {
  code: PolicyCode;
  /** What is not allowed and why, in sentences an agent can act on. */
  message: string;
  /** The offending construct: a function or relation name, a statement or clause keyword. */
  construct: string;
  /** 1-based character offset into the original text, as PostgreSQL reports positions. */
  position?: number;
}

export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'merge';

export type Verdict =
  | {
      ok: true;
      statement: string;
      kind: StatementKind;
      /** The statement's parse tree (`{ UpdateStmt: … }`), for later analyses without a second parse. */
      tree: { [key: string]: unknown };
    }
  | { ok: false; refusal: Refusal };

/** The analysed functions of the database (functions.ts); none until loadFunctionCatalogue runs. */
let catalogue: FunctionCatalogue | undefined;

/** Installs a new analysis of the database's functions; later calls of checkStatement use it. */
export function useFunctionCatalogue(next: FunctionCatalogue | undefined): void {
  catalogue = next;
  // Verdicts were judged against the old catalogue.
  seen.clear();
  seenChars = 0;
}

/**
 * Statements met lately, by their exact text: the parse, the audit fingerprint, and each tool's
 * verdict. All three are functions of the text alone, except that a verdict also depends on the
 * function catalogue, which empties this on every change. So a statement sent again (a held write
 * confirmed, a list read again) is not parsed and judged again, and the audit line's fingerprint,
 * taken just before the tool runs, parses for the policy too. Bounded by the text it holds (a
 * tree is a few tens of times its text), oldest first out.
 */
interface Seen {
  parsed: Parsed;
  fingerprint?: string;
  query?: Verdict;
  mutate?: Verdict;
}
type Parsed = { stmts: readonly RawStmt[] } | { invalid: Refusal };

const SEEN_MAX_CHARS = 128 * 1024;
const SEEN_MAX_ENTRIES = 256;
const seen = new Map<string, Seen>();
let seenChars = 0;

function remembered(sql: string): Seen {
  const hit = seen.get(sql);
  if (hit) {
    // Most recently used last: eviction takes the first.
    seen.delete(sql);
    seen.set(sql, hit);
    return hit;
  }
  const entry: Seen = { parsed: parse(sql) };
  if (sql.length > SEEN_MAX_CHARS) return entry;
  seen.set(sql, entry);
  seenChars += sql.length;
  for (const [text] of seen) {
    if (seenChars <= SEEN_MAX_CHARS && seen.size <= SEEN_MAX_ENTRIES) break;
    seen.delete(text);
    seenChars -= text.length;
  }
  return entry;
}

/**
 * The audit line's fingerprint of a statement (fingerprint.ts), from the parse the policy uses;
 * undefined when it is not a string or does not parse.
 */
export function statementFingerprint(sql: unknown): string | undefined {
  if (typeof sql !== 'string') return undefined;
  const entry = remembered(sql);
  if (!('stmts' in entry.parsed) || entry.parsed.stmts.length === 0) return undefined;
  entry.fingerprint ??= treeFingerprint(entry.parsed.stmts);
  return entry.fingerprint;
}

/** What one statement of a function body does, for functions.ts. */
export interface BodyFinding {
  /** Something the policy refuses in agent SQL, found in the body. */
  denied?: { construct: string; reason: string };
  /** The first write, e.g. `DELETE public.contacts`. */
  writes?: string;
  /** Every function the statement calls, to follow. */
  calls: { schema: string | undefined; name: string }[];
  /** Every relation it names (views among them are followed too). */
  relations: { schema: string | undefined; name: string }[];
  /** Every operator it uses (user-defined ones run functions). */
  operators: { schema: string | undefined; name: string }[];
}

/**
 * Judges one statement of a function body by the rules agent SQL is judged by (statement types,
 * functions, schemas, relations, settings), except that writes are reported rather than refused.
 * Throws a parse error as is.
 */
export function judgeBodyStatement(sql: string): BodyFinding {
  const calls: BodyFinding['calls'] = [];
  const relations: BodyFinding['relations'] = [];
  const operators: BodyFinding['operators'] = [];
  const found = { calls, relations, operators };
  const writes: string[] = [];
  for (const [type, body] of bodyStatements((parseSync(sql) as unknown as ParseTree).stmts ?? [])) {
    collectNames(body, found, writes);
    if (writeStatements.has(type)) {
      writes.unshift(writeOf(type, body));
    } else if (type !== 'SelectStmt' && type !== 'ReturnStmt') {
      const keyword = statementKeywords.get(type) ?? type.replace(/Stmt$/, '');
      return {
        denied: { construct: keyword, reason: reasonOf(statementReasons.get(type) ?? defaultStatementReason) },
        ...found,
      };
    }
    const refusal = inspectTree(body, { tool: 'mutate', catalogue: undefined, body: true }, sql);
    if (refusal) return { denied: { construct: refusal.construct, reason: reasonOf(refusal.message) }, ...found };
  }
  return writes.length === 0 ? found : { writes: writes[0]!, ...found };
}

/** `DELETE public.contacts`: what a write statement writes, for a chain. */
function writeOf(type: string, body: JsonObject): string {
  const relation = body.relation as { schemaname?: string; relname?: string } | undefined;
  const target = relation?.relname ? ` ${relation.schemaname ? `${relation.schemaname}.` : ''}${relation.relname}` : '';
  return `${type.slice(0, -'Stmt'.length).toUpperCase()}${target}`;
}

/** Top-level statements, and the statements of a BEGIN ATOMIC body. */
function bodyStatements(stmts: readonly RawStmt[]): [string, JsonObject][] {
  const out: [string, JsonObject][] = [];
  for (const { stmt } of stmts) {
    const [type, body] = Object.entries(stmt)[0] as [string, JsonObject];
    if (type !== 'CreateFunctionStmt') {
      out.push([type, body]);
      continue;
    }
    const pending: unknown[] = [body.sql_body];
    while (pending.length > 0) {
      const node = pending.shift();
      if (typeof node !== 'object' || node === null) continue;
      if (Array.isArray(node)) pending.push(...node);
      else {
        const [key, value] = Object.entries(node as JsonObject)[0] ?? [];
        if (key === 'List') pending.push((value as { items?: unknown[] }).items ?? []);
        else if (key !== undefined) out.push([key, value as JsonObject]);
      }
    }
  }
  return out;
}

/** The reason part of a refusal sentence (`… is not allowed: <reason>. …`), for a chain. */
function reasonOf(message: string): string {
  const afterColon = message.includes(' is not allowed: ')
    ? message.slice(message.indexOf(' is not allowed: ') + 17)
    : message;
  return afterColon.replace(/\.( .*)?$/s, '').replace(/\.$/, '');
}

const statementKeywords: ReadonlyMap<string, string> = new Map([
  ['VariableSetStmt', 'SET'],
  ['TransactionStmt', 'COMMIT/ROLLBACK'],
  ['CopyStmt', 'COPY'],
  ['NotifyStmt', 'NOTIFY'],
  ['ListenStmt', 'LISTEN'],
  ['LockStmt', 'LOCK'],
  ['TruncateStmt', 'TRUNCATE'],
  ['CallStmt', 'CALL'],
  ['DoStmt', 'DO'],
]);

/** The functions, relations and operators a body statement names, and its nested writes (data-modifying WITH, row locks). */
function collectNames(
  root: unknown,
  { calls, relations, operators }: Omit<BodyFinding, 'denied' | 'writes'>,
  writes: string[],
): void {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      pending.push(...node);
      continue;
    }
    const object = node as JsonObject;
    if (Array.isArray(object.funcname)) {
      const parts = names(object.funcname);
      calls.push({
        schema: parts.length > 1 ? parts[parts.length - 2] : undefined,
        name: parts[parts.length - 1] ?? '',
      });
    }
    if (typeof object.relname === 'string') {
      relations.push({
        schema: typeof object.schemaname === 'string' ? object.schemaname : undefined,
        name: object.relname,
      });
    }
    const expr = object.A_Expr as JsonObject | undefined;
    if (expr) operators.push(qualifiedName(names(expr.name)));
    for (const key in object) {
      if (writeStatements.has(key)) writes.push(writeOf(key, object[key] as JsonObject));
      if (key === 'LockingClause') {
        writes.push(`SELECT … ${lockStrengths.get(String((object[key] as JsonObject).strength)) ?? 'FOR UPDATE'}`);
      }
    }
    pending.push(...Object.values(object));
  }
}

/** Loads and warms the WASM parser; call once at start-up so checkStatement can be synchronous. */
export async function loadPolicy(): Promise<void> {
  await loadModule();
  checkStatement('select 1', 'query');
}

/**
 * Decides whether `sql` may run through `tool`. Synchronous; call loadPolicy() first. The verdict
 * may be one given before for the same text (see `seen`): it is shared, so read it, never change it.
 */
export function checkStatement(sql: string, tool: Tool): Verdict {
  const entry = remembered(sql);
  entry[tool] ??= Object.freeze(judge(sql, tool, entry.parsed));
  return entry[tool];
}

/** The text, parsed; or why it cannot be (invalid text, a syntax error). */
function parse(sql: string): Parsed {
  const invalid = invalidText(sql);
  if (invalid) return { invalid };
  if (sql === '') return { invalid: emptyRefusal() };
  try {
    return { stmts: (parseSync(sql) as unknown as ParseTree).stmts ?? [] };
  } catch (error) {
    if (!hasSqlDetails(error)) throw error;
    return {
      invalid: {
        code: 'SYNTAX_ERROR',
        message: `${error.message}. Fix the SQL and try again.`,
        construct: error.message,
        position: (error.sqlDetails?.cursorPosition ?? 0) + 1,
      },
    };
  }
}

function judge(sql: string, tool: Tool, parsed: Parsed): Verdict {
  if ('invalid' in parsed) return refuse(parsed.invalid);
  const { stmts } = parsed;
  const [first, second] = stmts;
  if (!first) return refuse(emptyRefusal());
  if (second) {
    return refuse({
      code: 'MULTIPLE_STATEMENTS',
      message:
        'Only one statement per call is allowed: a second statement could end the transaction the server opened for you. Send each statement in its own call.',
      construct: ';',
      position: position(sql, second.stmt_location ?? 0),
    });
  }

  const start = first.stmt_location ?? 0;
  const [type, body] = Object.entries(first.stmt)[0] as [string, JsonObject];
  const kind = statementKinds.get(type);
  if (!kind) {
    const keyword = statementKeyword(sql, start);
    return refuse({
      code: 'STATEMENT_NOT_ALLOWED',
      message: `${keyword} is not allowed: ${statementReasons.get(type) ?? defaultStatementReason}`,
      construct: keyword,
      position: position(sql, start),
    });
  }
  if (body.intoClause) return refuse({ ...selectInto, position: position(sql, start) });
  const wrongTool = toolMismatch(kind, tool, body);
  if (wrongTool) return refuse({ ...wrongTool, position: position(sql, start) });

  const refusal = inspectTree(body, { tool, catalogue }, sql);
  if (refusal) return refuse(refusal);

  return { ok: true, statement: statementText(sql, start, first.stmt_len), kind, tree: first.stmt };
}

/* ---------------------------------------------------------------------------------------------- */
/* The parse tree as libpg-query returns it (JSON of PostgreSQL's node structs).                   */

type JsonObject = { [key: string]: unknown };
interface RawStmt {
  stmt: JsonObject;
  stmt_location?: number; // bytes; omitted when 0
  stmt_len?: number; // bytes; omitted (0) when the statement runs to the end of the text
}
interface ParseTree {
  stmts?: RawStmt[];
}

const statementKinds: ReadonlyMap<string, StatementKind> = new Map([
  ['SelectStmt', 'select'],
  ['InsertStmt', 'insert'],
  ['UpdateStmt', 'update'],
  ['DeleteStmt', 'delete'],
  ['MergeStmt', 'merge'],
]);

const writeStatements: ReadonlySet<string> = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

const lockStrengths: ReadonlyMap<string, string> = new Map([
  ['LCS_FORKEYSHARE', 'FOR KEY SHARE'],
  ['LCS_FORSHARE', 'FOR SHARE'],
  ['LCS_FORNOKEYUPDATE', 'FOR NO KEY UPDATE'],
  ['LCS_FORUPDATE', 'FOR UPDATE'],
]);

const selectInto: Omit<Refusal, 'position'> = {
  code: 'SELECT_INTO',
  message: 'SELECT … INTO is not allowed: it creates a table. Drop the INTO clause to get the rows as the result.',
  construct: 'SELECT INTO',
};

function refuse(refusal: Refusal): Verdict {
  return { ok: false, refusal };
}

function emptyRefusal(): Refusal {
  return {
    code: 'EMPTY',
    message: 'The statement is empty (nothing but whitespace or comments). Send one SQL statement.',
    construct: '',
  };
}

/**
 * Text the parser and the server could read differently is refused before parsing: a NUL ends the
 * C string the parser sees (so `select 1\0; drop …` would parse as `select 1`), and an unpaired
 * UTF-16 surrogate is encoded differently by the WASM module and by the database driver.
 */
function invalidText(sql: string): Refusal | undefined {
  const bad = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(sql);
  if (!bad) return undefined;
  const what = bad[0] === '\u0000' ? 'a NUL character' : 'an unpaired UTF-16 surrogate';
  return {
    code: 'INVALID_TEXT',
    message: `The statement contains ${what}, which is not valid SQL text. Remove it and try again.`,
    construct: what,
    position: [...sql.slice(0, bad.index)].length + 1,
  };
}

function toolMismatch(kind: StatementKind, tool: Tool, body: JsonObject): Omit<Refusal, 'position'> | undefined {
  if (tool === 'query' && kind !== 'select') {
    const keyword = kind.toUpperCase();
    return {
      code: 'WRONG_TOOL',
      message: `${keyword} writes data and the query tool is read-only. Send it with the mutate tool.`,
      construct: keyword,
    };
  }
  if (tool === 'mutate' && kind === 'select') {
    return {
      code: 'WRONG_TOOL',
      message: hasWritingCte(body)
        ? 'In the mutate tool the main statement must be INSERT, UPDATE, DELETE or MERGE. Make the write the main statement (use RETURNING for its rows), with any other data-modifying WITH clauses attached to it.'
        : 'SELECT only reads: send it with the query tool. The mutate tool runs INSERT, UPDATE, DELETE or MERGE.',
      construct: 'SELECT',
    };
  }
  return undefined;
}

/** PostgreSQL allows data-modifying WITH only at the top level, so looking there is enough. */
function hasWritingCte(body: JsonObject): boolean {
  const ctes = (body.withClause as JsonObject | undefined)?.ctes;
  if (!Array.isArray(ctes)) return false;
  return ctes.some((cte: { CommonTableExpr?: { ctequery?: JsonObject } }) =>
    Object.keys(cte.CommonTableExpr?.ctequery ?? {}).some((key) => writeStatements.has(key)),
  );
}

/**
 * Visits every object and array of the statement's tree (iteratively: a deeply nested expression
 * must not overflow the JavaScript stack) and returns the first refusal. Node kinds are recognised
 * by the keys PostgreSQL's structs use; RangeVar and FuncCall are recognised by their fields
 * (`relname`, `funcname`) because typed fields such as UpdateStmt.relation hold them unwrapped.
 * Each pending node carries the nearest enclosing `location` so that a node without one (a locking
 * clause, a field selection) still gets a useful position.
 */
function inspectTree(root: JsonObject, scope: Scope, sql: string): Refusal | undefined {
  const pending: unknown[] = [root];
  const locations: number[] = [-1];
  while (pending.length > 0) {
    const node = pending.pop();
    let location = locations.pop() ?? -1;
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        pending.push(node[i]);
        locations.push(location);
      }
      continue;
    }
    const object = node as JsonObject;
    if (typeof object.location === 'number' && object.location >= 0) location = object.location;

    const found = inspectNode(object, scope);
    if (found) {
      const { byteLocation, ...refusal } = found;
      const at = byteLocation ?? location;
      return at >= 0 ? { ...refusal, position: position(sql, at) } : refusal;
    }

    const values = Object.values(object);
    for (let i = values.length - 1; i >= 0; i--) {
      const value = values[i];
      if (typeof value === 'object' && value !== null) {
        pending.push(value);
        locations.push(location);
      }
    }
  }
  return undefined;
}

/** A refusal before its position is known; byteLocation overrides the inherited location. */
type Finding = Omit<Refusal, 'position'> & { byteLocation?: number | undefined };

/**
 * What a tree is judged against: the tool, and for the agent's own statement the analysed
 * functions (function bodies are judged without it: functions.ts follows their calls itself).
 */
interface Scope {
  tool: Tool;
  catalogue: FunctionCatalogue | undefined;
  /** A function body: its calls of unknown functions are for functions.ts to resolve. */
  body?: boolean;
}

function inspectNode(node: JsonObject, scope: Scope): Finding | undefined {
  const { tool } = scope;
  if (Array.isArray(node.funcname)) return inspectFunctionCall(node, scope);
  if (typeof node.relname === 'string') return inspectRelation(node, scope);
  for (const key in node) {
    const value = node[key] as JsonObject;
    switch (key) {
      case 'ColumnRef': {
        // `t.f`: any field after the first may be resolved as the call f(t).
        const fields = (value.fields as unknown[] | undefined) ?? [];
        const finding = inspectFieldSelection(fields.slice(1), scope);
        if (finding) return { ...finding, byteLocation: locationOf(value) };
        break;
      }
      case 'A_Indirection': {
        const finding = inspectFieldSelection((value.indirection as unknown[] | undefined) ?? [], scope);
        if (finding) return finding;
        break;
      }
      case 'A_Expr': {
        const finding = inspectOperator(value, scope);
        if (finding) return { ...finding, byteLocation: locationOf(value) };
        break;
      }
      case 'LockingClause':
        if (tool === 'query') {
          const clause = lockStrengths.get(String(value.strength)) ?? 'FOR UPDATE';
          return {
            code: 'LOCKING_CLAUSE',
            message: `${clause} is not allowed in the query tool: it locks rows, which is a write. Remove the locking clause.`,
            construct: clause,
          };
        }
        break;
      case 'intoClause':
        // The raw grammar accepts INTO in any SELECT; `(SELECT … INTO t) UNION …` creates t.
        return selectInto;
      default:
        if (tool === 'query' && writeStatements.has(key)) {
          const keyword = key.slice(0, -'Stmt'.length).toUpperCase();
          return {
            code: 'WRITE_IN_QUERY',
            message: `A data-modifying WITH (${keyword}) is not allowed in the query tool, which is read-only. Send the statement with the mutate tool.`,
            construct: `WITH … ${keyword}`,
          };
        }
    }
  }
  return undefined;
}

/** A FuncCall: denied names in any schema, then the schema allow-list, then current_setting(). */
function inspectFunctionCall(call: JsonObject, scope: Scope): Finding | undefined {
  const parts = names(call.funcname);
  const name = parts[parts.length - 1] ?? '';
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
  const written = `${parts.join('.')}()`;

  const reason = deniedFunctionReason(name);
  if (reason) {
    return {
      code: 'FUNCTION_NOT_ALLOWED',
      message: `${written} is not allowed: ${reason}. Remove it from the statement.`,
      construct: written,
    };
  }
  if (schema !== undefined && !allowedSchemas.has(schema)) {
    if (!(schema === 'auth' && allowedAuthFunctions.has(name))) {
      return schemaRefusal(written, schema);
    }
  }
  if (name === 'current_setting') return inspectSettingRead(call, written);

  const builtinSchema = schema === undefined || builtinSchemas.has(schema);
  const builtinReason = builtinSchema ? deniedBuiltins.get(name) : undefined;
  if (builtinReason) {
    return {
      code: 'FUNCTION_NOT_ALLOWED',
      message: `${written} is not allowed: ${builtinReason}. Remove it from the statement.`,
      construct: written,
    };
  }
  const analysed = inspectAnalysedCall(name, schema, written, scope);
  if (analysed) return analysed;
  if (scope.body || (builtinSchema && allowedBuiltins.has(name))) return undefined;
  if (schema === 'auth' && allowedAuthFunctions.has(name)) return undefined;
  if (hasAnalysedCandidate(name, schema, scope)) return undefined;
  return {
    code: 'FUNCTION_UNCLASSIFIED',
    message: `${written} is not a function this server knows: it is neither a PostgreSQL built-in the server has classified nor a function of this database it has analysed, so it is refused rather than trusted. Check the name and schema, or use another function; a function created in the last few seconds is known after the server's next check (every ${functionRefreshMs / 1000} s).`,
    construct: written,
  };
}

/** Schemas whose functions the generated built-in table (builtin-functions.ts) classifies. */
const builtinSchemas: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema', 'extensions']);

function hasAnalysedCandidate(name: string, schema: string | undefined, scope: Scope): boolean {
  const candidates = scope.catalogue?.byName.get(name) ?? [];
  return candidates.some((c) => (schema === undefined ? searchPath.has(c.schema) : c.schema === schema));
}

/**
 * A call of a user-defined function is judged as what its body does (functions.ts). Overloads and
 * same-named functions in public and extensions are not told apart: the worst of them decides.
 */
function inspectAnalysedCall(
  name: string,
  schema: string | undefined,
  written: string,
  scope: Scope,
): Finding | undefined {
  const candidates = scope.catalogue?.byName.get(name) ?? [];
  for (const candidate of candidates) {
    if (schema === undefined ? !searchPath.has(candidate.schema) : candidate.schema !== schema) continue;
    const problem = verdictProblem(candidate.verdict, scope.tool);
    if (problem) {
      return {
        code: 'FUNCTION_NOT_ALLOWED',
        message: `${written} is not allowed: ${problem} Remove it from the statement.`,
        construct: written,
      };
    }
  }
  return undefined;
}

/** Where an unqualified name resolves after pg_catalog: the search_path the server sets. */
const searchPath: ReadonlySet<string> = new Set(['public', 'extensions']);

function verdictProblem(verdict: FunctionVerdict, tool: Tool): string | undefined {
  switch (verdict.kind) {
    case 'clean':
      return undefined;
    case 'denied':
      return `${chainText(verdict.chain)}: ${verdict.reason}.`;
    case 'unanalysable':
      return `${chainText(verdict.chain)}: ${verdict.reason}, so the server cannot tell what it does.`;
    case 'writes':
      if (verdict.securityDefiner) {
        return `${chainText(verdict.chain)}: it writes data as the function's owner (SECURITY DEFINER), past row level security.`;
      }
      return tool === 'query'
        ? `${chainText(verdict.chain)}: it writes data and the query tool is read-only. Write with explicit statements through the mutate tool.`
        : undefined;
  }
}

function chainText(chain: readonly string[]): string {
  return chain.join(' → ');
}

function inspectSettingRead(call: JsonObject, written: string): Finding | undefined {
  const args = Array.isArray(call.args) ? (call.args as unknown[]) : [];
  const setting = stringLiteral(args[0]);
  const readable =
    setting !== undefined && (!setting.includes('.') || setting.toLowerCase().startsWith(readableCustomSettingPrefix));
  if (readable) return undefined;
  return {
    code: 'FUNCTION_NOT_ALLOWED',
    message:
      setting === undefined
        ? `${written} needs the setting name as a string literal, so the server can check what it reads.`
        : `${written} may read built-in settings and request.* (your own claims) only: custom settings such as '${setting}' can hold deployment secrets.`,
    construct: written,
  };
}

/** Field selection `(x).f` / `t.f`, which PostgreSQL may resolve as the call f(x). */
function inspectFieldSelection(fields: readonly unknown[], scope: Scope): Finding | undefined {
  for (const field of fields) {
    const name = (field as { String?: { sval?: string } }).String?.sval;
    if (name === undefined) continue;
    const analysed = inspectAnalysedCall(name, undefined, `${name}()`, scope);
    if (analysed) return analysed;
    const reason =
      name === 'current_setting' ? 'its setting name cannot be checked in this form' : deniedFunctionReason(name);
    if (reason) {
      return {
        code: 'FUNCTION_NOT_ALLOWED',
        message: `${name}() called through attribute notation (x).${name} is not allowed: ${reason}. Remove it from the statement.`,
        construct: `${name}()`,
      };
    }
  }
  return undefined;
}

/**
 * An operator runs its function: OPERATOR(schema.op) must name an allowed schema, and a
 * user-defined operator is judged as the function it runs.
 */
function inspectOperator(expr: JsonObject, scope: Scope): Finding | undefined {
  const parts = names(expr.name);
  const { schema, name } = qualifiedName(parts);
  if (schema !== undefined && !allowedSchemas.has(schema)) return schemaRefusal(`OPERATOR(${parts.join('.')})`, schema);
  for (const operator of scope.catalogue?.operators.get(name) ?? []) {
    if (schema === undefined ? !searchPath.has(operator.schema) : operator.schema !== schema) continue;
    const problem = verdictProblem(operator.verdict, scope.tool);
    if (problem) {
      return {
        code: 'FUNCTION_NOT_ALLOWED',
        message: `Operator ${name} is not allowed: ${problem} Remove it from the statement.`,
        construct: name,
      };
    }
  }
  return undefined;
}

function qualifiedName(parts: readonly string[]): { schema: string | undefined; name: string } {
  return { schema: parts.length > 1 ? parts[parts.length - 2] : undefined, name: parts[parts.length - 1] ?? '' };
}

function inspectRelation(rangeVar: JsonObject, scope: Scope): Finding | undefined {
  const schema = typeof rangeVar.schemaname === 'string' ? rangeVar.schemaname : undefined;
  const name = rangeVar.relname as string;
  const written = schema === undefined ? name : `${schema}.${name}`;
  if (schema !== undefined && !allowedSchemas.has(schema)) return schemaRefusal(written, schema);
  const reason = deniedRelations.get(name);
  if (reason && schema !== 'public') {
    return {
      code: 'SCHEMA_NOT_ALLOWED',
      message: `${written} is not allowed: ${reason}. Query the CRM tables in public instead.`,
      construct: written,
    };
  }
  // A view runs the functions of its definition: judged like a call of them.
  for (const view of scope.catalogue?.views.get(name) ?? []) {
    if (schema === undefined ? !searchPath.has(view.schema) : view.schema !== schema) continue;
    const problem = verdictProblem(view.verdict, scope.tool);
    if (problem) {
      return {
        code: 'FUNCTION_NOT_ALLOWED',
        message: `View ${written} is not allowed: ${problem} Query the tables it reads instead.`,
        construct: written,
      };
    }
  }
  return undefined;
}

function schemaRefusal(written: string, schema: string): Finding {
  const auth = schema === 'auth' ? ' (in auth only uid(), jwt(), role() and email() are available)' : '';
  return {
    code: 'SCHEMA_NOT_ALLOWED',
    message: `${written} is not allowed: schema ${schema} is outside the CRM. Only public, extensions, pg_catalog and information_schema may be named${auth}.`,
    construct: written,
  };
}

function deniedFunctionReason(name: string): string | undefined {
  const exact = deniedFunctions.get(name);
  if (exact) return exact;
  for (const [prefix, reason] of deniedFunctionPrefixes) {
    if (name.startsWith(prefix)) return reason;
  }
  return undefined;
}

/** The sval of each String node in a qualified name list. */
function names(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((item) => (item as { String?: { sval?: string } }).String?.sval ?? '');
}

/** The value of a string literal argument, seen through casts and named-argument notation. */
function stringLiteral(node: unknown): string | undefined {
  const n = node as
    | { A_Const?: { sval?: { sval?: string } }; TypeCast?: { arg?: unknown }; NamedArgExpr?: { arg?: unknown } }
    | undefined;
  if (n?.A_Const) return n.A_Const.sval?.sval ?? (n.A_Const.sval ? '' : undefined);
  if (n?.TypeCast) return stringLiteral(n.TypeCast.arg);
  if (n?.NamedArgExpr) return stringLiteral(n.NamedArgExpr.arg);
  return undefined;
}

function locationOf(node: JsonObject): number | undefined {
  return typeof node.location === 'number' && node.location >= 0 ? node.location : undefined;
}

/* ---------------------------------------------------------------------------------------------- */
/* Offsets: the parser reports byte offsets into the UTF-8 text; PostgreSQL reports 1-based        */
/* character positions, and JavaScript slices by UTF-16 code units.                               */

const ascii = /^[\x00-\x7F]*$/;

function locate(text: string, byteOffset: number): { index: number; characters: number } {
  if (ascii.test(text)) return { index: byteOffset, characters: byteOffset };
  let bytes = 0;
  let index = 0;
  let characters = 0;
  while (index < text.length && bytes < byteOffset) {
    const codePoint = text.codePointAt(index) ?? 0;
    bytes += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    index += codePoint >= 0x10000 ? 2 : 1;
    characters += 1;
  }
  return { index, characters };
}

function position(text: string, byteOffset: number): number {
  return locate(text, byteOffset).characters + 1;
}

/** The statement without leading comments and without the terminating semicolon and whitespace. */
function statementText(sql: string, start: number, length: number | undefined): string {
  const from = locate(sql, start).index;
  const to = length ? locate(sql, start + length).index : sql.length;
  // PostgreSQL's whitespace only: other Unicode spaces can be part of an identifier.
  return sql.slice(from, to).replace(/[ \t\n\r\f\v]+$/, '');
}

/** The first keyword of a refused statement, for the message: "CREATE", "SET", "COPY", … */
function statementKeyword(sql: string, start: number): string {
  const word = /^[A-Za-z_]+/.exec(sql.slice(locate(sql, start).index));
  return word ? word[0].toUpperCase() : 'This statement';
}
