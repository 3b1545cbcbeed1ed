-- A least-privilege LOGIN role for the Atomic CRM MCP server (PostgREST's pattern).
--
-- Paste it into Supabase's SQL Editor (or run it with psql as `postgres` or a superuser), after
-- setting the password below. It runs as plain SQL on PostgreSQL 15, 16 and 17.
--
-- The server logs in as this role and runs each request as `authenticated` (SET LOCAL ROLE plus the
-- user's JWT claims), so Row Level Security decides what every request sees. The role itself:
--   * is NOINHERIT and a member of `authenticated` only: it cannot become postgres, service_role or
--     anon, and after RESET ROLE it has no table privileges at all;
--   * owns nothing and is granted nothing directly.
-- Its statement_timeout applies at login only; the server still sets one per transaction, because
-- after SET ROLE the role settings of `authenticated` are not applied (docs/supabase-auth.md).
--
-- Re-running it is safe: an existing role gets the attributes, password and membership again, and
-- loses any other role membership. A role that already has powers only a superuser can remove
-- (superuser, bypassrls, createrole, createdb, replication) is refused.
-- Then connect the server with postgresql://mcp_login:<password>@db.<ref>.supabase.co:5432/postgres
-- (Supavisor pooler: user `mcp_login.<ref>`).

DO $login_role$
DECLARE
  role_name     text := 'mcp_login';
  role_password text := 'CHANGE-ME-to-a-long-random-password';
  existing      pg_roles;
  other         text;
BEGIN
  IF role_password LIKE 'CHANGE-ME%' OR length(role_password) < 16 THEN
    RAISE EXCEPTION 'set role_password at the top of this script to a long random password (16+ characters)';
  END IF;

  SELECT * INTO existing FROM pg_roles WHERE rolname = role_name;
  IF NOT FOUND THEN
    EXECUTE format('CREATE ROLE %I WITH LOGIN NOINHERIT PASSWORD %L', role_name, role_password);
  ELSIF existing.rolsuper OR existing.rolbypassrls OR existing.rolcreaterole OR existing.rolcreatedb OR existing.rolreplication THEN
    RAISE EXCEPTION 'role % already exists with superuser, bypassrls, createrole, createdb or replication: refusing to use it as the login role', role_name
      USING HINT = 'Pick another role_name, or drop that role first.';
  ELSE
    EXECUTE format('ALTER ROLE %I WITH LOGIN NOINHERIT PASSWORD %L', role_name, role_password);
  END IF;

  -- Least privilege also means no other memberships (e.g. left by an earlier, broader setup).
  FOR other IN
    SELECT g.rolname FROM pg_auth_members m
    JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
    WHERE r.rolname = role_name AND g.rolname <> 'authenticated'
  LOOP
    EXECUTE format('REVOKE %I FROM %I', other, role_name);
  END LOOP;

  IF current_setting('server_version_num')::int >= 160000 THEN
    -- PG16+: membership options are per grant; INHERIT FALSE keeps privileges out of the login
    -- session itself, SET TRUE allows SET ROLE authenticated.
    EXECUTE format('GRANT authenticated TO %I WITH INHERIT FALSE, SET TRUE', role_name);
  ELSE
    -- PG15 (no per-grant options): the role's own NOINHERIT attribute has the same effect.
    EXECUTE format('GRANT authenticated TO %I', role_name);
  END IF;

  EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', role_name, '8s');
END
$login_role$;

-- Check: expect rolinherit = false, no superuser/bypassrls/createrole/createdb, member_of = {authenticated}.
SELECT r.rolname, r.rolinherit, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of
FROM pg_roles r
WHERE r.rolname = 'mcp_login';
