/**
 * Tests of dev/auth/, the local stand-in for Supabase Auth's OAuth 2.1 server.
 *
 * Runs against a real PostgreSQL (dev/postgres.ts: temp dir, free port) with a minimal
 * `auth.users` table and pgcrypto, the columns the stand-in reads.
 * Run: node --import tsx test/run.ts test/dev/auth.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { startPostgres } from '../../dev/postgres.js';

const FETCH_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Database

interface TestDb {
  sql: postgres.Sql;
  stop(): Promise<void>;
}

/** Real PostgreSQL (dev/postgres.ts) with the `auth.users` columns the stand-in reads, and pgcrypto
 *  in schema `extensions` as on Supabase. Replace with test/support/database.ts once it exists. */
async function startDatabase(): Promise<TestDb> {
  const pg = await startPostgres();
  const sql = postgres(pg.adminUrl, { max: 4, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql.unsafe(`
      create schema extensions;
      create extension pgcrypto with schema extensions;
      create schema auth;
      create table auth.users (
        id uuid primary key default gen_random_uuid(),
        email text,
        encrypted_password text,
        phone text,
        raw_user_meta_data jsonb,
        raw_app_meta_data jsonb,
        banned_until timestamptz,
        is_anonymous boolean not null default false,
        email_confirmed_at timestamptz,
        updated_at timestamptz default now()
      );
    `);
  } catch (error) {
    await sql.end({ timeout: 5 });
    await pg.stop();
    throw error;
  }
  return {
    sql,
    async stop() {
      await sql.end({ timeout: 5 });
      await pg.stop();
    },
  };
}

interface TestUser {
  id: string;
  email: string;
  password: string;
}

async function createUser(
  sql: postgres.Sql,
  email: string,
  password: string,
  extra: { phone?: string; banned?: boolean; userMeta?: object; appMeta?: object } = {},
): Promise<TestUser> {
  const [row] = await sql<{ id: string }[]>`
    insert into auth.users (email, encrypted_password, phone, raw_user_meta_data, raw_app_meta_data, banned_until, email_confirmed_at)
    values (${email}, extensions.crypt(${password}, extensions.gen_salt('bf')), ${extra.phone ?? null},
            ${sql.json((extra.userMeta ?? {}) as postgres.JSONValue)},
            ${sql.json((extra.appMeta ?? { provider: 'email', providers: ['email'] }) as postgres.JSONValue)},
            ${extra.banned ? sql`now() + interval '1 day'` : null}, now())
    returning id`;
  return { id: row!.id, email, password };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

function req(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), ...init });
}

async function json(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url'); // 64 chars
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const REDIRECT = 'http://127.0.0.1:9/callback';

class Flow {
  constructor(readonly srv: RunningAuthServer) {}

  async register(body: Record<string, unknown>): Promise<{ status: number; body: any }> {
    const res = await req(`${this.srv.issuer}/oauth/clients/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await json(res) };
  }

  async publicClient(name = 'Test MCP client'): Promise<string> {
    const r = await this.register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: name });
    assert.equal(r.status, 201);
    return r.body.client_id;
  }

  authorizeUrl(params: Record<string, string | undefined>): string {
    const u = new URL(`${this.srv.issuer}/oauth/authorize`);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  }

  async authorize(params: Record<string, string | undefined>): Promise<Response> {
    return req(this.authorizeUrl(params));
  }

  /** Good authorize request → the authorization_id from the consent-page redirect. */
  async startAuthorization(clientId: string, challenge: string, extra: Record<string, string> = {}): Promise<string> {
    const res = await this.authorize({
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-123',
      ...extra,
    });
    assert.equal(res.status, 302);
    const location = res.headers.get('location')!;
    const prefix = `${this.srv.projectUrl}/#/oauth/consent?authorization_id=`;
    assert.ok(location.startsWith(prefix), location);
    return decodeURIComponent(location.slice(prefix.length));
  }

  async signIn(email: string, password: string): Promise<{ status: number; body: any }> {
    const res = await req(`${this.srv.issuer}/token?grant_type=password`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    return { status: res.status, body: await json(res) };
  }

  async details(
    authId: string,
    session: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: any }> {
    const res = await req(`${this.srv.issuer}/oauth/authorizations/${authId}`, {
      headers: { Authorization: `Bearer ${session}`, ...headers },
    });
    return { status: res.status, body: await json(res) };
  }

  async consent(
    authId: string,
    session: string,
    action: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: any }> {
    const res = await req(`${this.srv.issuer}/oauth/authorizations/${authId}/consent`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${session}`, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ action }),
    });
    return { status: res.status, body: await json(res) };
  }

  async token(
    params: Record<string, string>,
    headers: Record<string, string> = {},
    asJson = false,
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await req(`${this.srv.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': asJson ? 'application/json' : 'application/x-www-form-urlencoded', ...headers },
      body: asJson ? JSON.stringify(params) : new URLSearchParams(params).toString(),
    });
    return { status: res.status, body: await json(res), headers: res.headers };
  }

  /** Sign in, approve, return the code (and the session token used). */
  async approvedCode(
    user: TestUser,
    clientId: string,
    challenge: string,
    extra: Record<string, string> = {},
  ): Promise<string> {
    const authId = await this.startAuthorization(clientId, challenge, extra);
    const session = (await this.signIn(user.email, user.password)).body.access_token as string;
    const d = await this.details(authId, session);
    let redirectUrl: string;
    if (d.body.redirect_url) {
      redirectUrl = d.body.redirect_url; // consent already given
    } else {
      assert.equal(d.status, 200, JSON.stringify(d.body));
      const c = await this.consent(authId, session, 'approve');
      assert.equal(c.status, 200, JSON.stringify(c.body));
      redirectUrl = c.body.redirect_url;
    }
    const u = new URL(redirectUrl);
    assert.equal(`${u.origin}${u.pathname}`, REDIRECT);
    return u.searchParams.get('code')!;
  }

  async tokensFor(user: TestUser, clientId: string, extra: Record<string, string> = {}): Promise<any> {
    const { verifier, challenge } = pkce();
    const code = await this.approvedCode(user, clientId, challenge, extra);
    const t = await this.token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: clientId,
      code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return t.body;
  }
}

// ---------------------------------------------------------------------------------------------

let db: TestDb;
let srv: RunningAuthServer;
let flow: Flow;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const extraServers: RunningAuthServer[] = [];

async function extraServer(opts: Omit<Parameters<typeof startAuthServer>[0], 'sql'>): Promise<RunningAuthServer> {
  const s = await startAuthServer({ sql: db.sql, ...opts });
  extraServers.push(s);
  return s;
}

before(
  async () => {
    db = await startDatabase();
    alice = await createUser(db.sql, 'alice@example.com', 'alice-password-1', {
      userMeta: { first_name: 'Alice', last_name: 'Liddell' },
      appMeta: { provider: 'email', providers: ['email'] },
    });
    bob = await createUser(db.sql, 'bob@example.com', 'bob-password-1', { banned: true });
    carol = await createUser(db.sql, 'carol@example.com', 'carol-password-1', { phone: '15551234567' });
    srv = await startAuthServer({ sql: db.sql });
    flow = new Flow(srv);
  },
  { timeout: 60_000 },
);

after(
  async () => {
    for (const s of [srv, ...extraServers]) await s?.stop();
    await db?.stop();
  },
  { timeout: 30_000 },
);

const METADATA_FIELDS = [
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'registration_endpoint',
  'scopes_supported',
  'response_types_supported',
  'response_modes_supported',
  'grant_types_supported',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
  'token_endpoint_auth_methods_supported',
  'code_challenge_methods_supported',
].sort();

describe('discovery', { timeout: 30_000 }, () => {
  test('metadata is served at the three Supabase URLs with the exact fields', async () => {
    const urls = [
      `${srv.projectUrl}/.well-known/oauth-authorization-server/auth/v1`,
      `${srv.projectUrl}/auth/v1/.well-known/oauth-authorization-server`,
      `${srv.projectUrl}/auth/v1/.well-known/openid-configuration`,
    ];
    const docs = [];
    for (const url of urls) {
      const res = await req(url);
      assert.equal(res.status, 200, url);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      docs.push(await json(res));
    }
    assert.deepEqual(docs[1], docs[0]);
    assert.deepEqual(docs[2], docs[0]);
    const m = docs[0];
    assert.deepEqual(Object.keys(m).sort(), METADATA_FIELDS);
    const iss = `${srv.projectUrl}/auth/v1`;
    assert.equal(srv.issuer, iss);
    assert.equal(m.issuer, iss);
    assert.equal(m.authorization_endpoint, `${iss}/oauth/authorize`);
    assert.equal(m.token_endpoint, `${iss}/oauth/token`);
    assert.equal(m.jwks_uri, `${iss}/.well-known/jwks.json`);
    assert.equal(m.userinfo_endpoint, `${iss}/oauth/userinfo`);
    assert.equal(m.registration_endpoint, `${iss}/oauth/clients/register`);
    assert.deepEqual(m.scopes_supported, ['openid', 'profile', 'email', 'phone', 'offline_access']);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.deepEqual(m.grant_types_supported, ['authorization_code', 'refresh_token']);
    assert.deepEqual(m.token_endpoint_auth_methods_supported.sort(), [
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256', 'plain']);
    assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
    // Not a Supabase URL: the MCP SDK tries it second and must fall through to the third.
    assert.equal((await req(`${srv.projectUrl}/.well-known/openid-configuration/auth/v1`)).status, 404);
  });

  test('dynamic registration off: no registration_endpoint, register → 403', async () => {
    const s = await extraServer({ dynamicRegistration: false });
    const m = await json(await req(`${s.projectUrl}/.well-known/oauth-authorization-server/auth/v1`));
    assert.equal('registration_endpoint' in m, false);
    const res = await req(`${s.issuer}/oauth/clients/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT] }),
    });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).error_code, 'oauth_dynamic_client_registration_disabled');
  });

  test('JWKS: public ES256 key with kid/alg/use/key_ops and the cache header', async () => {
    const res = await req(`${srv.issuer}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=600');
    const jwks = await json(res);
    assert.equal(jwks.keys.length, 1);
    const [k] = jwks.keys;
    assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'key_ops', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(k.kty, 'EC');
    assert.equal(k.crv, 'P-256');
    assert.equal(k.alg, 'ES256');
    assert.equal(k.use, 'sig');
    assert.deepEqual(k.key_ops, ['verify']);
    assert.equal(typeof k.kid, 'string');
    assert.deepEqual(srv.jwks, jwks);
  });

  test('RS256 and legacy HS256 projects', async () => {
    const rs = await extraServer({ keyAlgorithm: 'RS256' });
    const jwks = await json(await req(`${rs.issuer}/.well-known/jwks.json`));
    assert.equal(jwks.keys[0].kty, 'RSA');
    assert.equal(jwks.keys[0].alg, 'RS256');
    assert.equal('d' in jwks.keys[0], false);
    const rsToken = await rs.mintAccessToken({ id: alice.id, email: alice.email });
    assert.equal(decodeProtectedHeader(rsToken).alg, 'RS256');
    await jwtVerify(rsToken, createLocalJWKSet(jwks), { issuer: rs.issuer, audience: 'authenticated' });

    const legacy = await extraServer({ legacyHs256Secret: 'super-secret-jwt-token-with-at-least-32-characters' });
    const res = await req(`${legacy.issuer}/.well-known/jwks.json`);
    assert.deepEqual(await json(res), { keys: [] });
    const hs = await legacy.mintAccessToken({ id: alice.id, email: alice.email });
    const header = decodeProtectedHeader(hs);
    assert.equal(header.alg, 'HS256');
    assert.equal(header.kid, undefined);
    await jwtVerify(hs, new TextEncoder().encode('super-secret-jwt-token-with-at-least-32-characters'));
  });
});

describe('dynamic client registration', { timeout: 30_000 }, () => {
  test('public client (token_endpoint_auth_method none)', async () => {
    const r = await flow.register({
      redirect_uris: [REDIRECT, 'http://localhost:3000/cb'],
      token_endpoint_auth_method: 'none',
      client_name: 'Pub',
    });
    assert.equal(r.status, 201);
    assert.match(r.body.client_id, /^[0-9a-f-]{36}$/);
    assert.equal(r.body.client_secret, undefined);
    assert.equal(r.body.client_type, 'public');
    assert.equal(r.body.token_endpoint_auth_method, 'none');
    assert.deepEqual(r.body.redirect_uris, [REDIRECT, 'http://localhost:3000/cb']);
    assert.deepEqual(r.body.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(r.body.response_types, ['code']);
    assert.equal(r.body.client_name, 'Pub');
    assert.equal(r.body.registration_type, 'dynamic');
  });

  test('confidential client by default, with a generated secret', async () => {
    const r = await flow.register({ redirect_uris: ['https://app.example.com/cb'] });
    assert.equal(r.status, 201);
    assert.equal(r.body.client_type, 'confidential');
    assert.equal(r.body.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(typeof r.body.client_secret, 'string');
    assert.ok(r.body.client_secret.length >= 32);
  });

  test('accepted redirect URIs: loopback http (localhost, 127.0.0.1, [::1]), https, custom scheme', async () => {
    for (const uri of [
      'http://localhost/cb',
      'http://127.0.0.1:8080/cb?x=1',
      'http://[::1]:8080/cb',
      'https://x.example/cb',
      'myapp://callback',
    ]) {
      const r = await flow.register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' });
      assert.equal(r.status, 201, `${uri}: ${JSON.stringify(r.body)}`);
    }
  });

  test('rejected redirect URIs → 400 invalid_redirect_uri', async () => {
    const bad: unknown[] = [
      undefined,
      [],
      ['/relative/cb'],
      ['https://x.example/cb#frag'],
      ['http://example.com/cb'],
      ['http://192.168.1.2/cb'],
      ['javascript://x/alert(1)'],
      ['data://x/y'],
      Array.from({ length: 11 }, (_, i) => `https://x.example/cb${i}`),
    ];
    for (const uris of bad) {
      const r = await flow.register(uris === undefined ? { client_name: 'x' } : { redirect_uris: uris });
      assert.equal(r.status, 400, JSON.stringify(uris));
      assert.equal(r.body.error, 'invalid_redirect_uri', JSON.stringify(uris));
      assert.equal(typeof r.body.error_description, 'string');
    }
    // Ten is the limit, not an error.
    const ten = await flow.register({
      redirect_uris: Array.from({ length: 10 }, (_, i) => `https://x.example/cb${i}`),
    });
    assert.equal(ten.status, 201);
  });

  test('bad metadata → 400 invalid_client_metadata', async () => {
    for (const body of [
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt' },
      { redirect_uris: [REDIRECT], grant_types: ['client_credentials'] },
      { redirect_uris: [REDIRECT], client_type: 'public', token_endpoint_auth_method: 'client_secret_post' },
      { redirect_uris: [REDIRECT], client_uri: 'not a url' },
    ]) {
      const r = await flow.register(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error, 'invalid_client_metadata', JSON.stringify(body));
    }
  });
});

describe('authorize', { timeout: 30_000 }, () => {
  let clientId: string;
  const { challenge } = pkce();
  before(async () => {
    clientId = await flow.publicClient();
  });
  const good = () => ({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'xyz',
  });

  test('untrusted client or redirect_uri → JSON 400, never a redirect', async () => {
    const cases: Record<string, string | undefined>[] = [
      { ...good(), client_id: undefined },
      { ...good(), client_id: 'not-a-uuid' },
      { ...good(), client_id: '00000000-0000-4000-8000-000000000000' },
      { ...good(), redirect_uri: undefined },
      { ...good(), redirect_uri: 'http://127.0.0.1:9/other' },
      { ...good(), redirect_uri: `${REDIRECT}/` },
      { ...good(), redirect_uri: 'https://evil.example/callback' },
    ];
    for (const params of cases) {
      const res = await flow.authorize(params);
      assert.equal(res.status, 400, JSON.stringify(params));
      assert.equal(res.headers.get('location'), null);
      const body = await json(res);
      assert.equal(body.code, 400);
      assert.equal(typeof body.msg, 'string');
    }
  });

  test('every other error → 302 to redirect_uri with error, error_description, state', async () => {
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ response_type: 'token' }, /response_type/],
      [{ scope: 'openid admin' }, /unsupported scope: admin/],
      [{ scope: 'crm:read' }, /unsupported scope/],
      [{ resource: 'https://mcp.example/mcp#frag' }, /fragment/],
      [{ resource: 'https://mcp.example/mcp?x=1' }, /query/],
      [{ resource: '/mcp' }, /absolute/],
      [{ code_challenge: undefined }, /PKCE/],
      [{ code_challenge_method: undefined }, /PKCE/],
      [{ code_challenge_method: 'S512' }, /code_challenge_method/],
      [{ code_challenge: 'a'.repeat(42) }, /between 43 and 128/],
      [{ code_challenge: 'a'.repeat(129) }, /between 43 and 128/],
    ];
    for (const [override, description] of cases) {
      const res = await flow.authorize({ ...good(), ...override });
      assert.equal(res.status, 302, JSON.stringify(override));
      const loc = new URL(res.headers.get('location')!);
      assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
      assert.equal(loc.searchParams.get('error'), 'invalid_request');
      assert.match(loc.searchParams.get('error_description') ?? '', description);
      assert.equal(loc.searchParams.get('state'), 'xyz');
    }
  });

  test('success → consent page; default scope email; offline_access, plain PKCE and a clean resource accepted', async () => {
    const session = (await flow.signIn(alice.email, alice.password)).body.access_token;
    const id1 = await flow.startAuthorization(clientId, challenge);
    const d1 = await flow.details(id1, session);
    assert.equal(d1.status, 200);
    assert.equal(d1.body.scope, 'email');
    const id2 = await flow.startAuthorization(clientId, 'p'.repeat(43), {
      code_challenge_method: 'plain',
      scope: 'openid profile email phone offline_access',
      resource: 'https://mcp.example/mcp',
    });
    const d2 = await flow.details(id2, session);
    assert.equal(d2.body.scope, 'openid profile email phone offline_access');
  });

  test('the consent page is served at / with labelled controls and no external assets', async () => {
    const res = await req(`${srv.projectUrl}/`);
    assert.equal(res.status, 200);
    const html = await res.text();
    for (const s of [
      '<label for="email">Email</label>',
      '<label for="password">Password</label>',
      '>Sign in</button>',
      '>Approve</button>',
      '>Deny</button>',
    ]) {
      assert.ok(html.includes(s), s);
    }
    assert.equal(/<(script|link|img)[^>]+(src|href)=/i.test(html), false);
  });
});

describe('authorization code flow', { timeout: 60_000 }, () => {
  let clientId: string;
  before(async () => {
    clientId = await flow.publicClient('Claude (test)');
  });

  test('PKCE S256 through the consent API: every claim, verified against the served JWKS', async () => {
    const { verifier, challenge } = pkce();
    const authId = await flow.startAuthorization(clientId, challenge, {
      scope: 'openid email profile',
      resource: 'https://mcp.example/mcp',
    });

    const signIn = await flow.signIn(alice.email, alice.password);
    assert.equal(signIn.status, 200);
    const session = signIn.body.access_token;
    const sessionClaims = decodeJwt(session);
    assert.equal('client_id' in sessionClaims, false, 'a web-app session token has no client_id');
    assert.deepEqual(
      (sessionClaims.amr as any[]).map((a) => a.method),
      ['password'],
    );

    const d = await flow.details(authId, session);
    assert.equal(d.status, 200);
    assert.equal(d.body.authorization_id, authId);
    assert.equal(d.body.redirect_uri, REDIRECT);
    assert.deepEqual(d.body.client, { id: clientId, name: 'Claude (test)' });
    assert.deepEqual(d.body.user, { id: alice.id, email: alice.email });
    assert.equal(d.body.scope, 'openid email profile');

    const c = await flow.consent(authId, session, 'approve');
    assert.equal(c.status, 200);
    const redirect = new URL(c.body.redirect_url);
    assert.equal(redirect.searchParams.get('state'), 'st-123');
    const code = redirect.searchParams.get('code')!;
    assert.ok(code);

    const before = Math.floor(Date.now() / 1000);
    const t = await flow.token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: clientId,
      code_verifier: verifier,
    });
    const afterT = Math.floor(Date.now() / 1000);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(t.body).sort(), [
      'access_token',
      'expires_in',
      'id_token',
      'refresh_token',
      'token_type',
    ]);
    assert.equal(t.body.token_type, 'bearer');
    assert.equal(t.body.expires_in, 3600);

    const JWKS = createRemoteJWKSet(new URL(`${srv.issuer}/.well-known/jwks.json`), {
      timeoutDuration: FETCH_TIMEOUT_MS,
    });
    const { payload, protectedHeader } = await jwtVerify(t.body.access_token, JWKS, {
      issuer: srv.issuer,
      audience: 'authenticated',
      algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.kid, srv.jwks.keys[0]!.kid);
    assert.equal(protectedHeader.typ, 'JWT');
    assert.deepEqual(Object.keys(payload).sort(), [
      'aal',
      'amr',
      'app_metadata',
      'aud',
      'client_id',
      'email',
      'exp',
      'iat',
      'is_anonymous',
      'iss',
      'phone',
      'role',
      'scope',
      'session_id',
      'sub',
      'user_metadata',
    ]);
    assert.equal(payload.iss, `${srv.projectUrl}/auth/v1`);
    assert.equal(payload.sub, alice.id);
    assert.equal(payload.aud, 'authenticated', 'aud is the string "authenticated", not the resource');
    assert.equal(typeof payload.aud, 'string');
    assert.ok(payload.iat! >= before && payload.iat! <= afterT);
    assert.equal(payload.exp! - payload.iat!, 3600);
    assert.equal(payload.email, alice.email);
    assert.equal(payload.phone, '');
    assert.deepEqual(payload.app_metadata, { provider: 'email', providers: ['email'] });
    assert.deepEqual(payload.user_metadata, { first_name: 'Alice', last_name: 'Liddell' });
    assert.equal(payload.role, 'authenticated');
    assert.equal(payload.aal, 'aal1');
    assert.deepEqual(payload.amr, [{ method: 'oauth_provider/authorization_code', timestamp: payload.iat }]);
    assert.match(payload.session_id as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(payload.is_anonymous, false);
    assert.equal(payload.client_id, clientId);
    assert.equal(payload.scope, 'openid email profile');

    const id = await jwtVerify(t.body.id_token, JWKS, { issuer: srv.issuer, audience: clientId });
    assert.equal(id.payload.sub, alice.id);
    assert.equal(id.payload.email, alice.email);

    const ui = await req(`${srv.issuer}/oauth/userinfo`, {
      headers: { Authorization: `Bearer ${t.body.access_token}` },
    });
    assert.equal(ui.status, 200);
    const info = await json(ui);
    assert.equal(info.sub, alice.id);
    assert.equal(info.email, alice.email);
    assert.equal(info.email_verified, true);
    assert.equal(info.name, alice.email);
    assert.equal(info.phone, undefined, 'no phone scope');

    const noToken = await req(`${srv.issuer}/oauth/userinfo`);
    assert.equal(noToken.status, 401);
  });

  test('no id_token without openid; phone claim carries the phone; JSON token request works', async () => {
    const { verifier, challenge } = pkce();
    const code = await flow.approvedCode(carol, clientId, challenge, { scope: 'email phone' });
    const t = await flow.token(
      { grant_type: 'authorization_code', code, client_id: clientId, code_verifier: verifier },
      {},
      true,
    );
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.id_token, undefined);
    const claims = decodeJwt(t.body.access_token);
    assert.equal(claims.phone, '15551234567');
    assert.equal(claims.scope, 'email phone');
  });

  test('the code is single-use', async () => {
    const { verifier, challenge } = pkce();
    const code = await flow.approvedCode(alice, clientId, challenge);
    const params = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: clientId,
      code_verifier: verifier,
    };
    assert.equal((await flow.token(params)).status, 200);
    const again = await flow.token(params);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  test('wrong PKCE verifier, wrong redirect_uri, wrong client → invalid_grant', async () => {
    const { verifier, challenge } = pkce();
    const code = await flow.approvedCode(alice, clientId, challenge);
    const base = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: clientId,
      code_verifier: verifier,
    };
    const wrongVerifier = await flow.token({ ...base, code_verifier: pkce().verifier });
    assert.equal(wrongVerifier.status, 400);
    assert.equal(wrongVerifier.body.error, 'invalid_grant');
    const noVerifier = await flow.token({ ...base, code_verifier: '' });
    assert.equal(noVerifier.body.error, 'invalid_grant');
    const wrongRedirect = await flow.token({ ...base, redirect_uri: 'http://127.0.0.1:9/other' });
    assert.equal(wrongRedirect.body.error, 'invalid_grant');
    const other = await flow.publicClient('other');
    const wrongClient = await flow.token({ ...base, client_id: other });
    assert.equal(wrongClient.body.error, 'invalid_grant');
    // As in GoTrue, failed attempts do not consume the code.
    assert.equal((await flow.token(base)).status, 200);
  });

  test('token endpoint request errors', async () => {
    const noGrant = await flow.token({ client_id: clientId });
    assert.equal(noGrant.status, 400);
    assert.equal(noGrant.body.error, 'invalid_request');
    const unsupported = await flow.token({ grant_type: 'password', client_id: clientId });
    assert.equal(unsupported.status, 400);
    assert.equal(unsupported.body.error, 'unsupported_grant_type');
    const noClient = await flow.token({ grant_type: 'authorization_code', code: 'x' });
    assert.equal(noClient.status, 401);
    assert.equal(noClient.body.error, 'invalid_client');
    const unknownClient = await flow.token({
      grant_type: 'authorization_code',
      code: 'x',
      client_id: '00000000-0000-4000-8000-000000000000',
    });
    assert.equal(unknownClient.body.error, 'invalid_client');
    const badCode = await flow.token({
      grant_type: 'authorization_code',
      code: 'nope',
      client_id: clientId,
      code_verifier: pkce().verifier,
    });
    assert.equal(badCode.body.error, 'invalid_grant');
  });

  test('confidential clients authenticate with client_secret_basic or client_secret_post', async () => {
    const r = await flow.register({ redirect_uris: [REDIRECT], client_name: 'Confidential' });
    const { client_id: id, client_secret: secret } = r.body;
    const basic = (s: string) => ({ Authorization: `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}` });

    let p = pkce();
    let code = await flow.approvedCode(alice, id, p.challenge);
    const viaBasic = await flow.token(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: p.verifier },
      basic(secret),
    );
    assert.equal(viaBasic.status, 200, JSON.stringify(viaBasic.body));

    p = pkce();
    code = await flow.approvedCode(alice, id, p.challenge);
    const wrong = await flow.token(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: p.verifier },
      basic('nope'),
    );
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    const missing = await flow.token({
      grant_type: 'authorization_code',
      code,
      client_id: id,
      code_verifier: p.verifier,
    });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error, 'invalid_client');
    const viaPost = await flow.token({
      grant_type: 'authorization_code',
      code,
      client_id: id,
      client_secret: secret,
      code_verifier: p.verifier,
    });
    assert.equal(viaPost.status, 200, JSON.stringify(viaPost.body));

    const refreshed = await flow.token(
      { grant_type: 'refresh_token', refresh_token: viaPost.body.refresh_token },
      basic(secret),
    );
    assert.equal(refreshed.status, 200);
    const publicSecret = await flow.token({
      grant_type: 'refresh_token',
      refresh_token: 'x',
      client_id: clientId,
      client_secret: 'x',
    });
    assert.equal(publicSecret.body.error, 'invalid_client');
  });

  test('refresh tokens rotate; reuse is refused and kills the session', async () => {
    const t0 = await flow.tokensFor(alice, clientId);
    const s0 = decodeJwt(t0.access_token).session_id;
    const t1 = await flow.token({ grant_type: 'refresh_token', refresh_token: t0.refresh_token, client_id: clientId });
    assert.equal(t1.status, 200, JSON.stringify(t1.body));
    assert.deepEqual(Object.keys(t1.body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.notEqual(t1.body.refresh_token, t0.refresh_token);
    const c1 = decodeJwt(t1.body.access_token);
    assert.equal(c1.session_id, s0);
    assert.equal(c1.client_id, clientId);
    assert.equal(c1.scope, 'email');

    const other = await flow.publicClient('other client');
    const wrongClient = await flow.token({
      grant_type: 'refresh_token',
      refresh_token: t1.body.refresh_token,
      client_id: other,
    });
    assert.equal(wrongClient.body.error, 'invalid_grant');

    const reuse = await flow.token({
      grant_type: 'refresh_token',
      refresh_token: t0.refresh_token,
      client_id: clientId,
    });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    const afterReuse = await flow.token({
      grant_type: 'refresh_token',
      refresh_token: t1.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(afterReuse.body.error, 'invalid_grant', 'reuse detection revokes the whole session');

    const garbage = await flow.token({ grant_type: 'refresh_token', refresh_token: 'garbage', client_id: clientId });
    assert.equal(garbage.body.error, 'invalid_grant');
    const none = await flow.token({ grant_type: 'refresh_token', client_id: clientId });
    assert.equal(none.body.error, 'invalid_request');
  });

  test('deny → access_denied redirect with state', async () => {
    const denyClient = await flow.publicClient('denied');
    const authId = await flow.startAuthorization(denyClient, pkce().challenge);
    const session = (await flow.signIn(alice.email, alice.password)).body.access_token;
    assert.equal((await flow.details(authId, session)).status, 200);
    const c = await flow.consent(authId, session, 'deny');
    assert.equal(c.status, 200);
    const u = new URL(c.body.redirect_url);
    assert.equal(`${u.origin}${u.pathname}`, REDIRECT);
    assert.equal(u.searchParams.get('error'), 'access_denied');
    assert.equal(u.searchParams.get('state'), 'st-123');
    assert.equal(u.searchParams.get('code'), null);
    const again = await flow.consent(authId, session, 'approve');
    assert.equal(again.status, 400, 'a decided authorization cannot be approved afterwards');
  });

  test('consent API: ownership, origin, action and auth checks', async () => {
    const ownClient = await flow.publicClient('ownership');
    const authId = await flow.startAuthorization(ownClient, pkce().challenge);
    const aliceSession = (await flow.signIn(alice.email, alice.password)).body.access_token;
    const carolSession = (await flow.signIn(carol.email, carol.password)).body.access_token;
    assert.equal((await flow.details(authId, aliceSession)).status, 200);
    assert.equal((await flow.details(authId, carolSession)).status, 404, 'bound to the first user who opened it');
    assert.equal((await flow.consent(authId, carolSession, 'approve')).status, 404);
    assert.equal((await flow.consent(authId, aliceSession, 'maybe')).status, 400);
    assert.equal((await flow.details(authId, aliceSession, { Origin: 'https://evil.example' })).status, 400);
    assert.equal((await flow.details(authId, aliceSession, { Origin: srv.projectUrl })).status, 200);
    assert.equal((await flow.details('no-such-id', aliceSession)).status, 404);
    assert.equal((await req(`${srv.issuer}/oauth/authorizations/${authId}`)).status, 401);
    const forged = await srv.signWith({ alg: 'HS256', typ: 'JWT' }, { sub: alice.id });
    assert.equal((await flow.details(authId, forged)).status, 403);
  });

  test('a second authorization for an already-consented client is approved without asking', async () => {
    const c = await flow.publicClient('remembered');
    await flow.tokensFor(alice, c);
    const authId = await flow.startAuthorization(c, pkce().challenge);
    const session = (await flow.signIn(alice.email, alice.password)).body.access_token;
    const d = await flow.details(authId, session);
    assert.equal(d.status, 200);
    assert.ok(new URL(d.body.redirect_url).searchParams.get('code'));
    // More scopes than consented → asks again.
    const authId2 = await flow.startAuthorization(c, pkce().challenge, { scope: 'email phone' });
    const d2 = await flow.details(authId2, session);
    assert.equal(d2.body.redirect_url, undefined);
    assert.equal(d2.body.scope, 'email phone');
  });

  test("revoking the grant kills the client's refresh tokens", async () => {
    const c = await flow.publicClient('revoked');
    const t = await flow.tokensFor(alice, c);
    const session = (await flow.signIn(alice.email, alice.password)).body.access_token;
    const list = await json(
      await req(`${srv.issuer}/user/oauth/grants`, { headers: { Authorization: `Bearer ${session}` } }),
    );
    assert.ok(list.some((g: any) => g.client.id === c));
    const del = await req(`${srv.issuer}/user/oauth/grants?client_id=${c}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${session}` },
    });
    assert.equal(del.status, 204);
    const r = await flow.token({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: c });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
    const ui = await req(`${srv.issuer}/oauth/userinfo`, { headers: { Authorization: `Bearer ${t.access_token}` } });
    assert.equal(ui.status, 403, 'the session is gone');
    const again = await req(`${srv.issuer}/user/oauth/grants?client_id=${c}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${session}` },
    });
    assert.equal(again.status, 404);
    // The next authorization asks for consent again.
    const authId = await flow.startAuthorization(c, pkce().challenge);
    assert.equal((await flow.details(authId, session)).body.redirect_url, undefined);
  });
});

describe('sign-in', { timeout: 30_000 }, () => {
  test('wrong password, unknown user and banned user cannot sign in', async () => {
    const wrong = await flow.signIn(alice.email, 'not-the-password');
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error_code, 'invalid_credentials');
    const unknown = await flow.signIn('nobody@example.com', 'whatever-password');
    assert.equal(unknown.body.error_code, 'invalid_credentials');
    const banned = await flow.signIn(bob.email, bob.password);
    assert.equal(banned.status, 400);
    assert.equal(banned.body.error_code, 'user_banned');
    assert.equal(banned.body.access_token, undefined);
    const upper = await flow.signIn(alice.email.toUpperCase(), alice.password);
    assert.equal(upper.status, 200, 'emails are case-insensitive');
  });

  test('a user banned after consenting cannot exchange the code', async () => {
    const dave = await createUser(db.sql, 'dave@example.com', 'dave-password-1');
    const c = await flow.publicClient('dave');
    const { verifier, challenge } = pkce();
    const code = await flow.approvedCode(dave, c, challenge);
    await db.sql`update auth.users set banned_until = 'infinity' where id = ${dave.id}`;
    const t = await flow.token({ grant_type: 'authorization_code', code, client_id: c, code_verifier: verifier });
    assert.equal(t.status, 400);
    assert.equal(t.body.error, 'access_denied');
  });
});

describe('test helpers', { timeout: 30_000 }, () => {
  test('mintAccessToken: OAuth token by default, session token with clientId null, overrides, expiry', async () => {
    const JWKS = createLocalJWKSet(srv.jwks);
    const user = { id: alice.id, email: alice.email };
    const t = await srv.mintAccessToken(user);
    const { payload } = await jwtVerify(t, JWKS, { issuer: srv.issuer, audience: 'authenticated' });
    assert.equal(payload.client_id, srv.defaultClientId);
    assert.equal(payload.scope, 'email');
    assert.equal(payload.phone, '');
    assert.equal('nbf' in payload || 'jti' in payload, false);

    const s = decodeJwt(await srv.mintAccessToken(user, { clientId: null }));
    assert.equal('client_id' in s || 'scope' in s, false);

    const o = decodeJwt(
      await srv.mintAccessToken(user, {
        clientId: 'c0ffee00-0000-4000-8000-000000000000',
        scope: 'openid',
        role: 'service_role',
        aal: undefined,
      }),
    );
    assert.equal(o.client_id, 'c0ffee00-0000-4000-8000-000000000000');
    assert.equal(o.scope, 'openid');
    assert.equal(o.role, 'service_role');
    assert.equal('aal' in o, false);

    const expired = await srv.mintAccessToken(user, { expiresIn: -60 });
    await assert.rejects(jwtVerify(expired, JWKS), /exp/);
  });

  test('signWith: none and alg-confusion forgeries are rejected by a JWKS verifier; kid/claims are verbatim', async () => {
    const JWKS = createLocalJWKSet(srv.jwks);
    const kid = srv.jwks.keys[0]!.kid!;
    const claims = { sub: alice.id, aud: 'authenticated', iss: srv.issuer, exp: Math.floor(Date.now() / 1000) + 60 };
    const good = await srv.signWith({ alg: 'ES256', kid }, claims);
    await jwtVerify(good, JWKS);
    const none = await srv.signWith({ alg: 'none', kid }, claims);
    assert.ok(none.endsWith('.'));
    await assert.rejects(jwtVerify(none, JWKS));
    const confused = await srv.signWith({ alg: 'HS256', kid }, claims);
    await assert.rejects(jwtVerify(confused, JWKS));
    const unknownKid = await srv.signWith({ alg: 'ES256', kid: 'nope' }, claims);
    await assert.rejects(jwtVerify(unknownKid, JWKS));
    assert.deepEqual(decodeProtectedHeader(unknownKid), { alg: 'ES256', kid: 'nope' });
  });

  test('rotateKey keeps the previous key unless asked to drop it', async () => {
    const s = await extraServer({});
    const oldToken = await s.mintAccessToken({ id: alice.id, email: alice.email });
    const oldKid = decodeProtectedHeader(oldToken).kid;
    await s.rotateKey();
    const newToken = await s.mintAccessToken({ id: alice.id, email: alice.email });
    const newKid = decodeProtectedHeader(newToken).kid;
    assert.notEqual(newKid, oldKid);
    const served = await json(await req(`${s.issuer}/.well-known/jwks.json`));
    assert.deepEqual(
      served.keys.map((k: any) => k.kid),
      [newKid, oldKid],
    );
    await jwtVerify(oldToken, createLocalJWKSet(served));
    await s.rotateKey({ keepPrevious: false });
    const after = s.jwks;
    assert.equal(after.keys.length, 1);
    await assert.rejects(jwtVerify(oldToken, createLocalJWKSet(after)));
  });

  test('autoApprove (test only): authorize redirects straight to the client with a code', async () => {
    const warnings: string[] = [];
    const originalWarn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.join(' '));
    let s: RunningAuthServer;
    try {
      s = await extraServer({ autoApprove: { email: carol.email } });
    } finally {
      console.warn = originalWarn;
    }
    assert.ok(warnings.some((w) => w.includes('autoApprove') && w.includes(carol.email)));
    const f = new Flow(s);
    const c = await f.publicClient();
    const { verifier, challenge } = pkce();
    const res = await f.authorize({
      client_id: c,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'auto',
    });
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
    assert.equal(loc.searchParams.get('state'), 'auto');
    const t = await f.token({
      grant_type: 'authorization_code',
      code: loc.searchParams.get('code')!,
      client_id: c,
      code_verifier: verifier,
    });
    assert.equal(t.status, 200);
    assert.equal(decodeJwt(t.body.access_token).sub, carol.id);
  });
});
