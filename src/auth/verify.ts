/**
 * Access-token verification: a Supabase Auth token → the Principal every statement runs as.
 *
 * Keys come from the project's JWKS, held in memory (see keySet below), so a request costs no
 * network call after warm-up, and a JWKS host that goes down never stops tokens signed by a key
 * already known from verifying. Only asymmetric algorithms are accepted: a shared-secret (HS256)
 * token could be forged by anyone holding the public key if the algorithm were taken from the token.
 *
 * @example
 *   const verifier = createTokenVerifier({ issuer, jwksUrl, requireClientId: true });
 *   const principal = await verifier.verify(token); // throws TokenError
 */
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { type Codes, CodedError } from '../errors.js';

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

/** Why a token was refused; see src/errors.ts. */
export type TokenErrorCode = Codes<
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
  | 'JWKS_UNAVAILABLE'
>;

/** Why a token was refused; `message` is safe to show (it never contains the token). */
export class TokenError extends CodedError<TokenErrorCode> {
  constructor(code: TokenErrorCode, message: string) {
    super(code, message);
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
  /** How long a fetched key set is used before it is refetched (ms). Default 10 minutes. */
  keysMaxAgeMs?: number;
  /** Least time between two fetches caused by unknown kids or failures (ms). Default 5 s. */
  refetchCooldownMs?: number;
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /** Fetches the key set if none is cached yet; true when at least one key is usable. */
  ready(): Promise<boolean>;
  /** Why no key is usable (for /readyz), or null when keys are. */
  problem(): string | null;
}

const ALGORITHMS = ['ES256', 'RS256'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const jwks = keySet(options);
  const requireClientId = options.requireClientId ?? true;

  async function verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks.getKey, {
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
      throw new TokenError('TOKEN_CLAIM_INVALID', "The token's sub claim is not a user id (uuid).");
    }
    if (claim('role') !== 'authenticated') {
      throw new TokenError(
        'TOKEN_CLAIM_INVALID',
        "The token's role claim is not authenticated; only signed-in users may use this server.",
      );
    }
    const clientId = claim('client_id');
    if (clientId !== undefined && typeof clientId !== 'string') {
      throw new TokenError('TOKEN_CLAIM_INVALID', "The token's client_id claim is not a string.");
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
    await jwks.ensure();
    return jwks.usable();
  }

  return { verify, ready, problem: () => (jwks.usable() ? null : jwks.problem()) };
}

/** Timeout of one JWKS fetch. */
const FETCH_TIMEOUT_MS = 5_000;

/**
 * The project's signing keys, kept in memory. A set older than `keysMaxAgeMs` keeps verifying
 * while a fresh one is fetched in the background, so a JWKS host that goes down after start-up
 * never stops known keys (a removed key therefore stops verifying within keysMaxAgeMs of its
 * removal, once the host answers). A token naming an unknown kid (a rotation) triggers one fetch,
 * at most one per `refetchCooldownMs` so random kids cannot turn into load on the host. With no
 * set at all (host down at start-up) a call retries the fetch, at most once per cooldown, and
 * fails with JWKS_UNAVAILABLE until one arrives.
 */
function keySet(options: VerifierOptions) {
  const maxAge = options.keysMaxAgeMs ?? 10 * 60_000;
  const cooldown = options.refetchCooldownMs ?? 5_000;
  const doFetch = options.fetch ?? fetch;
  let local: ReturnType<typeof createLocalJWKSet> | null = null;
  let keys: JSONWebKeySet | null = null;
  let fetchedAt = 0;
  let attemptedAt = -Infinity;
  let lastProblem = 'the key set has not been fetched yet';
  let pending: Promise<boolean> | null = null;

  /** One fetch at a time; resolves true when a set was fetched. */
  function refresh(): Promise<boolean> {
    pending ??= fetchKeys().finally(() => (pending = null));
    return pending;
  }

  async function fetchKeys(): Promise<boolean> {
    attemptedAt = performance.now();
    try {
      const response = await doFetch(options.jwksUrl, {
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        headers: { accept: 'application/json' },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const json = (await response.json()) as JSONWebKeySet;
      local = createLocalJWKSet(json);
      keys = json;
      fetchedAt = performance.now();
      lastProblem = 'the key set holds no ES256 or RS256 key';
      return true;
    } catch (error) {
      lastProblem = `the key set could not be fetched from ${options.jwksUrl} (${error instanceof Error ? error.message : String(error)})`;
      return false;
    }
  }

  const coolingDown = () => performance.now() - attemptedAt < cooldown;

  async function ensure(): Promise<void> {
    if (!local && !coolingDown()) await refresh();
    else if (!local && pending) await pending;
  }

  async function getKey(...args: Parameters<ReturnType<typeof createLocalJWKSet>>) {
    await ensure();
    if (!local)
      throw new TokenError('JWKS_UNAVAILABLE', `The project's signing keys are not available yet: ${lastProblem}.`);
    if (performance.now() - fetchedAt > maxAge && !pending && !coolingDown()) void refresh();
    try {
      return await local(...args);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || coolingDown()) throw error;
      // Unknown kid: a rotation, or a forgery. If the host cannot say, neither can we (503, not 401).
      if (!(await refresh()))
        throw new TokenError('JWKS_UNAVAILABLE', `The token names a signing key not known yet, and ${lastProblem}.`);
      return local(...args);
    }
  }

  return {
    getKey,
    ensure,
    usable: () => (keys?.keys ?? []).some((k) => ALGORITHMS.includes(k.alg ?? '')),
    problem: () => lastProblem,
  };
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
        return new TokenError(
          'TOKEN_AUDIENCE_INVALID',
          'The token is meant for another audience: aud must be authenticated.',
        );
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
    return new TokenError('TOKEN_SIGNATURE_INVALID', "The token's signature does not verify.");
  }
  if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
    return new TokenError('JWKS_UNAVAILABLE', 'The signing keys of the project could not be fetched.');
  }
  if (error instanceof errors.JWKSInvalid) {
    return new TokenError('JWKS_UNAVAILABLE', "The project's key set could not be read.");
  }
  return new TokenError('TOKEN_MALFORMED', 'The access token is not a well-formed JWT.');
}
