/**
 * Introspection of schema `public` as the signed-in user (what they may read is what they see),
 * rendered as compact text an agent reads cheaply, or as full detail for one table.
 *
 * @example
 *   const text = renderOverview(await readSchema(sql, identity, options));
 */
import { EXTENDED, type Sql } from './pool.js';
import { asUser, literal, type Identity, type RunOptions } from './run.js';

export interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
  identity: boolean;
  comment: string | null;
}

export interface ConstraintInfo {
  name: string;
  /** p primary key, f foreign key, u unique, c check, x exclusion. */
  kind: string;
  definition: string;
}

export interface RelationInfo {
  name: string;
  kind: 'table' | 'view' | 'materialized view';
  rls: boolean;
  comment: string | null;
  columns: ColumnInfo[];
  constraints: ConstraintInfo[];
  /** Detail only: */
  policies?: {
    name: string;
    command: string;
    roles: string[];
    using: string | null;
    check: string | null;
    permissive: boolean;
  }[];
  indexes?: string[];
  triggers?: string[];
  referencedBy?: string[];
}

export interface SchemaInfo {
  relations: RelationInfo[];
  /** `configuration.config` of Atomic CRM when the table exists and is readable. */
  crmConfig: Record<string, unknown> | null;
}

function introspectionSql(table: string | null): string {
  const detail = table !== null;
  const filter = detail ? ` and c.relname = ${literal(table)}` : '';
  const detailColumns = detail
    ? `,
      'policies', (select coalesce(json_agg(json_build_object('name', p.polname, 'command', case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end,
          'roles', (select coalesce(json_agg(case when r = 0 then 'public' else pg_get_userbyid(r)::text end), '[]') from unnest(p.polroles) r),
          'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid), 'permissive', p.polpermissive) order by p.polname), '[]')
        from pg_policy p where p.polrelid = c.oid),
      'indexes', (select coalesce(json_agg(pg_get_indexdef(i.indexrelid) order by i.indexrelid), '[]') from pg_index i where i.indrelid = c.oid),
      'triggers', (select coalesce(json_agg(t.tgname || ': ' || pg_get_triggerdef(t.oid) order by t.tgname), '[]') from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal),
      'referencedBy', (select coalesce(json_agg(k.conrelid::regclass::text || ': ' || pg_get_constraintdef(k.oid) order by 1), '[]') from pg_constraint k where k.confrelid = c.oid and k.contype = 'f')`
    : '';
  return `
select json_build_object(
  'relations', (select coalesce(json_agg(r order by r->>'name'), '[]') from (
    select json_build_object(
      'name', c.relname,
      'kind', case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end,
      'rls', c.relrowsecurity,
      'comment', obj_description(c.oid, 'pg_class'),
      'columns', (select coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
          'notNull', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'identity', a.attidentity <> '',
          'comment', col_description(c.oid, a.attnum)) order by a.attnum), '[]')
        from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
      'constraints', (select coalesce(json_agg(json_build_object('name', k.conname, 'kind', k.contype, 'definition', pg_get_constraintdef(k.oid)) order by k.contype, k.conname), '[]')
        from pg_constraint k where k.conrelid = c.oid and k.contype in ('p', 'f', 'u', 'c', 'x'))${detailColumns}
    ) as r
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
      and has_table_privilege(c.oid, 'select')${filter}
  ) as relations)
) as schema`;
}

/** Reads the schema as the user; `table` narrows it to one relation with policies and indexes. */
export async function readSchema(
  sql: Sql,
  identity: Identity,
  options: RunOptions,
  table: string | null = null,
): Promise<SchemaInfo> {
  const rows = await asUser(sql, identity, options, (c) => c.unsafe(introspectionSql(table), [], EXTENDED));
  const relations = (rows[0]!.schema as { relations: RelationInfo[] }).relations;
  // A table that may not exist cannot be named in the same statement, hence a second, rare call.
  const hasConfig =
    table === null && relations.some((r) => r.name === 'configuration' && r.columns.some((c) => c.name === 'config'));
  const config = hasConfig
    ? await asUser(sql, identity, options, (c) =>
        c.unsafe('select config from public.configuration where id = 1', [], EXTENDED),
      )
    : [];
  return { relations, crmConfig: (config[0]?.config as Record<string, unknown> | undefined) ?? null };
}

const short = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function foreignKeys(relation: RelationInfo): Map<string, string> {
  const refs = new Map<string, string>();
  for (const k of relation.constraints) {
    const m = /^FOREIGN KEY \(([^)]+)\) REFERENCES ([^(]+)\(([^)]+)\)(.*)$/.exec(k.definition);
    if (!m) continue;
    const cascade = /ON DELETE CASCADE/.test(m[4]!) ? ' cascade' : '';
    const [cols, target, targetCols] = [m[1]!, m[2]!, m[3]!];
    if (!cols.includes(',')) refs.set(cols, `→ ${target}.${targetCols}${cascade}`);
  }
  return refs;
}

function primaryKey(relation: RelationInfo): Set<string> {
  const pk = relation.constraints.find((k) => k.kind === 'p');
  const m = pk && /^PRIMARY KEY \(([^)]+)\)/.exec(pk.definition);
  return new Set(m ? m[1]!.split(', ') : []);
}

function columnLine(column: ColumnInfo, pk: Set<string>, refs: Map<string, string>, commentMax: number): string {
  const parts = [column.name, column.type];
  if (pk.has(column.name)) parts.push('pk');
  else if (column.notNull) parts.push('not null');
  if (column.identity) parts.push('identity');
  else if (column.default) parts.push(`default ${short(column.default, 40)}`);
  const ref = refs.get(column.name);
  if (ref) parts.push(ref);
  const comment = column.comment ? ` -- ${short(column.comment.replace(/\s+/g, ' '), commentMax)}` : '';
  return `  ${parts.join(' ')}${comment}`;
}

function heading(relation: RelationInfo): string {
  const flags = [relation.kind, relation.kind === 'table' ? (relation.rls ? 'RLS on' : 'RLS OFF') : null].filter(
    Boolean,
  );
  return `${relation.name} (${flags.join(', ')})`;
}

// Atomic CRM's defaults (app code); configuration.config overrides any of them.
const CRM_DEFAULTS: Record<string, unknown> = {
  dealStages: ['opportunity', 'proposal-sent', 'in-negociation', 'won', 'lost', 'delayed'],
  dealCategories: ['other', 'copywriting', 'print-project', 'ui-design', 'website-design'],
  noteStatuses: ['cold', 'warm', 'hot', 'in-contract'],
  taskTypes: ['none', 'email', 'demo', 'lunch', 'meeting', 'follow-up', 'thank-you', 'ship', 'call'],
};

/** Values are stored as slugs; a config entry may be a string or an object with `value`. */
function slugs(list: unknown): string {
  if (!Array.isArray(list)) return JSON.stringify(list);
  return list
    .map((item) => (typeof item === 'object' && item && 'value' in item ? String(item.value) : String(item)))
    .join(', ');
}

/** Every readable table and view in a few lines each, plus Atomic CRM's effective enum values. */
export function renderOverview(schema: SchemaInfo): string {
  const lines = [
    'Schema public (bigint ids; "→ t.c" = foreign key; "cascade" = deleted with its parent).',
    'Call get_schema with {"table": "<name>"} for comments, policies, indexes and triggers of one table.',
    '',
  ];
  for (const relation of schema.relations) {
    const pk = primaryKey(relation);
    const refs = foreignKeys(relation);
    lines.push(
      heading(relation) + (relation.comment ? ` -- ${short(relation.comment.replace(/\s+/g, ' '), 120)}` : ''),
    );
    for (const column of relation.columns) lines.push(columnLine(column, pk, refs, 80));
  }
  if (schema.crmConfig) {
    lines.push(
      '',
      'Atomic CRM values in effect (slugs stored in the columns; configuration row id 1 overrides defaults):',
    );
    for (const [key, fallback] of Object.entries(CRM_DEFAULTS)) {
      const value = schema.crmConfig[key] ?? fallback;
      lines.push(`  ${key}: ${slugs(value)}`);
    }
    const sectors = schema.crmConfig.companySectors;
    if (sectors) lines.push(`  companySectors: ${slugs(sectors)}`);
    if (schema.crmConfig.currency) lines.push(`  currency: ${String(schema.crmConfig.currency)}`);
  }
  return lines.join('\n');
}

/** One relation in full: every comment, constraint, policy, index, trigger and inbound key. */
export function renderDetail(relation: RelationInfo): string {
  const pk = primaryKey(relation);
  const refs = foreignKeys(relation);
  const lines = [heading(relation)];
  if (relation.comment) lines.push(`  comment: ${relation.comment}`);
  lines.push('columns:');
  for (const column of relation.columns) lines.push(columnLine(column, pk, refs, 10_000));
  const section = (title: string, items: string[] | undefined) => {
    if (items?.length) lines.push(`${title}:`, ...items.map((i) => `  ${i}`));
  };
  section(
    'constraints',
    relation.constraints.map((k) => `${k.name}: ${k.definition}`),
  );
  section(
    'row level security policies',
    relation.policies?.map(
      (p) =>
        `${p.name}: ${p.permissive ? 'permissive' : 'RESTRICTIVE'} ${p.command} to ${p.roles.join(', ')}` +
        (p.using ? ` using (${p.using})` : '') +
        (p.check ? ` with check (${p.check})` : ''),
    ),
  );
  section('indexes', relation.indexes);
  section('triggers', relation.triggers);
  section('referenced by', relation.referencedBy);
  return lines.join('\n');
}
