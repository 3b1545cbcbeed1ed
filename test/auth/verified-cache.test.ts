/**
 * The verified-token cache in front of the real verifier (real ES256 tokens, the key set served
 * from memory): a token is verified once, trusted until its exp and never beyond, re-verified
 * after maxAge so a removed signing key stops working, and refusals are never remembered.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { cachedVerifier } from '../../src/auth/verified-cache.js';
import { createTokenVerifier, TokenError, type TokenVerifier } from '../../src/auth/verify.js';

const ISSUER = 'https://abcd1234.supabase.co/auth/v1';
const JWKS_URL = `${ISSUER}/.well-known/jwks.json`;
const keys = await generateKeyPair('ES256');
const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };

/** The real verifier, counting the verifications that reach it; `revoked` makes it refuse like a removed key. */
function counted() {
  const real = createTokenVerifier({
    issuer: ISSUER,
    jwksUrl: JWKS_URL,
    fetch: (async () => Response.json({ keys: [publicJwk] })) as typeof fetch,
  });
  const state = { calls: 0, revoked: false };
  const verifier: TokenVerifier = {
    async verify(token) {
      state.calls++;
      if (state.revoked)
        throw new TokenError('TOKEN_KEY_UNKNOWN', 'The token was signed with a key the project does not publish.');
      return real.verify(token);
    },
    ready: () => real.ready(),
    problem: () => real.problem(),
  };
  return { verifier, state };
}

function token(expiresInSeconds: number, sub: string = crypto.randomUUID()) {
  return new SignJWT({ role: 'authenticated', client_id: 'c1' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience('authenticated')
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
    .sign(keys.privateKey);
}

describe('cachedVerifier', () => {
  test('the same token is verified once, and each token keeps its own principal', async () => {
    const { verifier, state } = counted();
    const cache = cachedVerifier(verifier);
    const [a, b] = [await token(3600), await token(3600)];
    const first = await cache.verify(a);
    assert.equal((await cache.verify(a)).sub, first.sub);
    assert.equal(state.calls, 1);
    assert.notEqual((await cache.verify(b)).sub, first.sub);
    assert.equal(state.calls, 2);
  });

  test("an entry is never trusted past the token's exp", async () => {
    const { verifier, state } = counted();
    let clock = Date.now();
    const cache = cachedVerifier(verifier, { maxAgeMs: 3_600_000, now: () => clock });
    const t = await token(20);
    const { expiresAt } = await cache.verify(t);
    clock = expiresAt * 1000 - 1;
    await cache.verify(t);
    assert.equal(state.calls, 1);
    clock = expiresAt * 1000;
    await cache.verify(t);
    assert.equal(state.calls, 2, 'at exp the verifier decides again');
  });

  test('after maxAge the verifier decides again: a removed signing key stops working', async () => {
    const { verifier, state } = counted();
    let clock = Date.now();
    const cache = cachedVerifier(verifier, { maxAgeMs: 60_000, now: () => clock });
    const t = await token(3600);
    await cache.verify(t);
    state.revoked = true;
    clock += 59_000;
    await cache.verify(t);
    clock += 1_000;
    await assert.rejects(cache.verify(t), (e: TokenError) => e.code === 'TOKEN_KEY_UNKNOWN');
  });

  test('refusals are not remembered, and the cache is bounded', async () => {
    const { verifier, state } = counted();
    const cache = cachedVerifier(verifier, { maxEntries: 2 });
    const t = await token(3600);
    state.revoked = true;
    await assert.rejects(cache.verify(t));
    state.revoked = false;
    await cache.verify(t);
    assert.equal(state.calls, 2, 'a refusal must not be served from memory');
    const [u, v] = [await token(3600), await token(3600)];
    await cache.verify(u);
    await cache.verify(v);
    await cache.verify(t);
    assert.equal(state.calls, 5, 'the least recently used token was evicted');
  });
});
