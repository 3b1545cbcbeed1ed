/**
 * The code twin of sql/least-privilege-role.sql, for tests and the demo: a LOGIN NOINHERIT role
 * that is a member of `authenticated` only, with statement_timeout 8s.
 */
import type postgres from 'postgres';

/** Attributes that would make the role more than a door to `authenticated`. */
const FORBIDDEN_ATTRIBUTES = ['rolsuper', 'rolbypassrls', 'rolcreaterole', 'rolcreatedb', 'rolreplication'] as const;

/**
 * Creates the role, or brings an existing one back to least privilege (new password, NOINHERIT,
 * memberships other than `authenticated` revoked). Throws if an existing role carries attributes
 * that only a superuser could remove.
 */
export async function createLoginRole(sql: postgres.Sql, name: string, password: string): Promise<void> {
  await sql.begin(async (tx) => {
    const t = tx as unknown as postgres.Sql;
    const [server] = await t<{ pg16: boolean; missing: boolean }[]>`
      SELECT current_setting('server_version_num')::int >= 160000 AS pg16,
             NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${name}) AS missing
    `;
    const { pg16, missing } = server!;

    // DDL takes no bind parameters: let the server quote identifiers (%I) and the password (%L).
    const ddl = async (template: string, ...args: string[]): Promise<void> => {
      const [row] = await t.unsafe<{ statement: string }[]>('SELECT format($1, VARIADIC $2::text[]) AS statement', [template, args]);
      await t.unsafe(row!.statement);
    };
    const otherMemberships = async (): Promise<string[]> =>
      (
        await t<{ rolname: string }[]>`
          SELECT g.rolname
          FROM pg_auth_members m
          JOIN pg_roles g ON g.oid = m.roleid
          JOIN pg_roles r ON r.oid = m.member
          WHERE r.rolname = ${name} AND g.rolname <> 'authenticated'
        `
      ).map((row) => row.rolname);

    await ddl(`${missing ? 'CREATE' : 'ALTER'} ROLE %I WITH LOGIN NOINHERIT PASSWORD %L`, name, password);

    const [attributes] = await t<Record<string, unknown>[]>`SELECT * FROM pg_roles WHERE rolname = ${name}`;
    const excess = FORBIDDEN_ATTRIBUTES.filter((attribute) => attributes![attribute] === true);
    if (excess.length > 0) throw new Error(`role ${name} already exists with ${excess.join(', ')}: refusing to use it as the login role`);

    for (const granted of await otherMemberships()) await ddl('REVOKE %I FROM %I', granted, name);
    const remaining = await otherMemberships();
    if (remaining.length > 0) throw new Error(`role ${name} is still a member of ${remaining.join(', ')} (granted by another role)`);

    await ddl(pg16 ? 'GRANT authenticated TO %I WITH INHERIT FALSE, SET TRUE' : 'GRANT authenticated TO %I', name);
    await ddl(`ALTER ROLE %I SET statement_timeout = '8s'`, name);
  });
}
