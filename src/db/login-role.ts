/**
 * The start-up check of the role in DATABASE_URL. The statement policy is the first line of
 * defence; the login role is the last: if it can become postgres or service_role, or bypasses RLS,
 * one policy gap would hand the agent the whole database. So a privileged login refuses to start
 * unless the operator opts in (ALLOW_PRIVILEGED_LOGIN_ROLE=true), and then it warns at every start.
 *
 * @example
 *   const report = await inspectLoginRole(sql);
 *   if (report.problems.length) console.error(report.problems.join('\n'));
 */
import { EXTENDED, type Sql } from './pool.js';

export interface LoginRoleReport {
  role: string;
  /** False when `authenticated` is missing or out of reach: the server cannot work at all. */
  canActAsUser: boolean;
  /** Why the role is more powerful than it needs to be; empty for a least-privilege role. */
  problems: string[];
}

export async function inspectLoginRole(sql: Sql): Promise<LoginRoleReport> {
  const [row] = await sql.unsafe(
    `select current_user as role, r.rolsuper as superuser, r.rolbypassrls as bypassrls, r.rolcreaterole as createrole,
       to_regrole('authenticated') is not null and pg_has_role(current_user, 'authenticated', 'MEMBER') as can_act,
       coalesce((select array_agg(b.rolname::text order by b.rolname) from pg_roles b
         where b.rolname not in (current_user, 'authenticated', 'anon') and pg_has_role(current_user, b.oid, 'MEMBER')), '{}') as other_roles,
       coalesce((select array_agg(distinct c.relname::text order by c.relname::text) from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
           and (c.relowner = r.oid or exists (select 1 from aclexplode(c.relacl) a where a.grantee = r.oid))), '{}') as own_tables
     from pg_roles r where r.rolname = current_user`,
    [],
    EXTENDED,
  );
  const r = row as unknown as {
    role: string;
    superuser: boolean;
    bypassrls: boolean;
    createrole: boolean;
    can_act: boolean;
    other_roles: string[];
    own_tables: string[];
  };
  const problems: string[] = [];
  if (r.superuser) problems.push(`"${r.role}" is a superuser: it ignores Row Level Security and every grant.`);
  if (r.bypassrls) problems.push(`"${r.role}" has BYPASSRLS: Row Level Security does not apply to it.`);
  if (r.createrole) problems.push(`"${r.role}" has CREATEROLE: it can grant itself other roles.`);
  if (r.other_roles.length) {
    problems.push(
      `"${r.role}" can become ${r.other_roles.map((x) => `"${x}"`).join(', ')} (SET ROLE), not only "authenticated".`,
    );
  }
  if (r.own_tables.length) {
    const list = r.own_tables.slice(0, 5).join(', ') + (r.own_tables.length > 5 ? ', …' : '');
    problems.push(`"${r.role}" owns or holds grants on public tables (${list}) without going through "authenticated".`);
  }
  return { role: r.role, canActAsUser: r.can_act, problems };
}

/** What to tell an operator whose login role is privileged. */
export const LEAST_PRIVILEGE_FIX =
  'Create a least-privilege login role and use it in DATABASE_URL: `npm run login-role-sql` prints the SQL ' +
  '(a LOGIN NOINHERIT role that is a member of "authenticated" only). To run with this role anyway, set ' +
  'ALLOW_PRIVILEGED_LOGIN_ROLE=true (not recommended: the statement policy is then the only barrier).';
