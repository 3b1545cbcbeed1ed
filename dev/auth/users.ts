/**
 * Users are the rows of `auth.users` in a real PostgreSQL database; passwords are checked with
 * pgcrypto's `crypt`, as GoTrue's bcrypt hashes are. Also the OIDC userinfo claims of a user.
 */
import type postgres from 'postgres';
import { UUID_RE } from './http.js';
import type { MintUser } from './types.js';

export interface DbUser {
  id: string;
  email: string | null;
  phone: string | null;
  raw_user_meta_data: Record<string, unknown> | null;
  raw_app_meta_data: Record<string, unknown> | null;
  banned_until: string | null;
  is_anonymous: boolean | null;
  email_confirmed_at?: string | null;
  phone_confirmed_at?: string | null;
  updated_at?: string | null;
}

export function isBanned(user: DbUser): boolean {
  const b = user.banned_until;
  if (b === null || b === undefined) return false;
  if (b === 'infinity') return true;
  if (b === '-infinity') return false;
  const t = Date.parse(b);
  return Number.isFinite(t) && t > Date.now();
}

function normalizeUser(row: Record<string, unknown>): DbUser {
  return {
    ...(row as unknown as DbUser),
    id: String(row.id),
    email: (row.email as string | null) ?? null,
    phone: (row.phone as string | null) ?? null,
    raw_user_meta_data: (row.raw_user_meta_data as Record<string, unknown> | null) ?? null,
    raw_app_meta_data: (row.raw_app_meta_data as Record<string, unknown> | null) ?? null,
    banned_until: (row.banned_until as string | null) ?? null,
    is_anonymous: (row.is_anonymous as boolean | null) ?? null,
  };
}

export interface Users {
  findById(id: string): Promise<DbUser | undefined>;
  findByEmail(email: string): Promise<DbUser | undefined>;
  /** The user if the password matches their bcrypt hash, else undefined. */
  checkPassword(email: string, password: string): Promise<DbUser | undefined>;
}

export function usersOf(sql: postgres.Sql): Users {
  let cryptSchema: string | undefined;
  async function pgcryptoSchema(): Promise<string> {
    if (cryptSchema) return cryptSchema;
    const rows = await sql<{ nspname: string }[]>`
      select n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.proname = 'crypt' and p.pronargs = 2
      order by (n.nspname = 'extensions') desc, (n.nspname = 'public') desc limit 1`;
    if (!rows[0]) throw new Error('pgcrypto is not installed in the database (needed for crypt())');
    cryptSchema = rows[0].nspname;
    return cryptSchema;
  }

  return {
    async findById(id) {
      if (!UUID_RE.test(id)) return undefined;
      const rows = await sql<{ u: Record<string, unknown> }[]>`
        select to_jsonb(u) - 'encrypted_password' as u from auth.users u where u.id = ${id}::uuid`;
      return rows[0] ? normalizeUser(rows[0].u) : undefined;
    },
    async findByEmail(email) {
      const rows = await sql<{ u: Record<string, unknown> }[]>`
        select to_jsonb(u) - 'encrypted_password' as u from auth.users u
        where lower(u.email) = lower(${email}) order by u.id limit 1`;
      return rows[0] ? normalizeUser(rows[0].u) : undefined;
    },
    async checkPassword(email, password) {
      const schema = await pgcryptoSchema();
      const rows = await sql<{ u: Record<string, unknown>; ok: boolean }[]>`
        select to_jsonb(u) - 'encrypted_password' as u,
               coalesce(case when left(u.encrypted_password, 2) = '$2'
                             then ${sql(schema)}.crypt(${password}, u.encrypted_password) = u.encrypted_password
                             else false end, false) as ok
        from auth.users u where lower(u.email) = lower(${email}) order by u.id limit 1`;
      const row = rows[0];
      return row?.ok ? normalizeUser(row.u) : undefined;
    },
  };
}

export function mintUserFromDb(u: DbUser): MintUser {
  return {
    id: u.id,
    email: u.email,
    phone: u.phone,
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    is_anonymous: u.is_anonymous ?? false,
  };
}

/** OIDC userinfo claims filtered by scope (GoTrue's OAuthUserInfo). */
export function userInfoClaims(user: DbUser, scopes: string[] | undefined): Record<string, unknown> {
  const info: Record<string, unknown> = { sub: user.id };
  if (!scopes) return info;
  const meta = user.raw_user_meta_data ?? {};
  if (scopes.includes('email')) {
    if (user.email) info.email = user.email;
    if (user.email_confirmed_at) info.email_verified = true;
  }
  if (scopes.includes('profile')) {
    const str = (k: string) => (typeof meta[k] === 'string' && meta[k] !== '' ? (meta[k] as string) : undefined);
    const name = str('name') ?? (user.email || undefined);
    if (name) info.name = name;
    const picture = str('picture') ?? str('avatar_url');
    if (picture) info.picture = picture;
    const username = str('preferred_username') ?? str('username');
    if (username) info.preferred_username = username;
    if (user.updated_at) {
      const t = Date.parse(user.updated_at);
      if (Number.isFinite(t)) info.updated_at = Math.floor(t / 1000);
    }
    info.user_metadata = meta;
  }
  if (scopes.includes('phone')) {
    if (user.phone) info.phone = user.phone;
    if (user.phone_confirmed_at) info.phone_verified = true;
  }
  return info;
}
