/**
 * The least-privilege login role for tests and the demo, made by running sql/least-privilege-role.sql
 * itself, as a user pastes it into Supabase's SQL Editor: plain SQL over the simple query protocol,
 * with only its two settings (role name and password) filled in. So every test run proves the
 * script users are told to run.
 */
import { readFile } from 'node:fs/promises';
import type postgres from 'postgres';

const SCRIPT = new URL('../sql/least-privilege-role.sql', import.meta.url);

/** SQL string literal. */
const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** The script with `name` and `password` in place of its defaults, as a user would edit it. */
export async function loginRoleScript(name: string, password: string): Promise<string> {
  const script = await readFile(SCRIPT, 'utf8');
  const filled = script
    .replace("role_name     text := 'mcp_login';", `role_name     text := ${literal(name)};`)
    .replace(
      "role_password text := 'CHANGE-ME-to-a-long-random-password';",
      `role_password text := ${literal(password)};`,
    )
    .replace("WHERE r.rolname = 'mcp_login';", `WHERE r.rolname = ${literal(name)};`);
  if (!filled.includes(literal(password)))
    throw new Error(`${SCRIPT.pathname}: the role_password line changed; update dev/login-role.ts`);
  return filled;
}

/**
 * Creates the role, or brings an existing one back to least privilege (new password, NOINHERIT,
 * memberships other than `authenticated` revoked). Throws (the script's error) if an existing role
 * carries attributes that only a superuser could remove.
 */
export async function createLoginRole(sql: postgres.Sql, name: string, password: string): Promise<void> {
  await sql.unsafe(await loginRoleScript(name, password)).simple();
}
