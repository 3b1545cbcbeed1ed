/**
 * The resource-server contract over real HTTP: metadata, challenges, and every way a token can be
 * wrong, each with the status and WWW-Authenticate a client acts on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack({ captureLogs: true });
});
after(async () => {
  await stack?.stop();
});

const INIT = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };

async function post(headers: Record<string, string>, body: unknown = INIT, path = '/mcp') {
  return fetch(`${stack.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function challengeOf(response: Response) {
  const header = response.headers.get('WWW-Authenticate') ?? '';
  const params = Object.fromEntries([...header.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
  return { scheme: header.split(' ')[0], params };
}

describe('protected resource metadata', () => {
  test('is served at the path-suffixed and the root well-known URLs', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const response = await fetch(`${stack.baseUrl}${path}`);
      assert.equal(response.status, 200, path);
      const body = await response.json();
      assert.equal(body.resource, `${stack.baseUrl}/mcp`);
      assert.deepEqual(body.authorization_servers, [stack.auth.issuer]);
      assert.deepEqual(body.bearer_methods_supported, ['header']);
      assert.equal(body.scopes_supported, undefined, 'no scope Supabase would reject is advertised');
    }
  });

  test('older clients looking for AS metadata on this host are sent to Supabase', async () => {
    const response = await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`, { redirect: 'manual' });
    assert.equal(response.status, 302);
    const location = response.headers.get('Location')!;
    assert.equal(location, `${stack.auth.projectUrl}/.well-known/oauth-authorization-server/auth/v1`);
    const metadata = await (await fetch(location)).json();
    assert.equal(metadata.issuer, stack.auth.issuer);
  });
});

describe('missing and malformed credentials', () => {
  test('no token: 401 with resource_metadata and no error code (RFC 6750 §3.1)', async () => {
    const response = await post({});
    assert.equal(response.status, 401);
    const { scheme, params } = challengeOf(response);
    assert.equal(scheme, 'Bearer');
    assert.equal(params.resource_metadata, `${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(params.error, undefined);
  });

  test('a non-Bearer scheme is an invalid token', async () => {
    const response = await post({ Authorization: 'Basic dXNlcjpwYXNz' });
    assert.equal(response.status, 401);
    assert.equal(challengeOf(response).params.error, 'invalid_token');
  });

  test('the scheme is case-insensitive', async () => {
    const token = await stack.token(stack.users.alice);
    const response = await post({ Authorization: `bEaReR ${token}` });
    assert.equal(response.status, 200);
  });

  test('garbage is a malformed token', async () => {
    const response = await post({ Authorization: 'Bearer not.a.jwt' });
    assert.equal(response.status, 401);
    const { params } = challengeOf(response);
    assert.equal(params.error, 'invalid_token');
    assert.match(params.error_description!, /well-formed|signature/);
  });

  test('a token in the query string is refused, even a valid one', async () => {
    const token = await stack.token(stack.users.alice);
    const response = await post({}, INIT, `/mcp?access_token=${token}`);
    assert.equal(response.status, 400);
    assert.equal(challengeOf(response).params.error, 'invalid_request');
  });
});

describe('tokens the server must refuse', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: Record<string, unknown> = {}) => ({
    iss: stack.auth.issuer,
    sub: stack.users.alice.id,
    aud: 'authenticated',
    exp: now() + 3600,
    iat: now(),
    email: stack.users.alice.email,
    phone: '',
    app_metadata: { provider: 'email' },
    user_metadata: {},
    role: 'authenticated',
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: now() }],
    session_id: crypto.randomUUID(),
    is_anonymous: false,
    client_id: stack.auth.defaultClientId,
    scope: 'email',
    ...overrides,
  });
  const kid = () => stack.auth.jwks.keys[0]!.kid as string;

  const cases: [string, () => Promise<string>, RegExp][] = [
    ['expired', () => stack.token(stack.users.alice, { expiresIn: -120 }), /expired/],
    [
      'wrong issuer',
      () =>
        stack.auth.signWith({ alg: 'ES256', kid: kid(), typ: 'JWT' }, claims({ iss: 'https://evil.example/auth/v1' })),
      /not issued by/,
    ],
    [
      'wrong audience',
      () => stack.auth.signWith({ alg: 'ES256', kid: kid(), typ: 'JWT' }, claims({ aud: 'service' })),
      /audience/,
    ],
    [
      'HS256 signed with the public key',
      () => stack.auth.signWith({ alg: 'HS256', typ: 'JWT' }, claims()),
      /ES256 or RS256/,
    ],
    ['alg none', () => stack.auth.signWith({ alg: 'none', typ: 'JWT' }, claims()), /ES256 or RS256|well-formed/],
    [
      'unknown kid',
      () => stack.auth.signWith({ alg: 'ES256', kid: 'not-a-published-key', typ: 'JWT' }, claims()),
      /key the project does not publish/,
    ],
    [
      'tampered payload',
      async () => {
        const [h, , s] = (await stack.token(stack.users.alice)).split('.');
        const forged = Buffer.from(JSON.stringify(claims({ sub: stack.users.admin.id }))).toString('base64url');
        return `${h}.${forged}.${s}`;
      },
      /signature/,
    ],
    [
      'no client_id (a web-app session token)',
      () => stack.token(stack.users.alice, { clientId: null }),
      /not issued to an OAuth client/,
    ],
    ['role other than authenticated', () => stack.token(stack.users.alice, { role: 'service_role' }), /role claim/],
    [
      'sub that is not a uuid',
      () => stack.auth.signWith({ alg: 'ES256', kid: kid(), typ: 'JWT' }, claims({ sub: "x' or 1=1" })),
      /sub claim/,
    ],
    [
      'not yet valid (iat in the future)',
      () =>
        stack.auth.signWith({ alg: 'ES256', kid: kid(), typ: 'JWT' }, claims({ iat: now() + 3600, nbf: now() + 3600 })),
      /not valid yet/,
    ],
    [
      'no exp',
      () => stack.auth.signWith({ alg: 'ES256', kid: kid(), typ: 'JWT' }, claims({ exp: undefined })),
      /exp claim/,
    ],
  ];

  for (const [name, mint, description] of cases) {
    test(name, async () => {
      const token = await mint();
      const response = await post({ Authorization: `Bearer ${token}` });
      assert.equal(response.status, 401, name);
      const { scheme, params } = challengeOf(response);
      assert.equal(scheme, 'Bearer');
      assert.equal(params.error, 'invalid_token');
      assert.equal(params.resource_metadata, `${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`);
      assert.match(params.error_description!, description);
      assert.ok(!(await response.text()).includes(token), 'the token is never echoed');
    });
  }

  test('a refused token never reaches a log line', () => {
    const joined = stack.logs.join('\n');
    assert.ok(
      stack.logs.some((l) => l.includes('TOKEN_EXPIRED')),
      'refusals are logged with their reason',
    );
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.test(joined), 'no JWT in any log line');
  });

  test('user_metadata full of quotes, backslashes and SQL reaches the database intact', async () => {
    const nasty = `O'Brien \\'); drop table contacts; -- $$ \u0027 \\x00 "quoted" ☃`;
    const client = await stack.connect(stack.users.alice, { user_metadata: { first_name: nasty } });
    const result = await client.callTool({
      name: 'query',
      arguments: { sql: "select auth.jwt() -> 'user_metadata' ->> 'first_name' as name, auth.uid() as uid" },
    });
    const row = (result.structuredContent as { rows: { name: string; uid: string }[] }).rows[0]!;
    assert.equal(row.name, nasty);
    assert.equal(row.uid, stack.users.alice.id);
  });
});

describe('HTTP surface', () => {
  test('GET and DELETE /mcp answer 405 with Allow: POST', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(`${stack.baseUrl}/mcp`, { method });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('Allow'), 'POST');
    }
  });

  test('an Origin that is not allowed gets 403; no Origin is fine', async () => {
    const token = await stack.token(stack.users.alice);
    const evil = await post({ Authorization: `Bearer ${token}`, Origin: 'https://evil.example' });
    assert.equal(evil.status, 403);
    assert.equal((await evil.json()).error, 'forbidden_origin');
    const own = await post({ Authorization: `Bearer ${token}`, Origin: stack.baseUrl });
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('Access-Control-Allow-Origin'), stack.baseUrl);
  });

  test('an unsupported MCP-Protocol-Version is a 400', async () => {
    const token = await stack.token(stack.users.alice);
    const response = await post({ Authorization: `Bearer ${token}`, 'MCP-Protocol-Version': '1999-01-01' });
    assert.equal(response.status, 400);
  });

  test('malformed JSON-RPC gets a 400 parse error', async () => {
    const token = await stack.token(stack.users.alice);
    const response = await post({ Authorization: `Bearer ${token}` }, '{not json');
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.code, -32700);
  });

  test('a body over the limit is refused with 413', async () => {
    const token = await stack.token(stack.users.alice);
    const huge = { ...INIT, params: { padding: 'x'.repeat(5 * 1024 * 1024) } };
    const response = await post({ Authorization: `Bearer ${token}` }, huge);
    assert.equal(response.status, 413);
  });

  test('unknown routes are JSON 404s', async () => {
    const response = await fetch(`${stack.baseUrl}/nope`);
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error, 'not_found');
  });

  test('health and readiness', async () => {
    assert.deepEqual(await (await fetch(`${stack.baseUrl}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${stack.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).status, 'ready');
  });
});
