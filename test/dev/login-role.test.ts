/**
 * sql/least-privilege-role.sql as users run it: one plain-SQL script (no psql meta-commands) sent
 * over the simple query protocol, as Supabase's SQL Editor sends it, against the embedded
 * PostgreSQL 17. It creates the role, re-running it restores least privilege, it refuses a role
 * that is too powerful or a password left at its placeholder, and the role it makes can become
 * `authenticated` and nothing else.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { loginRoleScript } from '../../dev/login-role.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const ROLE = 'mcp_login_script_test';
const PASSWORD = 'a-long-random-password-for-the-test';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase('login_role_script');
});
after(async () => {
  await db?.admin.unsafe(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
  await db?.drop();
});

const run = async (script: string) =>
  (await db.admin.unsafe(script).simple()) as unknown as Array<Array<Record<string, unknown>>>;

async function memberships(): Promise<string[]> {
  const found = await db.admin<{ rolname: string }[]>`
    SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
    WHERE r.rolname = ${ROLE} ORDER BY 1`;
  return found.map((row) => row.rolname);
}

test('the script as shipped stops at its placeholder password, changing nothing', async () => {
  const shipped = await readFile(new URL('../../sql/least-privilege-role.sql', import.meta.url), 'utf8');
  assert.doesNotMatch(shipped, /^\\/m, 'no psql meta-commands');
  const roles = async () =>
    (await db.admin`SELECT rolname, rolpassword IS NOT NULL AS has_password FROM pg_authid ORDER BY 1`).map((r) => ({
      ...r,
    }));
  const before = await roles();
  await assert.rejects(run(shipped), /set role_password at the top of this script/);
  assert.deepEqual(await roles(), before);
});

test('creates the role; its check query shows NOINHERIT and membership of authenticated only', async () => {
  const results = await run(await loginRoleScript(ROLE, PASSWORD));
  const check = [...results.at(-1)!];
  assert.deepEqual(check, [
    {
      rolname: ROLE,
      rolinherit: false,
      rolsuper: false,
      rolbypassrls: false,
      rolcreaterole: false,
      rolcreatedb: false,
      member_of: ['authenticated'],
    },
  ]);
  const [setting] = await db.admin<{ setconfig: string[] }[]>`
    SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = ${ROLE}`;
  assert.deepEqual(setting?.setconfig, ['statement_timeout=8s']);
});

test('the role logs in with the password and can become authenticated, not service_role or anon', async () => {
  const url = new URL(db.loginUrl);
  url.username = ROLE;
  url.password = PASSWORD;
  const login = postgres(url.toString(), { max: 1, onnotice: () => undefined });
  try {
    const [me] = await login`SELECT current_user AS who`;
    assert.equal(me!.who, ROLE);
    await login.begin(async (tx) => {
      await tx`SET LOCAL ROLE authenticated`;
    });
    for (const role of ['service_role', 'anon', 'postgres']) {
      await assert.rejects(
        login.unsafe(`SET ROLE ${role}`),
        (error: postgres.PostgresError) => error.code === '42501',
        role,
      );
    }
  } finally {
    await login.end({ timeout: 5 });
  }
});

test('re-running it revokes a membership granted since, and keeps the role usable', async () => {
  await db.admin.unsafe(`GRANT service_role TO ${ROLE}`);
  assert.deepEqual(await memberships(), ['authenticated', 'service_role']);
  await run(await loginRoleScript(ROLE, PASSWORD));
  assert.deepEqual(await memberships(), ['authenticated']);
});

test('a role that is too powerful is refused with a hint, and left as it was', async () => {
  await db.admin.unsafe(`ALTER ROLE ${ROLE} BYPASSRLS`);
  try {
    await assert.rejects(run(await loginRoleScript(ROLE, PASSWORD)), (error: postgres.PostgresError) => {
      assert.match(error.message, /already exists with superuser, bypassrls.*refusing/);
      assert.match(error.hint ?? '', /another role_name/);
      return true;
    });
  } finally {
    await db.admin.unsafe(`ALTER ROLE ${ROLE} NOBYPASSRLS`);
  }
});
