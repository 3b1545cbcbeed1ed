/**
 * A bounded memory of tokens already verified, in front of any TokenVerifier: an agent sends the
 * same access token on every call, and checking its ES256 signature again each time is most of
 * the CPU a call spends on authentication.
 *
 * An entry is keyed by the SHA-256 of the token (the token itself is not kept), holds the Principal
 * the verifier returned, and is trusted until the earlier of the token's `exp` (never beyond) and
 * `maxAgeMs` after it was verified. That second bound is what keeps key revocation working: a
 * signing key removed from the project's JWKS stops being honoured by the verifier within its own
 * refresh bound, and by this cache at most `maxAgeMs` later. Refusals are never remembered, so a
 * key that appears in a rotation is picked up at once.
 *
 * @example
 *   const verifier = cachedVerifier(createTokenVerifier({ issuer, jwksUrl }));
 */
import { createHash } from 'node:crypto';
import type { Principal, TokenVerifier } from './verify.js';

export interface VerifiedCacheOptions {
  /** Tokens remembered at most; the least recently used goes first. Default 1,000. */
  maxEntries?: number;
  /** How long a verification is trusted, ms. Default 60 s (the JWKS is refreshed every 10 min). */
  maxAgeMs?: number;
  /** The clock, ms since the epoch (tests). */
  now?: () => number;
}

export function cachedVerifier(
  verifier: TokenVerifier,
  { maxEntries = 1_000, maxAgeMs = 60_000, now = Date.now }: VerifiedCacheOptions = {},
): TokenVerifier {
  const entries = new Map<string, { principal: Principal; until: number }>();

  async function verify(token: string): Promise<Principal> {
    const key = createHash('sha256').update(token).digest('base64url');
    const entry = entries.get(key);
    if (entry) {
      entries.delete(key);
      if (now() < entry.until) {
        entries.set(key, entry);
        return entry.principal;
      }
    }
    const principal = await verifier.verify(token);
    const until = Math.min(principal.expiresAt * 1000, now() + maxAgeMs);
    if (now() < until) {
      entries.set(key, { principal, until });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    }
    return principal;
  }

  return { verify, ready: () => verifier.ready(), problem: () => verifier.problem() };
}
