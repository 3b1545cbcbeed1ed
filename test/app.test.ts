/**
 * The HTTP surface of createApp in-process (Hono's app.request): origin checks, CORS, bearer
 * challenges, metadata, 405s, 404s and request ids, with no database, no auth server and no port.
 * Tokens are real ES256 JWTs checked by the real verifier, whose key set is served from memory
 * through its fetch option, so a middleware change is tested in milliseconds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import postgres from 'postgres';
import { createApp } from '../src/app.js';
import { createTokenVerifier } from '../src/auth/verify.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';

const config = loadConfig({
  SUPABASE_URL: 'https://abcd1234.supabase.co',
  // Nothing listens there: no route exercised here reaches the database.
  DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
  MCP_SERVER_URL: 'https://mcp.example.com',
  ALLOWED_ORIGINS: 'http://localhost:6274',
});
const MCP = 'https://mcp.example.com/mcp';
const METADATA_URL = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

const keys = await generateKeyPair('ES256');
const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
const other = await generateKeyPair('ES256');

/** The project's JWKS, served from memory; `down` makes it unreachable. */
let jwksDown = false;
const jwksFetch = (async (url: string | URL | Request) => {
  if (jwksDown) throw new TypeError('fetch failed');
  return String(url) === config.auth.jwksUrl
    ? Response.json({ keys: [publicJwk] })
    : new Response('not found', { status: 404 });
}) as typeof fetch;

function start() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (line) => lines.push(JSON.parse(line)) });
  const verifier = createTokenVerifier({ issuer: config.auth.issuer, jwksUrl: config.auth.jwksUrl, fetch: jwksFetch });
  const sql = postgres(config.databaseUrl, { max: 1, connect_timeout: 1 });
  const app = createApp({ config, sql, verifier, log });
  return { app, lines };
}

const { app, lines } = start();

async function token({ key = keys.privateKey, kid = 'test-key', expiresIn = '1h' } = {}) {
  return new SignJWT({
    role: 'authenticated',
    client_id: crypto.randomUUID(),
    scope: 'email',
    email: 'alice@example.com',
  })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(config.auth.issuer)
    .setAudience('authenticated')
    .setSubject(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'app-test', version: '1.0.0' } },
};

function post(
  headers: Record<string, string>,
  { path = '/mcp', body = INITIALIZE }: { path?: string; body?: unknown } = {},
) {
  return app.request(`https://mcp.example.com${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

function challengeOf(response: Response) {
  const header = response.headers.get('WWW-Authenticate') ?? '';
  const params = Object.fromEntries([...header.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
  return { scheme: header.split(' ')[0], params };
}

/** The log lines written while `action` ran. */
async function logged(action: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const from = lines.length;
  await action();
  return lines.slice(from);
}

describe('metadata', () => {
  test('the protected-resource metadata at the path-suffixed and the root URL, cacheable', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const response = await app.request(`https://mcp.example.com${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('Cache-Control'), 'public, max-age=300');
      const body = await response.json();
      assert.equal(body.resource, MCP);
      assert.deepEqual(body.authorization_servers, ['https://abcd1234.supabase.co/auth/v1']);
      assert.deepEqual(body.bearer_methods_supported, ['header']);
    }
  });

  test('authorization-server metadata looked up on this host redirects to Supabase Auth', async () => {
    const response = await app.request('https://mcp.example.com/.well-known/oauth-authorization-server');
    assert.equal(response.status, 302);
    assert.equal(
      response.headers.get('Location'),
      'https://abcd1234.supabase.co/.well-known/oauth-authorization-server/auth/v1',
    );
  });
});

describe('under a path prefix (a Supabase Edge Function)', () => {
  // Public at https://abcd1234.supabase.co/functions/v1/crm; the function receives /crm/….
  const edgeConfig = loadConfig({
    SUPABASE_URL: 'https://abcd1234.supabase.co',
    DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
    MCP_SERVER_URL: 'https://abcd1234.supabase.co/functions/v1/crm',
    MCP_BASE_PATH: '/crm',
  });
  const verifier = createTokenVerifier({
    issuer: edgeConfig.auth.issuer,
    jwksUrl: edgeConfig.auth.jwksUrl,
    fetch: jwksFetch,
  });
  const sql = postgres(edgeConfig.databaseUrl, { max: 1, connect_timeout: 1 });
  const edge = createApp({ config: edgeConfig, sql, verifier, log: createLogger({ level: 'silent', format: 'json' }) });
  const PUBLIC_MCP = 'https://abcd1234.supabase.co/functions/v1/crm/mcp';
  const PUBLIC_METADATA = 'https://abcd1234.supabase.co/functions/v1/crm/.well-known/oauth-protected-resource/mcp';

  test('the challenge points at metadata inside the function, which names the public MCP URL', async () => {
    const response = await edge.request('http://localhost/crm/mcp', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(response.status, 401);
    assert.equal(challengeOf(response).params.resource_metadata, PUBLIC_METADATA);
    // The gateway forwards the public metadata path to the function as /crm/.well-known/….
    const metadata = await edge.request(
      `http://localhost${new URL(PUBLIC_METADATA).pathname.replace('/functions/v1', '')}`,
    );
    assert.equal(metadata.status, 200);
    assert.equal((await metadata.json()).resource, PUBLIC_MCP);
  });

  test('routes outside the prefix are not found, health answers inside it', async () => {
    assert.equal((await edge.request('http://localhost/mcp', { method: 'POST' })).status, 404);
    assert.equal((await edge.request('http://localhost/crm/healthz')).status, 200);
  });
});

describe('challenges', () => {
  test('no token: 401 pointing at the metadata, no error code, not a security event', async () => {
    let response!: Response;
    const events = await logged(async () => (response = await post({})));
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('Cache-Control'), 'no-store');
    const { scheme, params } = challengeOf(response);
    assert.equal(scheme, 'Bearer');
    assert.deepEqual(params, { resource_metadata: METADATA_URL });
    assert.deepEqual(
      events.map((e) => e.event),
      ['auth_challenge'],
    );
  });

  test('a malformed header and a key the project does not publish: invalid_token, logged as auth_failure', async () => {
    const cases: [string, string, string][] = [
      ['Basic dXNlcjpwYXNz', 'TOKEN_MALFORMED', 'must be \\"Bearer <token>\\"'],
      [
        `Bearer ${await token({ key: other.privateKey, kid: 'unknown-key' })}`,
        'TOKEN_KEY_UNKNOWN',
        'key the project does not publish',
      ],
      [`Bearer ${await token({ expiresIn: '-2 minutes' })}`, 'TOKEN_EXPIRED', 'expired'],
    ];
    for (const [authorization, reason, description] of cases) {
      let response!: Response;
      const events = await logged(async () => (response = await post({ Authorization: authorization })));
      assert.equal(response.status, 401, reason);
      const { params } = challengeOf(response);
      assert.equal(params.error, 'invalid_token', reason);
      assert.equal(params.resource_metadata, METADATA_URL);
      assert.ok(params.error_description!.includes(description), params.error_description);
      const [event] = events.filter((e) => e.event === 'security_event');
      assert.equal(event?.kind, 'auth_failure');
      assert.equal(event?.reason, reason);
      assert.ok(!JSON.stringify(events).includes(authorization.slice(7)), 'the token never reaches a log line');
    }
  });

  test('a token in the query string is refused with invalid_request, even a valid one', async () => {
    const response = await post({}, { path: `/mcp?access_token=${await token()}` });
    assert.equal(response.status, 400);
    assert.equal(challengeOf(response).params.error, 'invalid_request');
  });

  test('signing keys out of reach: 503 temporarily_unavailable, so the client retries instead of signing in again', async () => {
    // A fresh verifier: the shared one has the key set cached.
    const { app: cold } = start();
    jwksDown = true;
    try {
      const response = await cold.request(MCP, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await token()}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify(INITIALIZE),
      });
      assert.equal(response.status, 503);
      assert.equal(challengeOf(response).params.error, 'temporarily_unavailable');
    } finally {
      jwksDown = false;
    }
  });

  test('a valid token reaches the MCP endpoint; its answer carries the request id and CORS headers', async () => {
    const response = await post({
      Authorization: `Bearer ${await token()}`,
      Origin: 'http://localhost:6274',
      'X-Request-Id': 'req-mcp-1',
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('X-Request-Id'), 'req-mcp-1');
    assert.equal(response.headers.get('Access-Control-Allow-Origin'), 'http://localhost:6274');
    assert.match(response.headers.get('Access-Control-Expose-Headers') ?? '', /WWW-Authenticate/);
    assert.equal(response.headers.get('Vary'), 'Origin');
    const body = await response.json();
    assert.equal(body.id, 1);
    assert.equal(typeof body.result.protocolVersion, 'string');
    assert.ok(body.result.serverInfo.name);
  });
});

describe('origins and CORS', () => {
  test('an Origin that is not allowed: 403 naming ALLOWED_ORIGINS, logged as origin_refused with the request id', async () => {
    let response!: Response;
    const events = await logged(
      async () => (response = await post({ Origin: 'https://evil.example', 'X-Request-Id': 'req-evil' })),
    );
    assert.equal(response.status, 403);
    const body = await response.json();
    assert.equal(body.error, 'forbidden_origin');
    assert.match(body.error_description, /Origin https:\/\/evil\.example is not allowed\. Add it to ALLOWED_ORIGINS\./);
    assert.equal(response.headers.get('Access-Control-Allow-Origin'), null);
    const [event] = events.filter((e) => e.event === 'security_event');
    assert.deepEqual(
      { kind: event?.kind, origin: event?.origin, requestId: event?.requestId },
      { kind: 'origin_refused', origin: 'https://evil.example', requestId: 'req-evil' },
    );
  });

  test("the server's own origin, an ALLOWED_ORIGINS entry and no Origin at all pass to authentication", async () => {
    for (const origin of ['https://mcp.example.com', 'http://localhost:6274', undefined]) {
      const response = await post(origin ? { Origin: origin } : {});
      assert.equal(response.status, 401, String(origin));
      assert.equal(response.headers.get('Access-Control-Allow-Origin'), origin ?? null);
      if (origin) assert.match(response.headers.get('Access-Control-Expose-Headers') ?? '', /WWW-Authenticate/);
    }
  });

  test('a preflight from an allowed origin lists the MCP headers; one from another origin is refused', async () => {
    const preflight = (origin: string) =>
      app.request(MCP, {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization, mcp-protocol-version',
        },
      });
    const allowed = await preflight('http://localhost:6274');
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('Access-Control-Allow-Origin'), 'http://localhost:6274');
    assert.equal(allowed.headers.get('Access-Control-Max-Age'), '600');
    const headers = (allowed.headers.get('Access-Control-Allow-Headers') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase());
    for (const header of ['authorization', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']) {
      assert.ok(headers.includes(header), `${header} in ${headers.join(', ')}`);
    }
    assert.match(allowed.headers.get('Access-Control-Allow-Methods') ?? '', /POST/);
    assert.equal((await preflight('https://evil.example')).status, 403);
  });
});

describe('routes', () => {
  test('GET and DELETE /mcp: 405 with Allow: POST and a JSON-RPC error', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await app.request(MCP, { method });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('Allow'), 'POST');
      const body = await response.json();
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(body.error.code, -32000);
      assert.match(body.error.message, /stateless; use POST/);
    }
  });

  test('unknown routes and methods: JSON 404 naming what was asked', async () => {
    let response = await app.request('https://mcp.example.com/nope');
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { error: 'not_found', error_description: 'No route for GET /nope.' });
    response = await app.request('https://mcp.example.com/healthz', { method: 'PUT' });
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error_description, 'No route for PUT /healthz.');
  });

  test('healthz answers without touching the database', async () => {
    const response = await app.request('https://mcp.example.com/healthz');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });
});

describe('request ids', () => {
  test('a plain caller id is kept, echoed and logged; anything else is replaced by a fresh id', async () => {
    let response!: Response;
    let events = await logged(async () => (response = await post({ 'X-Request-Id': 'req-42_ab' })));
    assert.equal(response.headers.get('X-Request-Id'), 'req-42_ab');
    assert.equal(events[0]?.requestId, 'req-42_ab');

    const forged = 'x" level=error event=fake';
    events = await logged(async () => (response = await post({ 'X-Request-Id': forged })));
    const id = response.headers.get('X-Request-Id') ?? '';
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(events[0]?.requestId, id);
    assert.ok(!JSON.stringify(events).includes('event=fake'));
  });
});

describe('DNS rebinding (listening on loopback)', () => {
  const localConfig = loadConfig({
    SUPABASE_URL: 'https://abcd1234.supabase.co',
    DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
    HOST: '127.0.0.1',
    PORT: '3000',
  });
  const verifier = createTokenVerifier({
    issuer: localConfig.auth.issuer,
    jwksUrl: localConfig.auth.jwksUrl,
    fetch: jwksFetch,
  });
  const sql = postgres(localConfig.databaseUrl, { max: 1, connect_timeout: 1 });
  const local = createApp({
    config: localConfig,
    sql,
    verifier,
    log: createLogger({ level: 'silent', format: 'json' }),
  });
  // In-process requests carry no Host of their own: set it as a client does.
  const call = (host: string) =>
    local.request(`http://${host}/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Host: host },
      body: JSON.stringify(INITIALIZE),
    });

  test('a request whose Host is not localhost is refused before auth; localhost names reach the challenge', async () => {
    const rebound = await call('attacker.example:3000');
    assert.equal(rebound.status, 403);
    for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000']) {
      assert.equal((await call(host)).status, 401, host);
    }
  });

  test('a server listening on every address leaves Host to its proxy', async () => {
    assert.equal((await post({}, { path: '/mcp' })).status, 401);
    const response = await app.request('http://internal-name:8080/mcp', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Host: 'internal-name:8080' },
      body: JSON.stringify(INITIALIZE),
    });
    assert.equal(response.status, 401);
  });
});
