/**
 * Values an agent puts into, or compares with, the columns whose slugs the CRM's configuration
 * defines (deal stages, categories, statuses, task types, sectors), found in PostgreSQL's parse
 * tree (libpg-query, the tree the statement policy already parsed) rather than the text, and
 * judged against the effective configuration.
 *
 * Only string literals are judged (also under a cast: `'won'::text`): an expression, a column or a
 * parameter has no value before it runs, and a NULL is the app's "none".
 *
 * @example
 *   const sql = "update deals set stage = 'in-negotiation' where id = 1";
 *   const uses = valueUses(parseSync(sql).stmts[0].stmt, sql);
 *   unknownValues(uses.writes, config)[0]?.nearest; // 'in-negociation'
 */
import { KNOWN_COLUMNS, type CrmConfiguration, type ValueList } from './configuration.js';

export interface ValueUse {
  table: string;
  column: string;
  list: ValueList;
  value: string;
  /** 1-based character offset of the literal in the statement. */
  position: number;
}

export interface UnknownValue extends ValueUse {
  allowed: readonly string[];
  /** The allowed value closest to what was written (edit distance, case ignored). */
  nearest: string;
}

export interface ValueUses {
  /** Literals an INSERT, UPDATE or MERGE stores in a known column. */
  writes: readonly Readonly<ValueUse>[];
  /** Literals a comparison (=, <>, IN) matches a known column against. */
  filters: readonly Readonly<ValueUse>[];
}

type Node = { [key: string]: unknown };

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null;

/** Every object node of the tree with the key it hangs from, depth first (a list, not a generator: 3x faster). */
function nodes(root: unknown): [string, Node][] {
  const found: [string, Node][] = [];
  const pending: unknown[] = [root];
  while (pending.length) {
    const value = pending.pop();
    if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (isNode(value)) {
      for (const key in value) {
        const child = value[key];
        if (isNode(child) && !Array.isArray(child)) found.push([key, child]);
        pending.push(child);
      }
    }
  }
  return found;
}

/** A string literal, possibly cast, as [value, byte offset]. */
function stringLiteral(expr: unknown): [string, number] | null {
  if (!isNode(expr)) return null;
  if (isNode(expr.TypeCast)) return stringLiteral(expr.TypeCast.arg);
  const constant = expr.A_Const;
  if (!isNode(constant) || !isNode(constant.sval)) return null;
  return [String(constant.sval.sval ?? ''), Number(constant.location ?? 0)];
}

const names = (list: unknown): string[] =>
  Array.isArray(list) ? list.map((n) => (isNode(n) && isNode(n.String) ? String(n.String.sval) : '*')) : [];

function characterPosition(text: string, byteOffset: number): number {
  const bytes = new TextEncoder().encode(text);
  return new TextDecoder().decode(bytes.slice(0, byteOffset)).length + 1;
}

/** A public relation named by a RangeVar: its name and how the statement refers to it. */
function relationOf(rangeVar: Node): { name: string; alias: string } | null {
  const schema = rangeVar.schemaname;
  if (schema !== undefined && schema !== 'public') return null;
  const name = String(rangeVar.relname);
  const alias = isNode(rangeVar.alias) ? String(rangeVar.alias.aliasname) : name;
  return { name, alias };
}

/**
 * What valueUses found, by the tree it walked: the statement policy hands back the same tree for a
 * statement it has seen (policy.ts `seen`), so a repeated statement is not walked again. The text
 * is kept beside it, as positions depend on it. Held weakly: a tree the policy forgets goes too.
 */
const found = new WeakMap<object, { text: string; uses: ValueUses }>();

/**
 * Finds the known-column literals a statement writes and filters on; `text` is what was parsed.
 * The result may be one found before for the same tree: it is shared (frozen), read it only.
 */
export function valueUses(tree: object, text: string): ValueUses {
  const hit = found.get(tree);
  if (hit?.text === text) return hit.uses;
  const uses = findValueUses(tree, text);
  found.set(tree, { text, uses });
  return uses;
}

function findValueUses(tree: object, text: string): ValueUses {
  const writes: ValueUse[] = [];
  const filters: ValueUse[] = [];
  const relations: { name: string; alias: string }[] = [];
  const comparisons: Node[] = [];
  const use = (table: string, column: string, literal: [string, number] | null, into: ValueUse[]) => {
    const list = KNOWN_COLUMNS.get(`${table}.${column}`);
    if (list && literal)
      into.push({ table, column, list, value: literal[0], position: characterPosition(text, literal[1]) });
  };

  for (const [type, node] of nodes(tree)) {
    if (type === 'RangeVar') {
      const relation = relationOf(node);
      if (relation) relations.push(relation);
    } else if (type === 'A_Expr') {
      comparisons.push(node);
    } else if (type === 'InsertStmt' || type === 'UpdateStmt' || type === 'MergeStmt') {
      const target = isNode(node.relation) ? relationOf(node.relation) : null;
      if (!target) continue;
      const assign = (targets: unknown) => {
        for (const t of Array.isArray(targets) ? targets : []) {
          const res = isNode(t) && isNode(t.ResTarget) ? t.ResTarget : null;
          if (res && res.val !== undefined) use(target.name, String(res.name), stringLiteral(res.val), writes);
        }
      };
      const insertRows = (columns: unknown, rows: unknown[][]) => {
        const cols = (Array.isArray(columns) ? columns : []).map((c) =>
          isNode(c) && isNode(c.ResTarget) ? String(c.ResTarget.name) : '',
        );
        for (const row of rows)
          row.forEach((value, i) => cols[i] && use(target.name, cols[i]!, stringLiteral(value), writes));
      };
      if (type === 'UpdateStmt') assign(node.targetList);
      if (type === 'InsertStmt') {
        const select =
          isNode(node.selectStmt) && isNode(node.selectStmt.SelectStmt) ? node.selectStmt.SelectStmt : null;
        const values = Array.isArray(select?.valuesLists)
          ? select.valuesLists.map((l) =>
              isNode(l) && isNode(l.List) && Array.isArray(l.List.items) ? l.List.items : [],
            )
          : Array.isArray(select?.targetList)
            ? [select.targetList.map((t) => (isNode(t) && isNode(t.ResTarget) ? t.ResTarget.val : null))]
            : [];
        insertRows(node.cols, values);
        if (isNode(node.onConflictClause)) assign(node.onConflictClause.targetList);
      }
      if (type === 'MergeStmt') {
        for (const clause of Array.isArray(node.mergeWhenClauses) ? node.mergeWhenClauses : []) {
          const when = isNode(clause) && isNode(clause.MergeWhenClause) ? clause.MergeWhenClause : null;
          if (!when) continue;
          if (when.commandType === 'CMD_UPDATE') assign(when.targetList);
          if (when.commandType === 'CMD_INSERT')
            insertRows(when.targetList, [Array.isArray(when.values) ? when.values : []]);
        }
      }
    }
  }

  for (const expr of comparisons) {
    const operator = names(expr.name)[0];
    const kind = expr.kind;
    if (!((kind === 'AEXPR_OP' && (operator === '=' || operator === '<>')) || kind === 'AEXPR_IN')) continue;
    // Either side may hold the column: `stage = 'won'` or `'won' = stage`.
    for (const [columnSide, valueSide] of [
      [expr.lexpr, expr.rexpr],
      [expr.rexpr, expr.lexpr],
    ]) {
      if (!isNode(columnSide) || !isNode(columnSide.ColumnRef)) continue;
      const fields = names(columnSide.ColumnRef.fields);
      const column = fields.at(-1)!;
      const qualifier = fields.length >= 2 ? fields.at(-2) : undefined;
      const candidates = relations.filter((r) =>
        qualifier ? r.alias === qualifier : KNOWN_COLUMNS.has(`${r.name}.${column}`),
      );
      // An unqualified name shared by two known columns of different lists is left alone.
      const lists = new Set(candidates.map((r) => KNOWN_COLUMNS.get(`${r.name}.${column}`)));
      if (lists.size !== 1 || lists.has(undefined)) continue;
      const table = candidates[0]!.name;
      const literals =
        isNode(valueSide) && isNode(valueSide.List) && Array.isArray(valueSide.List.items)
          ? valueSide.List.items
          : [valueSide];
      for (const literal of literals) use(table, column, stringLiteral(literal), filters);
    }
  }
  const byPosition = (a: ValueUse, b: ValueUse) => a.position - b.position;
  return Object.freeze({
    writes: Object.freeze(writes.sort(byPosition).map((u) => Object.freeze(u))),
    filters: Object.freeze(filters.sort(byPosition).map((u) => Object.freeze(u))),
  });
}

/** Levenshtein distance, for suggesting the value the agent most likely meant. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The allowed value the agent most likely meant: one containing what was written (or contained in
 * it: 'tech' → 'information-technology', 'phone-call' → 'call'), else the smallest edit distance,
 * with a shared beginning counting in its favour ('web-design' → 'website-design', not 'ui-design').
 */
export function nearestValue(value: string, allowed: readonly string[]): string {
  const wanted = value.toLowerCase();
  const containing = allowed.find((c) => c.toLowerCase().includes(wanted) || wanted.includes(c.toLowerCase()));
  if (containing) return containing;
  const prefix = (a: string, b: string) => {
    let n = 0;
    while (n < a.length && a[n] === b[n]) n++;
    return n;
  };
  let best = allowed[0]!;
  let bestScore = Infinity;
  for (const candidate of allowed) {
    const c = candidate.toLowerCase();
    const score = distance(wanted, c) - prefix(wanted, c);
    if (score < bestScore) [best, bestScore] = [candidate, score];
  }
  return best;
}

/** The uses whose value the configuration does not know, each with the allowed values. */
export function unknownValues(uses: readonly ValueUse[], config: CrmConfiguration): UnknownValue[] {
  return uses
    .filter((u) => !config[u.list].includes(u.value))
    .map((u) => ({ ...u, allowed: config[u.list], nearest: nearestValue(u.value, config[u.list]) }));
}
