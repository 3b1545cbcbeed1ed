/**
 * `npm run doctor` (src/doctor/, scripts/doctor.ts) against the local Supabase Auth stand-in and
 * the fixture database, configured right and configured wrong in each way an operator can get it
 * wrong; every diagnosis is asserted by its code and the text that tells the operator what to do.
 * Run: node --import tsx test/run.ts test/doctor.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { startAuthServer, type RunningAuthServer } from '../dev/auth/server.js';
import { DEMO_USERS } from '../dev/seed.js';
import {
  classifyDatabaseUrl,
  runDoctor,
  type CheckResult,
  type DoctorOptions,
  type DoctorReport,
} from '../src/doctor/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { asMintUser, startStack } from './support/stack.js';

const user = asMintUser(DEMO_USERS[1]!);

function check(report: DoctorReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  assert.ok(found, `no check ${id}`);
  return found;
}

function failures(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}:${c.code}`);
}

let db: TestDatabase;
let auth: RunningAuthServer;
let probeClientId: string;
const REDIRECT = 'http://127.0.0.1:9/callback';

before(async () => {
  db = await createTestDatabase('doctor');
  auth = await startAuthServer({ sql: db.admin });
  const client = await auth.registerClient({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
  probeClientId = String(client.client_id);
});

after(async () => {
  await auth?.stop();
  await db?.drop();
});

const doctor = (env: Record<string, string>, extra: Partial<DoctorOptions> = {}) =>
  runDoctor({ env: { SUPABASE_URL: auth.projectUrl, DATABASE_URL: db.loginUrl, ...env }, timeoutMs: 3_000, ...extra });

describe('configured right', () => {
  test('every check passes, with a valid token and an observable authorization path', async () => {
    const token = await auth.mintAccessToken(user);
    const report = await doctor({}, { token, authorizeProbe: { clientId: probeClientId, redirectUri: REDIRECT } });
    assert.deepEqual(failures(report), []);
    // edge_function judges Edge Function deployments only (test/edge/doctor-edge.test.ts).
    for (const c of report.checks)
      assert.equal(c.status, c.id === 'edge_function' ? 'skip' : 'pass', `${c.id}: ${c.found}`);
    assert.match(check(report, 'database_connect').found, /Connected as "mcp_login"/);
    assert.match(check(report, 'authorization_path').found, /\/#\/oauth\/consent\?authorization_id=…/);
    assert.match(check(report, 'token').found, new RegExp(`sub ${user.id}, client_id ${auth.defaultClientId}`));
    assert.ok(report.ok);
    // The token never appears in the report.
    assert.ok(!JSON.stringify(report).includes(token));
  });

  test('without a probe client the authorization path is reported as not observable, with the manual check', async () => {
    const report = await doctor({}, { only: ['authorization_path'] });
    const c = check(report, 'authorization_path');
    assert.equal(c.status, 'skip');
    assert.match(c.found, /Authorization Path" = \/#\/oauth\/consent/);
  });
});

describe('Supabase Auth configured wrong', () => {
  test('dynamic registration off → DCR_DISABLED with the dashboard switch', async () => {
    const off = await startAuthServer({ sql: db.admin, dynamicRegistration: false });
    try {
      const report = await doctor({ SUPABASE_URL: off.projectUrl });
      const c = check(report, 'dynamic_registration');
      assert.equal(c.code, 'DCR_DISABLED');
      assert.match(c.found, /no registration_endpoint and the register endpoint answers 403/);
      assert.match(c.fix!, /Authentication → OAuth Server: turn on "Allow dynamic client registration"/);
      assert.deepEqual(failures(report), ['dynamic_registration:DCR_DISABLED']);
    } finally {
      await off.stop();
    }
  });

  test('legacy HS256 secret only → JWKS_LEGACY_ONLY with the rotation steps; its tokens are refused by alg', async () => {
    const legacy = await startAuthServer({
      sql: db.admin,
      legacyHs256Secret: 'super-secret-jwt-token-with-at-least-32-characters',
    });
    try {
      const token = await legacy.mintAccessToken(user);
      const report = await doctor({ SUPABASE_URL: legacy.projectUrl }, { token });
      const c = check(report, 'jwks');
      assert.equal(c.code, 'JWKS_LEGACY_ONLY');
      assert.match(c.found, /lists 0 key\(s\).*Auth signs with HS256/);
      assert.match(c.fix!, /Project Settings → JWT Keys.*"Create standby key".*"Rotate keys"/);
      const t = check(report, 'token');
      assert.equal(t.code, 'TOKEN_ALGORITHM_NOT_ALLOWED');
      assert.match(t.found, /header alg = "HS256"/);
      assert.ok(!JSON.stringify(report).includes(token));
    } finally {
      await legacy.stop();
    }
  });

  test('OAuth server disabled (no suffix metadata) → OAUTH_SERVER_DISABLED', async () => {
    // A gateway in front of the stand-in that answers 404 for the suffix form, as Supabase does
    // while the OAuth server is off.
    const proxy = createHttpServer(async (req, res) => {
      if (req.url === '/auth/v1/.well-known/oauth-authorization-server') {
        res
          .writeHead(404, { 'Content-Type': 'application/json' })
          .end('{"code":404,"error_code":"not_found","msg":"Not found"}');
        return;
      }
      const upstream = await fetch(`${auth.projectUrl}${req.url}`, { method: req.method });
      const body = await upstream.text();
      res
        .writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'text/plain' })
        .end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const report = await doctor({ SUPABASE_URL: url }, { only: ['oauth_server', 'as_metadata', 'issuer'] });
      const c = check(report, 'oauth_server');
      assert.equal(c.code, 'OAUTH_SERVER_DISABLED');
      assert.match(c.found, /HTTP 404: the OAuth 2.1 server is not enabled/);
      assert.match(
        c.fix!,
        /Authentication → OAuth Server: enable "OAuth 2.1 server".*Authorization Path" to \/#\/oauth\/consent/,
      );
      assert.equal(check(report, 'as_metadata').status, 'pass');
      // The proxy's URL is not the issuer the metadata names.
      assert.equal(check(report, 'issuer').code, 'ISSUER_MISMATCH');
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  test('a registration endpoint that answers 404 → DCR_UNCONFIRMED, not a pass', async () => {
    // A gateway in front of the stand-in, under its own URL (so the issuer matches), that drops
    // the registration route while the metadata still advertises it.
    let url = '';
    const gateway = createHttpServer(async (req, res) => {
      if (req.method === 'POST' && req.url === '/auth/v1/oauth/clients/register') {
        res.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>Not Found</h1>');
        return;
      }
      const upstream = await fetch(`${auth.projectUrl}${req.url}`, { method: req.method, redirect: 'manual' });
      const body = (await upstream.text()).replaceAll(auth.projectUrl, url);
      res
        .writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'text/plain' })
        .end(body);
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    try {
      url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
      const report = await doctor({ SUPABASE_URL: url });
      const c = check(report, 'dynamic_registration');
      assert.equal(c.status, 'fail');
      assert.equal(c.code, 'DCR_UNCONFIRMED');
      assert.ok(
        c.found.includes(
          `registration_endpoint ${url}/auth/v1/oauth/clients/register, but a registration there answered HTTP 404`,
        ),
        c.found,
      );
      assert.match(c.fix!, /drops POST \/auth\/v1\/oauth\/clients\/register/);
      assert.deepEqual(failures(report), ['dynamic_registration:DCR_UNCONFIRMED']);
    } finally {
      await new Promise((r) => gateway.close(r));
    }
  });

  test('SUPABASE_URL nobody answers at → SUPABASE_UNREACHABLE, dependent checks skipped', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const report = await doctor({ SUPABASE_URL: `http://127.0.0.1:${port}` });
    const c = check(report, 'supabase_url');
    assert.equal(c.code, 'SUPABASE_UNREACHABLE');
    assert.match(c.found, /nothing listens at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.match(c.fix!, /Project Settings → API/);
    for (const id of ['as_metadata', 'oauth_server', 'dynamic_registration', 'issuer', 'jwks'])
      assert.equal(check(report, id).status, 'skip');
    assert.equal(check(report, 'database_connect').status, 'pass');
    assert.equal(report.ok, false);
  });

  test('SUPABASE_URL for another name of the host → ISSUER_MISMATCH naming the right value', async () => {
    const other = auth.projectUrl.replace('127.0.0.1', 'localhost');
    const report = await doctor({ SUPABASE_URL: other });
    const c = check(report, 'issuer');
    assert.equal(c.code, 'ISSUER_MISMATCH');
    assert.ok(
      c.found.includes(`expects tokens from ${other}/auth/v1 but Supabase Auth says its issuer is ${auth.issuer}`),
    );
    assert.equal(c.fix, `Set SUPABASE_URL=${auth.projectUrl} (a custom domain changes the issuer).`);
  });

  test('SUPABASE_URL with /rest/v1 or a dashboard address → the project URL to use', async () => {
    let report = await doctor({ SUPABASE_URL: `${auth.projectUrl}/rest/v1` }, { only: ['config'] });
    assert.equal(check(report, 'config').code, 'SUPABASE_URL_HAS_PATH');
    assert.equal(
      check(report, 'config').fix,
      `Set SUPABASE_URL=${auth.projectUrl} (the project URL, without /rest/v1).`,
    );
    report = await doctor(
      { SUPABASE_URL: 'https://supabase.com/dashboard/project/abcdefghijkl' },
      { only: ['config'] },
    );
    assert.equal(check(report, 'config').code, 'SUPABASE_URL_IS_DASHBOARD');
    assert.match(check(report, 'config').fix!, /https:\/\/abcdefghijkl\.supabase\.co/);
  });
});

describe('database configured wrong', () => {
  test('wrong password → DB_PASSWORD (28P01) with the reset and percent-encoding advice; the password is masked', async () => {
    const url = new URL(db.loginUrl);
    url.password = 'not-the-password';
    const report = await doctor({ DATABASE_URL: url.href });
    const c = check(report, 'database_connect');
    assert.equal(c.code, 'DB_PASSWORD');
    assert.match(c.found, /Password authentication failed for user "mcp_login" \(28P01/);
    assert.match(c.fix!, /ALTER ROLE mcp_login PASSWORD/);
    assert.match(c.fix!, /@ → %40/);
    assert.ok(!JSON.stringify(report).includes('not-the-password'));
    for (const id of ['login_role', 'authenticated_role', 'rls', 'crm_tables'])
      assert.equal(check(report, id).status, 'skip');
  });

  test('a pooler answering "Tenant or user not found" (XX000) → DB_TENANT_NOT_FOUND', async () => {
    const pooler = await fakePooler();
    try {
      const report = await doctor({ DATABASE_URL: `postgresql://mcp_login:pw@127.0.0.1:${pooler.port}/postgres` });
      const c = check(report, 'database_connect');
      assert.equal(c.code, 'DB_TENANT_NOT_FOUND');
      assert.match(c.found, /"Tenant or user not found".*wrong form for this host/);
      assert.match(c.fix!, /Dashboard → Connect/);
      assert.ok(pooler.startups.some((s) => s.user === 'mcp_login'));
    } finally {
      await pooler.stop();
    }
  });

  test('pooler host with a plain user, direct host with user.REF → the user form each needs', async () => {
    let report = await doctor(
      {
        SUPABASE_URL: auth.projectUrl,
        DATABASE_URL: 'postgresql://mcp_login:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres',
      },
      { only: ['database_url_format'] },
    );
    let c = check(report, 'database_url_format');
    assert.equal(c.code, 'DB_USER_FORMAT_DIRECT_ON_POOLER');
    assert.match(c.found, /transaction mode/);
    assert.match(c.fix!, /Use user "mcp_login\.YOUR-REF"/);

    report = await doctor(
      { DATABASE_URL: 'postgresql://mcp_login.abcdefghijkl:pw@db.abcdefghijkl.supabase.co:5432/postgres' },
      { only: ['database_url_format'] },
    );
    c = check(report, 'database_url_format');
    assert.equal(c.code, 'DB_USER_FORMAT_POOLER_ON_DIRECT');
    assert.match(c.fix!, /Use user "mcp_login" with db\.abcdefghijkl\.supabase\.co/);

    assert.equal(
      classifyDatabaseUrl('postgresql://u.ref:p@aws-0-us-east-1.pooler.supabase.com:5432/postgres')!.kind,
      'pooler-session',
    );
    assert.equal(
      classifyDatabaseUrl('postgresql://u.ref:p@aws-0-us-east-1.pooler.supabase.com:6543/postgres')!.kind,
      'pooler-transaction',
    );
    assert.equal(classifyDatabaseUrl('postgresql://u:p@db.ref.supabase.co/postgres')!.kind, 'direct');
  });

  test('IPv6-only direct host unreachable from here → DB_IPV6_ONLY with the pooler string', async () => {
    const report = await doctor(
      { DATABASE_URL: 'postgresql://mcp_login:pw@db.abcdefghijkl.supabase.co:5432/postgres' },
      { resolve: async () => ({ v4: [], v6: ['2a05:d014:1c06:5f0e::1'] }), only: ['database_connect'] },
    );
    const c = check(report, 'database_connect');
    assert.equal(c.code, 'DB_IPV6_ONLY');
    assert.match(c.found, /db\.abcdefghijkl\.supabase\.co is IPv6-only \(DNS: 1 AAAA, 0 A record\(s\)\)/);
    assert.match(
      c.fix!,
      /postgresql:\/\/mcp_login\.abcdefghijkl:PASSWORD@aws-0-REGION\.pooler\.supabase\.com:6543\/postgres/,
    );
  });

  test('superuser login role → LOGIN_ROLE_PRIVILEGED with the least-privilege fix', async () => {
    const report = await doctor({ DATABASE_URL: db.adminUrl });
    const c = check(report, 'login_role');
    assert.equal(c.code, 'LOGIN_ROLE_PRIVILEGED');
    assert.match(c.found, /"postgres" is a superuser/);
    assert.match(c.fix!, /npm run login-role-sql/);
    assert.ok(!JSON.stringify(report).includes(`:${new URL(db.adminUrl).password}@`), 'the admin password is masked');
  });

  test('a table with RLS off and missing CRM tables are listed by name', async () => {
    const broken = await createTestDatabase('doctor_broken');
    try {
      await broken.admin.unsafe(
        'create table public.scratch_notes (id int); alter table public.tags rename to tags_old; drop table public.deal_notes cascade',
      );
      const report = await doctor({ DATABASE_URL: broken.loginUrl });
      const rls = check(report, 'rls');
      assert.equal(rls.code, 'RLS_DISABLED');
      assert.match(rls.found, /table\(s\) in public have RLS off: scratch_notes\./);
      assert.match(rls.fix!, /alter table public\.scratch_notes enable row level security;/);
      const crm = check(report, 'crm_tables');
      assert.equal(crm.code, 'CRM_TABLES_MISSING');
      assert.equal(crm.found, 'Missing from schema public: deal_notes, tags.');
    } finally {
      await broken.drop();
    }
  });
});

describe('token diagnosis', () => {
  test('wrong issuer → TOKEN_ISSUER_INVALID naming both values', async () => {
    const token = await auth.mintAccessToken(user, { iss: 'https://other-project.supabase.co/auth/v1' });
    const report = await doctor({}, { token, only: ['token'] });
    const c = check(report, 'token');
    assert.equal(c.code, 'TOKEN_ISSUER_INVALID');
    assert.ok(
      c.found.includes(`claim iss = "https://other-project.supabase.co/auth/v1", the server expects "${auth.issuer}"`),
    );
    assert.ok(!JSON.stringify(report).includes(token));
  });

  test('no client_id (web-app session token) → TOKEN_NOT_FOR_OAUTH_CLIENT; accepted with ALLOW_SESSION_TOKENS', async () => {
    const token = await auth.mintAccessToken(user, { clientId: null });
    let c = check(await doctor({}, { token, only: ['token'] }), 'token');
    assert.equal(c.code, 'TOKEN_NOT_FOR_OAUTH_CLIENT');
    assert.match(c.found, /claim client_id is absent/);
    assert.match(c.fix!, /ALLOW_SESSION_TOKENS=true/);
    c = check(await doctor({ ALLOW_SESSION_TOKENS: 'true' }, { token, only: ['token'] }), 'token');
    assert.equal(c.status, 'pass');
    assert.match(c.found, /client_id \(none: session token\)/);
  });

  test('expired token → TOKEN_EXPIRED with the exp claim', async () => {
    const token = await auth.mintAccessToken(user, { expiresIn: -600 });
    const c = check(await doctor({}, { token, only: ['token'] }), 'token');
    assert.equal(c.code, 'TOKEN_EXPIRED');
    assert.match(c.found, /claim exp = \d+ \(\d{4}-/);
  });
});

describe('/readyz?details=1', () => {
  test("the doctor's verdicts as codes only (no table, role or host names), cached", async () => {
    const stack = await startStack();
    try {
      await stack.db.admin.unsafe('create table public.unprotected_stuff (id int)');
      const plain = await fetch(`${stack.baseUrl}/readyz`);
      assert.equal(plain.status, 200);
      assert.equal(((await plain.json()) as Record<string, unknown>).doctor, undefined);

      const response = await fetch(`${stack.baseUrl}/readyz?details=1`);
      assert.equal(response.status, 200);
      const text = await response.text();
      const body = JSON.parse(text) as {
        status: string;
        doctor: { ok: boolean; checks: { id: string; status: string; code: string }[] };
      };
      assert.equal(body.status, 'ready');
      const byId = Object.fromEntries(body.doctor.checks.map((c) => [c.id, c]));
      assert.deepEqual(byId.jwks, { id: 'jwks', status: 'pass', code: 'OK' });
      assert.deepEqual(byId.issuer, { id: 'issuer', status: 'pass', code: 'OK' });
      assert.deepEqual(byId.login_role, { id: 'login_role', status: 'pass', code: 'OK' });
      assert.deepEqual(byId.rls, { id: 'rls', status: 'fail', code: 'RLS_DISABLED' });
      assert.equal(body.doctor.ok, false);
      for (const secret of ['unprotected_stuff', 'mcp_login', '127.0.0.1', stack.db.name, 'postgres']) {
        assert.ok(!text.includes(secret), `readyz details leak ${secret}`);
      }
      // Cached: fixing the table does not change the answer within the minute.
      await stack.db.admin.unsafe('alter table public.unprotected_stuff enable row level security');
      const again = (await (await fetch(`${stack.baseUrl}/readyz?details=1`)).json()) as typeof body;
      assert.deepEqual(again.doctor, body.doctor);
    } finally {
      await stack.stop();
    }
  });
});

describe('CLI (scripts/doctor.ts)', () => {
  const run = (env: Record<string, string>, args: string[] = []) =>
    new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'scripts/doctor.ts', '--dotenv=/nonexistent', ...args],
        {
          env: { PATH: process.env.PATH ?? '', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, out }));
    });

  test('all good → exit 0, a PASS line per check, token verified but never printed', async () => {
    const token = await auth.mintAccessToken(user);
    const { code, out } = await run({ SUPABASE_URL: auth.projectUrl, DATABASE_URL: db.loginUrl }, [`--token=${token}`]);
    assert.equal(code, 0, out);
    assert.match(out, /\[PASS\] Asymmetric JWT signing key \(JWKS\)/);
    assert.match(out, /\[PASS\] Access token accepted by the server/);
    assert.match(out, /All checks passed/);
    assert.ok(!out.includes(token));
  });

  test('privileged login role → exit 1, FAIL with the code, the fix and the SQL to run', async () => {
    const { code, out } = await run({ SUPABASE_URL: auth.projectUrl, DATABASE_URL: db.adminUrl });
    assert.equal(code, 1, out);
    assert.match(out, /\[FAIL\] Login role is least-privilege \(LOGIN_ROLE_PRIVILEGED\)/);
    assert.match(out, /fix: Create a least-privilege login role/);
    assert.match(out, /\| +EXECUTE format\('CREATE ROLE %I WITH LOGIN NOINHERIT PASSWORD %L'/);
    assert.match(out, /1 check\(s\) failed/);
  });
});

/** A TCP server speaking just enough of the PostgreSQL protocol to refuse like Supavisor does. */
async function fakePooler(): Promise<{ port: number; startups: Record<string, string>[]; stop(): Promise<void> }> {
  const startups: Record<string, string>[] = [];
  const server: Server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk as Buffer]);
      if (buffer.length < 8) return;
      const length = buffer.readInt32BE(0);
      if (buffer.length < length) return;
      const code = buffer.readInt32BE(4);
      if (code === 80877103) {
        // SSLRequest: no TLS here.
        socket.write('N');
        buffer = buffer.subarray(8);
        return;
      }
      const params = buffer.subarray(8, length).toString('utf8').split('\0');
      const startup: Record<string, string> = {};
      for (let i = 0; i + 1 < params.length; i += 2) if (params[i]) startup[params[i]!] = params[i + 1]!;
      startups.push(startup);
      const fields = Buffer.from('SFATAL\0VFATAL\0CXX000\0MTenant or user not found\0\0', 'utf8');
      const header = Buffer.alloc(5);
      header.write('E', 0);
      header.writeInt32BE(fields.length + 4, 1);
      socket.end(Buffer.concat([header, fields]));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    startups,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
