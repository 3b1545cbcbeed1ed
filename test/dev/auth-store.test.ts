/**
 * The demo's auth stand-in keeps its state in the demo's database (`persist: true`): after a
 * restart, a token issued before it still verifies against the published keys, the client's
 * refresh token still works, and the consent is still on file, as with a real Supabase project.
 * Without `persist` the same restart signs everyone out (the contrast the demo used to have).
 * And agent SQL, as `authenticated`, cannot read the stored keys or refresh tokens.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import postgres from 'postgres';
import { startAuthServer, type RunningAuthServer, type StartAuthServerOptions } from '../../dev/auth/server.js';
import { DEMO_PASSWORD, DEMO_USERS } from '../../dev/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { completeConsent } from '../support/oauth-client.js';

const USER = DEMO_USERS.find((u) => !u.administrator && !u.disabled)!;
const REDIRECT = 'http://127.0.0.1:8976/callback';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase('auth_store');
});
after(async () => {
  await db?.drop();
});

interface SignedIn {
  clientId: string;
  accessToken: string;
  refreshToken: string;
}

/** What an MCP client does once: register, send the user through consent, exchange the code. */
async function signIn(auth: RunningAuthServer): Promise<SignedIn> {
  const registered = await fetch(`${auth.issuer}/oauth/clients/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      client_name: 'restart test',
    }),
  });
  assert.equal(registered.status, 201);
  const clientId = String(((await registered.json()) as { client_id: string }).client_id);
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${auth.issuer}/oauth/authorize`);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 's',
  }).toString();
  const { redirectUrl } = await completeConsent(authorize, { email: USER.email, password: DEMO_PASSWORD });
  const code = new URL(redirectUrl).searchParams.get('code')!;
  const tokens = (
    await tokenRequest(auth, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: clientId,
      code_verifier: verifier,
    })
  ).body;
  return { clientId, accessToken: String(tokens.access_token), refreshToken: String(tokens.refresh_token) };
}

async function tokenRequest(
  auth: RunningAuthServer,
  params: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const post = () =>
    fetch(`${auth.issuer}/oauth/token`, {
      signal: AbortSignal.timeout(10_000),
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
  // Right after a restart on the same port, fetch may first pick a pooled keep-alive socket of
  // the stopped server ("other side closed"); a client retries on a new connection.
  const response = await post().catch((error: Error & { cause?: { code?: string } }) => {
    if (error.cause?.code !== 'UND_ERR_SOCKET') throw error;
    return post();
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Start, sign in, stop, start again on the same URL (as the demo restarts on its fixed port). */
async function restart(
  options: Partial<StartAuthServerOptions>,
): Promise<{ before: SignedIn; after: RunningAuthServer }> {
  const first = await startAuthServer({ sql: db.admin, ...options });
  const port = Number(new URL(first.projectUrl).port);
  const signedIn = await signIn(first).finally(() => first.stop());
  return { before: signedIn, after: await startAuthServer({ sql: db.admin, port, ...options }) };
}

test('persist: a restart keeps the signing key, the client, its refresh token and the consent', async () => {
  const { before: signedIn, after: auth } = await restart({ persist: true });
  try {
    const { payload } = await jwtVerify(signedIn.accessToken, createLocalJWKSet(auth.jwks), { issuer: auth.issuer });
    assert.equal(
      payload.sub,
      USER.id,
      'the token issued before the restart verifies against the keys published after it',
    );

    const refreshed = await tokenRequest(auth, {
      grant_type: 'refresh_token',
      refresh_token: signedIn.refreshToken,
      client_id: signedIn.clientId,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.ok(refreshed.body.access_token && refreshed.body.refresh_token);

    // Reuse detection survives too: the rotated-away token is refused.
    const reused = await tokenRequest(auth, {
      grant_type: 'refresh_token',
      refresh_token: signedIn.refreshToken,
      client_id: signedIn.clientId,
    });
    assert.equal(reused.body.error, 'invalid_grant');

    const session = await fetch(`${auth.issuer}/token?grant_type=password`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: USER.email, password: DEMO_PASSWORD }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const grants = await fetch(`${auth.issuer}/user/oauth/grants`, {
      headers: { Authorization: `Bearer ${session.access_token}` },
    }).then((r) => r.json() as Promise<Array<{ client: { id: string } }>>);
    assert.deepEqual(
      grants.map((g) => g.client.id),
      [signedIn.clientId],
      'the consent is still on file',
    );
  } finally {
    await auth.stop();
  }
});

test('without persist (tests): the same restart signs the client out', async () => {
  const { before: signedIn, after: auth } = await restart({});
  try {
    await assert.rejects(jwtVerify(signedIn.accessToken, createLocalJWKSet(auth.jwks)), /no applicable key/i);
    const refreshed = await tokenRequest(auth, {
      grant_type: 'refresh_token',
      refresh_token: signedIn.refreshToken,
      client_id: signedIn.clientId,
    });
    assert.equal(refreshed.body.error, 'invalid_client');
  } finally {
    await auth.stop();
  }
});

test('the stored keys and refresh tokens are out of reach of authenticated (agent SQL)', async () => {
  const auth = await startAuthServer({ sql: db.admin, persist: true });
  await auth.stop();
  const login = postgres(db.loginUrl, { max: 1, onnotice: () => undefined });
  try {
    await assert.rejects(
      login.begin(async (tx) => {
        await tx`set local role authenticated`;
        await tx`select snapshot from auth_stand_in.state`;
      }),
      (error: postgres.PostgresError) => error.code === '42501',
    );
  } finally {
    await login.end({ timeout: 5 });
  }
});
