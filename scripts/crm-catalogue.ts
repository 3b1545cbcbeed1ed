/**
 * Derives test/db/crm-catalogue.json from Atomic CRM's own schema files, so the fixture's drift
 * test (test/db/crm-catalogue.test.ts) compares against the real schema, not against a copy of the
 * fixture. It parses the files with PostgreSQL's grammar (libpg-query) and lists every function
 * (language, SECURITY DEFINER, which API roles may execute it after the grants), trigger, policy and
 * view. The fixture's own additions (`fixtureAdditions`) are kept from the existing file.
 *
 *   node --import tsx scripts/crm-catalogue.ts path/to/atomic-crm/supabase/schemas "marmelab/atomic-crm@<commit>"
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadModule, parseSync } from 'libpg-query';

const OUTPUT = new URL('../test/db/crm-catalogue.json', import.meta.url);
const API_ROLES = ['anon', 'authenticated', 'service_role'];

type Node = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** How pg_get_function_identity_arguments spells the types the grammar normalises. */
const typeNames: Record<string, string> = {
  int8: 'bigint',
  int4: 'integer',
  int2: 'smallint',
  bool: 'boolean',
  varchar: 'character varying',
};

const names = (list: Node[] | undefined): string[] => (list ?? []).map((n) => n.String?.sval ?? '');
const typeName = (t: Node): string => {
  const parts = names(t.names);
  const last = parts[parts.length - 1] ?? '';
  return typeNames[last] ?? last;
};
const qualifiedName = (parts: string[]): string => (parts.length > 1 ? parts.join('.') : `public.${parts[0]}`);

async function main(): Promise<void> {
  const [dir, source] = process.argv.slice(2);
  if (!dir || !source) throw new Error('usage: crm-catalogue.ts <supabase/schemas directory> <source label>');
  await loadModule();
  const statements: Node[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()) {
    const tree = parseSync(await readFile(path.join(dir, file), 'utf8')) as unknown as { stmts: { stmt: Node }[] };
    statements.push(...tree.stmts.map((s) => s.stmt));
  }

  const functions = new Map<
    string,
    { name: string; language: string; securityDefiner: boolean; publicExecute: boolean; granted: Set<string> }
  >();
  const identity = (name: string, argTypes: string[]): string => `${name}(${argTypes.join(', ')})`;
  const triggers: string[] = [];
  const policies: string[] = [];
  const views: string[] = [];

  for (const stmt of statements) {
    if (stmt.CreateFunctionStmt) {
      const f = stmt.CreateFunctionStmt;
      const params = (f.parameters ?? [])
        .map((p: Node) => p.FunctionParameter)
        .filter((p: Node) => (p.mode ?? 'FUNC_PARAM_DEFAULT') !== 'FUNC_PARAM_TABLE');
      const option = (name: string): Node | undefined =>
        (f.options ?? []).find((o: Node) => o.DefElem.defname === name)?.DefElem;
      const name = qualifiedName(names(f.funcname));
      functions.set(
        identity(
          name,
          params.map((p: Node) => typeName(p.argType)),
        ),
        {
          name: `${name}(${params.map((p: Node) => `${p.name} ${typeName(p.argType)}`).join(', ')})`,
          language: option('language')?.arg.String.sval ?? 'sql',
          securityDefiner: option('security')?.arg.Boolean?.boolval === true,
          publicExecute: true, // PostgreSQL grants EXECUTE to PUBLIC on a new function
          granted: new Set(),
        },
      );
    } else if (stmt.GrantStmt?.objtype === 'OBJECT_FUNCTION') {
      const g = stmt.GrantStmt;
      const grantees: string[] = g.grantees.map((r: Node) =>
        r.RoleSpec.roletype === 'ROLESPEC_PUBLIC' ? 'PUBLIC' : r.RoleSpec.rolename,
      );
      for (const object of g.objects) {
        const o = object.ObjectWithArgs;
        const fn = functions.get(
          identity(
            qualifiedName(names(o.objname)),
            (o.objargs ?? []).map((t: Node) => typeName(t.TypeName)),
          ),
        );
        if (!fn) continue;
        for (const role of grantees) {
          if (role === 'PUBLIC') fn.publicExecute = g.is_grant;
          else if (g.is_grant) fn.granted.add(role);
          else fn.granted.delete(role);
        }
      }
    } else if (stmt.CreateTrigStmt) {
      const t = stmt.CreateTrigStmt;
      const events = [
        [4, 'INSERT'],
        [8, 'DELETE'],
        [16, 'UPDATE'],
      ]
        .filter(([bit]) => (t.events & (bit as number)) !== 0)
        .map(([, e]) => e);
      triggers.push(
        `${t.relation.schemaname ?? 'public'}.${t.relation.relname} ${t.trigname} ${t.timing === 2 ? 'BEFORE' : 'AFTER'} ${events.join(' OR ')}` +
          `${t.whenClause ? ' WHEN' : ''} → ${qualifiedName(names(t.funcname))}`,
      );
    } else if (stmt.CreatePolicyStmt) {
      const p = stmt.CreatePolicyStmt;
      if ((p.table.schemaname ?? 'public') !== 'public') continue;
      const roles = p.roles.map((r: Node) =>
        r.RoleSpec.roletype === 'ROLESPEC_PUBLIC' ? 'public' : r.RoleSpec.rolename,
      );
      policies.push(
        `public.${p.table.relname} "${p.policy_name}" ${p.cmd_name === 'all' ? 'ALL' : p.cmd_name.toUpperCase()} TO ${roles.join(', ')}`,
      );
    } else if (stmt.ViewStmt) {
      const v = stmt.ViewStmt;
      const invoker = (v.options ?? []).some(
        (o: Node) =>
          o.DefElem.defname === 'security_invoker' &&
          ['on', 'true'].includes(String(o.DefElem.arg?.String?.sval ?? o.DefElem.arg?.Boolean?.boolval)),
      );
      views.push(`public.${v.view.relname} ${invoker ? 'security_invoker' : 'definer'}`);
    }
  }

  const previous = JSON.parse(await readFile(OUTPUT, 'utf8').catch(() => '{}')) as { fixtureAdditions?: unknown };
  const catalogue = {
    source,
    fixtureAdditions: previous.fixtureAdditions ?? { functions: [], tables: [] },
    functions: [...functions.values()]
      .map((f) => ({
        name: f.name,
        language: f.language,
        securityDefiner: f.securityDefiner,
        executableBy: API_ROLES.filter((r) => f.publicExecute || f.granted.has(r)),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    triggers: triggers.sort(),
    policies: policies.sort(),
    views: views.sort(),
  };
  await writeFile(OUTPUT, `${JSON.stringify(catalogue, null, 2)}\n`);
  process.stderr.write(
    `${catalogue.functions.length} functions, ${triggers.length} triggers, ${policies.length} policies, ${views.length} views\n`,
  );
}

await main();
