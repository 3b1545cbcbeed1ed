/**
 * The MCP SDK's own client doing the whole OAuth dance against the server and the Supabase Auth
 * stand-in, with nothing pre-arranged: 401 → protected-resource metadata from WWW-Authenticate →
 * AS metadata at the RFC 8414 path-insertion URL → dynamic registration → authorize with PKCE S256
 * → consent (headless, through the consent page's own JSON API) → token → MCP calls as that user.
 * Then the token lifecycle: expiry and refresh, a denied consent, and a revoked grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { asMintUser, rows, startStack, type Stack } from '../support/stack.js';
import {
  AuthorizationDeniedError,
  connectWithOAuth,
  HeadlessOAuthProvider,
  revokeGrant,
} from '../support/oauth-client.js';

const OWN_ROW = 'select email from sales where user_id = auth.uid()';

/** Records every request the client makes (method, URL, status), to check the discovery order. */
function recordingFetch(log: string[]) {
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await original(input, init);
    log.push(`${request.method} ${request.url} → ${response.status}`);
    return response;
  };
  return () => (globalThis.fetch = original);
}

describe('SDK client with an OAuthClientProvider', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test('discovers, registers, authorizes with PKCE, gets consent and calls tools as the signed-in user', async () => {
    const user = stack.users.alice;
    const provider = new HeadlessOAuthProvider({ user, clientName: 'SDK OAuth test' });
    const requests: string[] = [];
    const restore = recordingFetch(requests);
    let client: Awaited<ReturnType<typeof connectWithOAuth>>;
    try {
      client = await connectWithOAuth(stack.url, provider);
    } finally {
      restore();
    }
    try {
      const issuer = stack.auth.issuer;
      const project = stack.auth.projectUrl;
      // 1. The unauthenticated POST is refused with a challenge naming the metadata.
      assert.match(requests[0]!, new RegExp(`^POST ${stack.url} → 401$`));
      // 2. PRM, from the challenge's resource_metadata (the path-suffixed URL).
      assert.ok(
        requests.includes(`GET ${stack.baseUrl}/.well-known/oauth-protected-resource/mcp → 200`),
        requests.join('\n'),
      );
      // 3. AS metadata at the path-insertion URL for the issuer's /auth/v1 path.
      assert.ok(
        requests.includes(`GET ${project}/.well-known/oauth-authorization-server/auth/v1 → 200`),
        requests.join('\n'),
      );
      // 4. Dynamic registration, then the token request.
      assert.ok(requests.includes(`POST ${issuer}/oauth/clients/register → 201`), requests.join('\n'));
      assert.ok(requests.includes(`POST ${issuer}/oauth/token → 200`), requests.join('\n'));

      // The authorize request: PKCE S256, state, resource = the MCP endpoint, our registered client.
      assert.equal(provider.authorizationUrls.length, 1);
      const authorize = provider.authorizationUrls[0]!;
      assert.equal(`${authorize.origin}${authorize.pathname}`, `${issuer}/oauth/authorize`);
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      assert.match(authorize.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.ok(authorize.searchParams.get('state'));
      assert.equal(authorize.searchParams.get('resource'), stack.url);
      assert.equal(authorize.searchParams.get('client_id'), provider.clientId);
      // The consent page showed our client's name to the user who signed in.
      assert.equal(provider.consents[0]?.details?.client?.name, 'SDK OAuth test');
      assert.equal(provider.consents[0]?.details?.user?.email, user.email);

      const { tools } = await client.listTools();
      assert.ok(
        tools.some((t) => t.name === 'query'),
        `tools: ${tools.map((t) => t.name).join(', ')}`,
      );
      const result = await client.callTool({ name: 'query', arguments: { sql: OWN_ROW } });
      assert.deepEqual(rows(result), [{ email: user.email }]);
    } finally {
      await client.close();
    }
  });

  test('an expired access token is refreshed and the session carries on', async () => {
    const user = stack.users.bob;
    const provider = new HeadlessOAuthProvider({ user, clientName: 'SDK refresh test' });
    const client = await connectWithOAuth(stack.url, provider);
    try {
      assert.deepEqual(rows(await client.callTool({ name: 'query', arguments: { sql: OWN_ROW } })), [
        { email: user.email },
      ]);
      const before = provider.tokens()!;
      // Same user and client, but already expired (well past the server's clock tolerance).
      provider.replaceAccessToken(
        await stack.auth.mintAccessToken(asMintUser(user), { clientId: provider.clientId!, expiresIn: -3600 }),
      );

      const result = await client.callTool({ name: 'query', arguments: { sql: OWN_ROW } });
      assert.deepEqual(rows(result), [{ email: user.email }]);
      const after = provider.tokens()!;
      assert.equal(provider.authorizationUrls.length, 1, 'no second consent: the refresh token was used');
      assert.notEqual(after.access_token, before.access_token);
      assert.notEqual(after.refresh_token, before.refresh_token, 'Supabase rotates refresh tokens');
    } finally {
      await client.close();
    }
  });

  test('a denied consent fails cleanly with access_denied', async () => {
    const provider = new HeadlessOAuthProvider({
      user: stack.users.alice,
      action: 'deny',
      clientName: 'SDK deny test',
    });
    await assert.rejects(connectWithOAuth(stack.url, provider), (error: unknown) => {
      assert.ok(error instanceof AuthorizationDeniedError, String(error));
      assert.equal(error.error, 'access_denied');
      return true;
    });
    assert.equal(provider.tokens(), undefined, 'no tokens after a denial');
  });

  test('after the user revokes the grant, refresh fails and the client needs a new sign-in (401)', async () => {
    const user = stack.users.alice;
    const provider = new HeadlessOAuthProvider({ user, clientName: 'SDK revoke test' });
    const client = await connectWithOAuth(stack.url, provider);
    try {
      assert.deepEqual(rows(await client.callTool({ name: 'query', arguments: { sql: OWN_ROW } })), [
        { email: user.email },
      ]);
      await revokeGrant(stack.auth.projectUrl, user, provider.clientId!);

      // Once the access token has expired, the refresh token is all the client has: revoked with the grant.
      provider.replaceAccessToken(
        await stack.auth.mintAccessToken(asMintUser(user), { clientId: provider.clientId!, expiresIn: -3600 }),
      );
      provider.interactive = false; // nobody at the keyboard: the SDK must surface "sign in again"
      await assert.rejects(client.callTool({ name: 'query', arguments: { sql: OWN_ROW } }), (error: unknown) => {
        assert.ok(error instanceof UnauthorizedError, `expected UnauthorizedError, got ${String(error)}`);
        return true;
      });
      assert.ok(
        provider.invalidations.includes('tokens'),
        `the SDK dropped the dead tokens (invalidations: ${provider.invalidations})`,
      );
      assert.equal(provider.tokens(), undefined);
      assert.equal(provider.authorizationUrls.length, 2, 'a new authorization was started');

      // Signing in again (a new consent, since the grant is gone) restores access.
      provider.interactive = true;
      const again = await connectWithOAuth(stack.url, provider);
      try {
        assert.equal(provider.consents.length, 2);
        assert.ok(provider.consents[1]?.details, 'the consent page was shown again (no grant on file)');
        assert.deepEqual(rows(await again.callTool({ name: 'query', arguments: { sql: OWN_ROW } })), [
          { email: user.email },
        ]);
      } finally {
        await again.close();
      }
    } finally {
      await client.close();
    }
  });
});
