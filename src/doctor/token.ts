/**
 * The `token` check: verifies an access token exactly as the server would (same verifier, same
 * options) and, when it is refused, names the claim or header at fault. The token itself is
 * never repeated: only its claims are described.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createTokenVerifier, TokenError, type TokenErrorCode } from '../auth/verify.js';
import { JWT_ROTATION_STEPS } from './keys.js';
import { fail, pass, type CheckResult } from './report.js';

export interface TokenExpectations {
  issuer: string;
  allowSessionTokens: boolean;
}

export async function checkToken(
  token: string,
  { issuer, allowSessionTokens }: TokenExpectations,
  fetchImpl: typeof fetch,
): Promise<CheckResult> {
  const verifier = createTokenVerifier({
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    requireClientId: !allowSessionTokens,
    fetch: fetchImpl,
  });
  try {
    const principal = await verifier.verify(token);
    const left = Math.round(principal.expiresAt - Date.now() / 1000);
    const client = principal.clientId ?? '(none: session token)';
    return pass(
      'token',
      `Accepted: sub ${principal.sub}, client_id ${client}, scope "${principal.scopes.join(' ')}", expires in ${left} s.`,
    );
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    const detail = describeRefusal(error.code, token, issuer);
    const fix = FIXES[error.code] ?? 'Sign in again through the MCP client to get a token from this project.';
    return fail('token', error.code, `Refused (${error.code}): ${error.message} ${detail}`.trim(), fix);
  }
}

/** The claim or header behind a refusal, decoded without verifying (the verdict is already made). */
function describeRefusal(code: TokenErrorCode, token: string, issuer: string): string {
  let header: Record<string, unknown> = {};
  let claims: Record<string, unknown> = {};
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
    claims = decodeJwt(token) as Record<string, unknown>;
  } catch {
    // The verifier's message already explains a malformed token.
  }
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
  switch (code) {
    case 'TOKEN_ISSUER_INVALID':
      return `claim iss = ${show(claims.iss)}, the server expects ${JSON.stringify(issuer)}.`;
    case 'TOKEN_AUDIENCE_INVALID':
      return `claim aud = ${show(claims.aud)}, the server expects "authenticated".`;
    case 'TOKEN_EXPIRED':
      return `claim exp = ${show(claims.exp)}${typeof claims.exp === 'number' ? ` (${new Date(claims.exp * 1000).toISOString()})` : ''}.`;
    case 'TOKEN_NOT_YET_VALID':
      return `claim iat/nbf is in the future: iat = ${show(claims.iat)}, nbf = ${show(claims.nbf)}.`;
    case 'TOKEN_ALGORITHM_NOT_ALLOWED':
      return `header alg = ${show(header.alg)}; only ES256 and RS256 are accepted.`;
    case 'TOKEN_KEY_UNKNOWN':
      return `header kid = ${show(header.kid)} is not in the project's JWKS.`;
    case 'TOKEN_NOT_FOR_OAUTH_CLIENT':
      return 'claim client_id is absent: this is a web-app session token, not one minted for an OAuth client.';
    case 'TOKEN_CLAIM_INVALID':
      return `claims: role = ${show(claims.role)}, sub = ${show(claims.sub)}, client_id = ${show(claims.client_id)}.`;
    default:
      return '';
  }
}

const FIXES: Partial<Record<TokenErrorCode, string>> = {
  TOKEN_ISSUER_INVALID:
    "Use a token from this project, or set SUPABASE_URL so that SUPABASE_URL/auth/v1 equals the token's iss.",
  TOKEN_EXPIRED: 'Get a fresh token (the client refreshes it with its refresh token).',
  TOKEN_ALGORITHM_NOT_ALLOWED: JWT_ROTATION_STEPS,
  TOKEN_KEY_UNKNOWN: 'The key that signed it was revoked or belongs to another project: sign in again.',
  TOKEN_NOT_FOR_OAUTH_CLIENT:
    "Sign in through the MCP client (OAuth), or set ALLOW_SESSION_TOKENS=true to accept the web app's own session tokens.",
  TOKEN_NOT_YET_VALID: "Synchronise this machine's clock (NTP).",
  JWKS_UNAVAILABLE: 'Fix the JWKS check above first.',
};
