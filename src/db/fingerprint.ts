/**
 * The audit line's fingerprint of a statement, computed from the parse tree the policy already
 * has, so a call parses its statement once. It groups statements as libpg_query's own
 * fingerprint does: the same for the same shape written with other values, other aliases, other
 * spacing, comments or letter case, or a longer or shorter list of constants; different for a
 * different table, column, function, operator or clause. It is not byte-compatible with
 * libpg_query's value (that one hashes the C structs, which a JSON tree cannot reproduce).
 *
 * @example
 *   treeFingerprint(parseSync('select * from deals where id = 1').stmts);
 *   // the same 16 hex digits as for 'SELECT * FROM deals d WHERE id = 42'
 */
import { createHash } from 'node:crypto';

type JsonObject = { [key: string]: unknown };

/** Where the text sits, not what it says. */
const positionKeys: ReadonlySet<string> = new Set([
  'location',
  'name_location',
  'stmt_location',
  'stmt_len',
  'list_start',
  'list_end',
  'rexpr_list_start',
  'rexpr_list_end',
]);

/** Lists of expressions whose length is not part of the shape when they hold only constants. */
const constantLists: ReadonlySet<string> = new Set(['items', 'elements']);

/** 16 hex digits (64 bits) of SHA-256 over the tree's shape. */
export function treeFingerprint(stmts: readonly unknown[]): string {
  return createHash('sha256').update(shape(stmts)).digest('hex').slice(0, 16);
}

/**
 * A node to visit: the key it sits under (`SelectStmt` for a SELECT's body), and whether its
 * ResTargets name output aliases (a SELECT list, RETURNING's exprs) rather than columns written.
 */
type Pending = string | { node: unknown; under: string; aliasing: boolean };

/**
 * The shape of a tree as text: every key and every scalar value, except positions, constants'
 * values, parameter numbers and aliases. Iterative, like the policy's walk: a deeply nested
 * expression must not overflow the JavaScript stack.
 */
function shape(root: unknown): string {
  const parts: string[] = [];
  const pending: Pending[] = [{ node: root, under: '', aliasing: false }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (typeof next === 'string') {
      parts.push(next);
      continue;
    }
    const { node, under, aliasing } = next;
    if (Array.isArray(node)) {
      parts.push('[');
      pending.push(']');
      for (let i = node.length - 1; i >= 0; i--) pending.push({ node: node[i], under, aliasing });
      continue;
    }
    if (typeof node !== 'object' || node === null) {
      if (node !== undefined) parts.push(String(node));
      continue;
    }
    const object = node as JsonObject;
    const keys = Object.keys(object);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (positionKeys.has(key) || key === 'alias') continue;
      let value = object[key];
      if (key === 'A_Const' || key === 'ParamRef') {
        pending.push(key);
        continue;
      }
      // `in (1, 2, 3)` and `in (4)` are one shape, as in libpg_query and pg_stat_statements.
      if (constantLists.has(key) && Array.isArray(value) && value.every(isConstant)) {
        pending.push(`${key}[A_Const…]`);
        continue;
      }
      if (key === 'ResTarget' && aliasing) {
        const { name: _alias, ...target } = value as JsonObject;
        value = target;
      }
      // In UPDATE, targetList is the SET clause: its names are columns, not aliases.
      const aliases =
        (key === 'targetList' && under === 'SelectStmt') || (key === 'exprs' && under === 'returningClause');
      pending.push({ node: value, under: key, aliasing: aliases });
      pending.push(key);
    }
  }
  return parts.join('\u0001');
}

function isConstant(item: unknown): boolean {
  return typeof item === 'object' && item !== null && 'A_Const' in item;
}
