/**
 * The `jwks` check: does the project publish an asymmetric signing key (ES256 or RS256), and
 * does Auth sign with it? The server never accepts the legacy HS256 shared secret.
 */
import { readJson, type Http } from './http.js';
import type { Metadata } from './oauth.js';
import { errorMessage, fail, pass, warn, type CheckResult } from './report.js';

export const JWT_ROTATION_STEPS =
  'Supabase dashboard → Project Settings → JWT Keys: (1) "Create standby key", type ECC (P-256) (ES256, recommended) ' +
  'or RSA; (2) "Rotate keys" so the standby key signs new tokens (the legacy HS256 secret becomes "previously used": ' +
  'tokens it signed keep working until they expire); (3) after the longest token lifetime (1 h by default), revoke the ' +
  'legacy secret. Then re-run `npm run doctor`: the JWKS at SUPABASE_URL/auth/v1/.well-known/jwks.json must list an ' +
  'ES256 or RS256 key.';

/** `metadata` (null when there is none) says which algorithms Auth signs with. */
export async function checkJwks(http: Http, issuer: string, metadata: Metadata | null): Promise<CheckResult> {
  // The server reads this URL, whatever the metadata's jwks_uri says.
  const expected = `${issuer}/.well-known/jwks.json`;
  let body: Record<string, unknown> | null = null;
  let status = 0;
  try {
    const response = await http.request(expected);
    status = response.status;
    body = response.ok ? await readJson(response) : (await response.body?.cancel(), null);
  } catch (error) {
    return fail(
      'jwks',
      'JWKS_UNREACHABLE',
      `${expected} did not answer: ${errorMessage(error)}.`,
      'Check SUPABASE_URL and the network path to it.',
    );
  }
  if (!body || !Array.isArray(body.keys)) {
    return fail(
      'jwks',
      'JWKS_UNREACHABLE',
      `${expected} answered HTTP ${status} without a key set.`,
      'Check SUPABASE_URL: it must be the project URL.',
    );
  }
  const keys = body.keys as Array<Record<string, unknown>>;
  const usable = keys.filter((k) => k.alg === 'ES256' || k.alg === 'RS256');
  const algorithms = metadata?.id_token_signing_alg_values_supported;
  const signedWith = Array.isArray(algorithms) ? algorithms.join(', ') : null;
  if (!usable.length) {
    const legacy = keys.length === 0 || signedWith?.includes('HS256');
    const listed = keys.length ? ` (${keys.map((k) => `${k.kty}/${k.alg ?? 'no alg'}`).join(', ')})` : '';
    return fail(
      'jwks',
      legacy ? 'JWKS_LEGACY_ONLY' : 'JWKS_NO_USABLE_KEY',
      `${expected} lists ${keys.length} key(s)${listed}, none ES256 or RS256${signedWith ? `; Auth signs with ${signedWith}` : ''}: ` +
        'the project still uses the legacy HS256 shared secret, which this server never accepts (anyone with the secret could mint tokens).',
      JWT_ROTATION_STEPS,
    );
  }
  if (signedWith?.includes('HS256') && !/ES256|RS256/.test(signedWith)) {
    return warn(
      'jwks',
      'JWKS_NOT_ROTATED',
      `The JWKS has ${usable.length} asymmetric key(s) but Auth still signs with ${signedWith}: new tokens will be refused.`,
      'Supabase dashboard → Project Settings → JWT Keys → "Rotate keys" so the asymmetric (standby) key becomes the current key.',
    );
  }
  const jwksUri = metadata?.jwks_uri;
  const note =
    typeof jwksUri === 'string' && jwksUri !== expected
      ? ` (metadata jwks_uri is ${jwksUri}, the server reads ${expected})`
      : '';
  return pass(
    'jwks',
    `${usable.length} usable key(s): ${usable.map((k) => `${k.alg} kid=${k.kid}`).join(', ')}${note}.`,
  );
}
