/**
 * Access-token verification: a Supabase Auth token → the Principal every statement runs as.
 *
 * Keys come from the project's JWKS, cached by jose (fetched once, refetched at most every 30 s
 * and only when a token names a kid the cache lacks), so a request costs no network call after
 * warm-up. Only asymmetric algorithms are accepted: a shared-secret (HS256) token could be forged
 * by anyone holding the public key if the algorithm were taken from the token.
 *
 * @example
 *   const verifier = createTokenVerifier({ issuer, jwksUrl, requireClientId: true });
 *   const principal = await verifier.verify(token); // throws TokenError
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';

export interface Principal {
  /** The user's uuid (`auth.users.id`), what `auth.uid()` returns. */
  sub: string;
  /** The OAuth client the token was minted for; null for web-session tokens (when allowed). */
  clientId: string | null;
  email: string | null;
  scopes: string[];
  /** The verified claims, exactly as signed: what `request.jwt.claims` holds in the database. */
  claims: Readonly<JWTPayload>;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export type TokenErrorCode =
  | 'TOKEN_MALFORMED'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'TOKEN_SIGNATURE_INVALID'
  | 'TOKEN_ALGORITHM_NOT_ALLOWED'
  | 'TOKEN_KEY_UNKNOWN'
  | 'TOKEN_ISSUER_INVALID'
  | 'TOKEN_AUDIENCE_INVALID'
  | 'TOKEN_CLAIM_INVALID'
  | 'TOKEN_NOT_FOR_OAUTH_CLIENT'
  | 'JWKS_UNAVAILABLE';

/** Why a token was refused; `message` is safe to show (it never contains the token). */
export class TokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export interface VerifierOptions {
  issuer: string;
  jwksUrl: string;
  /** Accept only tokens minted for OAuth clients (they carry `client_id`). Default true. */
  requireClientId?: boolean;
  /** Tolerated clock difference in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /** Replaces global fetch for the JWKS (tests, proxies). */
  fetch?: typeof fetch;
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /** Fetches the key set if none is cached yet; true when at least one key is usable. */
  ready(): Promise<boolean>;
}

const ALGORITHMS = ['ES256', 'RS256'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });
  const requireClientId = options.requireClientId ?? true;

  async function verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: 'authenticated',
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: options.clockToleranceSeconds ?? 30,
      }));
    } catch (error) {
      throw describe(error, options.issuer);
    }
    const claim = (name: string) => (payload as Record<string, unknown>)[name];
    if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
      throw new TokenError('TOKEN_CLAIM_INVALID', 'The token\'s sub claim is not a user id (uuid).');
    }
    if (claim('role') !== 'authenticated') {
      throw new TokenError(
        'TOKEN_CLAIM_INVALID',
        'The token\'s role claim is not authenticated; only signed-in users may use this server.',
      );
    }
    const clientId = claim('client_id');
    if (clientId !== undefined && typeof clientId !== 'string') {
      throw new TokenError('TOKEN_CLAIM_INVALID', 'The token\'s client_id claim is not a string.');
    }
    if (requireClientId && !clientId) {
      throw new TokenError(
        'TOKEN_NOT_FOR_OAUTH_CLIENT',
        'The token was not issued to an OAuth client (no client_id claim): sign in through the MCP client, ' +
          'not with a web-app session token.',
      );
    }
    const email = claim('email');
    const scope = claim('scope');
    return {
      sub: payload.sub,
      clientId: clientId ?? null,
      email: typeof email === 'string' && email ? email : null,
      scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
      claims: payload,
      expiresAt: payload.exp!,
    };
  }

  async function ready(): Promise<boolean> {
    try {
      if (!jwks.jwks()) await jwks.reload();
      return (jwks.jwks()?.keys ?? []).some((k) => ALGORITHMS.includes(k.alg ?? ''));
    } catch {
      return false;
    }
  }

  return { verify, ready };
}

/** Maps jose's error codes onto ours, with a sentence a person can act on. */
function describe(error: unknown, issuer: string): TokenError {
  if (error instanceof TokenError) return error;
  if (error instanceof errors.JWTExpired) return new TokenError('TOKEN_EXPIRED', 'The access token has expired.');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return new TokenError('TOKEN_ISSUER_INVALID', `The token was not issued by ${issuer}.`);
      case 'aud':
        return new TokenError('TOKEN_AUDIENCE_INVALID', 'The token is meant for another audience: aud must be authenticated.');
      case 'nbf':
      case 'iat':
        return new TokenError('TOKEN_NOT_YET_VALID', 'The token is not valid yet (check the clocks).');
      default:
        return new TokenError('TOKEN_CLAIM_INVALID', `The token's ${error.claim} claim is missing or invalid.`);
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new TokenError(
      'TOKEN_ALGORITHM_NOT_ALLOWED',
      `The token is not signed with ${ALGORITHMS.join(' or ')}. Supabase projects must use asymmetric JWT signing keys.`,
    );
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new TokenError('TOKEN_KEY_UNKNOWN', 'The token was signed with a key the project does not publish.');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenError('TOKEN_SIGNATURE_INVALID', 'The token\'s signature does not verify.');
  }
  if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
    return new TokenError('JWKS_UNAVAILABLE', 'The signing keys of the project could not be fetched.');
  }
  if (error instanceof errors.JWKSInvalid) {
    return new TokenError('JWKS_UNAVAILABLE', 'The project\'s key set could not be read.');
  }
  return new TokenError('TOKEN_MALFORMED', 'The access token is not a well-formed JWT.');
}
