/**
 * Signing keys, JWS and the JWKS document. Signing uses node:crypto directly (not jose) so that
 * `signWith` can produce arbitrary and malformed tokens for negative tests; the header and payload
 * are used verbatim.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign as cryptoSign,
  type JsonWebKeyInput,
} from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import type { AuthContext, SigningKey } from './state.js';

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function generateKey(alg: 'ES256' | 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: randomUUID(), alg, privateKey, publicKey, publicJwk: await exportJWK(publicKey) };
}

/** The form a key is stored in (store.ts): its private JWK, from which the rest is derived. */
export interface StoredKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateJwk: JWK;
}

export function storeKey(key: SigningKey): StoredKey {
  return { kid: key.kid, alg: key.alg, privateJwk: key.privateKey.export({ format: 'jwk' }) as JWK };
}

export async function restoreKey(stored: StoredKey): Promise<SigningKey> {
  const privateKey = createPrivateKey({ key: stored.privateJwk, format: 'jwk' } as JsonWebKeyInput);
  const publicKey = createPublicKey(privateKey);
  return { kid: stored.kid, alg: stored.alg, privateKey, publicKey, publicJwk: await exportJWK(publicKey) };
}

export type SigningSecret =
  | { kind: 'none' }
  | { kind: 'hmac'; secret: string | Uint8Array }
  | { kind: 'asym'; key: SigningKey };

/** JWS compact serialization with the header and payload used verbatim. */
export function rawSign(header: Record<string, unknown>, payload: Record<string, unknown>, key: SigningSecret): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  let sig: Buffer;
  if (key.kind === 'none') {
    sig = Buffer.alloc(0);
  } else if (key.kind === 'hmac') {
    const alg = String(header.alg ?? 'HS256');
    const hash = alg === 'HS384' ? 'sha384' : alg === 'HS512' ? 'sha512' : 'sha256';
    sig = createHmac(hash, key.secret).update(input).digest();
  } else if (key.key.alg === 'ES256') {
    sig = cryptoSign('sha256', Buffer.from(input), { key: key.key.privateKey, dsaEncoding: 'ieee-p1363' });
  } else {
    sig = cryptoSign('sha256', Buffer.from(input), key.key.privateKey);
  }
  return `${input}.${b64url(sig)}`;
}

export function currentKey(ctx: AuthContext): SigningKey {
  return ctx.state.keys[ctx.state.keys.length - 1]!;
}

/** A token as the project signs it: the legacy shared secret (HS256, no kid), else the current key. */
export function signJwt(ctx: AuthContext, payload: Record<string, unknown>): string {
  const legacy = ctx.settings.legacySecret;
  if (legacy !== undefined) return rawSign({ alg: 'HS256', typ: 'JWT' }, payload, { kind: 'hmac', secret: legacy });
  const key = currentKey(ctx);
  return rawSign({ alg: key.alg, kid: key.kid, typ: 'JWT' }, payload, { kind: 'asym', key });
}

/** Newest key first; a legacy-secret project publishes no key at all. */
export function jwksDocument(ctx: AuthContext): { keys: JWK[] } {
  if (ctx.settings.legacySecret !== undefined) return { keys: [] };
  return {
    keys: [...ctx.state.keys]
      .reverse()
      .map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig', key_ops: ['verify'] })),
  };
}
