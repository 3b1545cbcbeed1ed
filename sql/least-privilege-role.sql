-- A least-privilege LOGIN role for the Atomic CRM MCP server (PostgREST's pattern).
--
-- The server logs in as this role and runs each request as `authenticated` (SET LOCAL ROLE plus the
-- user's JWT claims), so Row Level Security decides what every request sees. The role itself:
--   * is NOINHERIT and a member of `authenticated` only: it cannot become postgres, service_role or
--     anon, and after RESET ROLE it has no table privileges at all;
--   * owns nothing and is granted nothing directly.
-- Its statement_timeout applies at login only; the server still sets one per transaction, because
-- after SET ROLE the role settings of `authenticated` are not applied (shared/facts/supabase.md).
--
-- Run as `postgres` (Supabase) or a superuser. psql variables (no DO block: psql does not
-- substitute variables inside dollar quotes):
--
--   psql "$ADMIN_DATABASE_URL" -v ON_ERROR_STOP=1 \
--        -v role=mcp_login -v password="$MCP_DB_PASSWORD" -f sql/least-privilege-role.sql
--
-- Re-running it is safe: an existing role gets the attributes, password and membership again, and
-- loses any other role membership.
-- Then connect the server with postgres://mcp_login:<password>@<host>/postgres
-- (Supavisor: user `mcp_login.<project-ref>`).

\set ON_ERROR_STOP on

SELECT current_setting('server_version_num')::int >= 160000 AS pg16,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') AS role_missing
\gset

\if :role_missing
CREATE ROLE :"role" WITH LOGIN NOINHERIT PASSWORD :'password';
\else
ALTER ROLE :"role" WITH LOGIN NOINHERIT PASSWORD :'password';
\endif

-- Least privilege also means no other memberships (e.g. left by an earlier, broader setup).
SELECT format('REVOKE %I FROM %I', g.rolname, r.rolname)
FROM pg_auth_members m
JOIN pg_roles g ON g.oid = m.roleid
JOIN pg_roles r ON r.oid = m.member
WHERE r.rolname = :'role' AND g.rolname <> 'authenticated'
\gexec

\if :pg16
-- PG16+: membership options are per grant; INHERIT FALSE keeps privileges out of the login
-- session itself, SET TRUE allows SET ROLE authenticated.
GRANT authenticated TO :"role" WITH INHERIT FALSE, SET TRUE;
\else
-- PG15 (no per-grant options): the role's own NOINHERIT attribute has the same effect.
GRANT authenticated TO :"role";
\endif

ALTER ROLE :"role" SET statement_timeout = '8s';

-- Check: expect rolinherit = f, no superuser/bypassrls/createrole/createdb, member_of = {authenticated}.
SELECT r.rolname, r.rolinherit, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid ORDER BY 1) AS member_of
FROM pg_roles r
WHERE r.rolname = :'role';
