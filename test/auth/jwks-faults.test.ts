/**
 * Signing keys under faults, with the local Supabase Auth stand-in (dev/auth-server.ts) taken down
 * and its keys rotated: cached keys keep verifying while the JWKS host is down; a server started
 * while it is down starts, says why in /readyz, answers 503 (not 401) until the keys arrive, then
 * verifies; a new kid verifies after one refetch; a removed key stops verifying once the set is
 * older than its maximum age.
 * Run: node --import tsx test/run.ts test/auth/jwks-faults.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { freePort } from '../../dev/ports.js';
import { asMintUser, DEMO_USERS } from '../../dev/seed.js';
import { createTokenVerifier, TokenError } from '../../src/auth/verify.js';
import { startServer } from '../../src/main.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
const user = asMintUser(DEMO_USERS[1]!);
const stops: (() => Promise<void>)[] = [];

before(async () => {
  db = await createTestDatabase('jwks_faults');
});
after(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await db?.drop();
});

async function auth(port?: number): Promise<RunningAuthServer> {
  const server = await startAuthServer({ sql: db.admin, ...(port ? { port } : {}) });
  stops.push(() => server.stop());
  return server;
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (e: unknown) => (e instanceof TokenError ? e.code : String(e)),
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("JWKS host down after start-up: tokens signed by a known key keep verifying, past the set's maximum age", async () => {
  const host = await auth();
  const verifier = createTokenVerifier({
    issuer: host.issuer,
    jwksUrl: `${host.issuer}/.well-known/jwks.json`,
    keysMaxAgeMs: 200,
    refetchCooldownMs: 100,
  });
  const token = await host.mintAccessToken(user);
  assert.equal(await codeOf(verifier.verify(token)), 'ok');
  await host.stop();
  await sleep(400);
  assert.equal(await codeOf(verifier.verify(token)), 'ok', 'stale keys verify while the host is down');
  await sleep(300);
  assert.equal(await codeOf(verifier.verify(token)), 'ok');
});

test('key rotation: a new kid verifies after one refetch; a removed key stops verifying within the maximum age', async () => {
  const host = await auth();
  const verifier = createTokenVerifier({
    issuer: host.issuer,
    jwksUrl: `${host.issuer}/.well-known/jwks.json`,
    keysMaxAgeMs: 500,
    refetchCooldownMs: 100,
  });
  const oldToken = await host.mintAccessToken(user);
  assert.equal(await codeOf(verifier.verify(oldToken)), 'ok');
  await sleep(150);
  await host.rotateKey({ keepPrevious: false });
  const newToken = await host.mintAccessToken(user);
  assert.equal(await codeOf(verifier.verify(newToken)), 'ok', 'the new kid verifies after one refetch');
  await sleep(600);
  await codeOf(verifier.verify(newToken)); // an old set triggers a background refetch
  await sleep(200);
  assert.equal(await codeOf(verifier.verify(oldToken)), 'TOKEN_KEY_UNKNOWN', 'the removed key no longer verifies');
});

test('JWKS host down at start-up: the server starts, /readyz says why, calls get 503 until the keys arrive, then verify', async () => {
  const port = await freePort();
  const issuerBase = `http://127.0.0.1:${port}`;
  const server = await startServer(
    { SUPABASE_URL: issuerBase, DATABASE_URL: db.loginUrl, MCP_SERVER_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'silent' },
    [],
    { write: () => {} },
  );
  stops.push(() => server.close());
  const ready = await server.fetch(new Request('http://127.0.0.1:9/readyz'));
  assert.equal(ready.status, 503);
  assert.match((await ready.json()).checks.jwks, /could not be fetched/);

  const call = (token: string) =>
    server.fetch(
      new Request('http://127.0.0.1:9/mcp', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      }),
    );
  // Any well-formed token: the server cannot know yet whether it is valid.
  const stand = await auth();
  const early = await call(await stand.mintAccessToken(user));
  assert.equal(early.status, 503, 'not 401: the keys are missing, not the token wrong');
  assert.ok(
    early.headers.get('WWW-Authenticate') === null || !/invalid_token/.test(early.headers.get('WWW-Authenticate')!),
  );

  const host = await auth(port);
  const token = await host.mintAccessToken(user);
  let status = 0;
  for (let i = 0; i < 40 && status !== 200; i++) {
    status = (await call(token)).status;
    if (status !== 200) await sleep(250);
  }
  assert.equal(status, 200, 'verifies once the keys arrive (within one refetch cooldown)');
  assert.equal((await server.fetch(new Request('http://127.0.0.1:9/readyz'))).status, 200);
});
