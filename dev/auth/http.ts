/**
 * The stand-in's two error shapes, as GoTrue answers them: its own JSON `{code, error_code, msg}`
 * for the project's API, and RFC 6749 `{error, error_description}` for the OAuth token endpoint.
 * Plus reading a token request's parameters (form or JSON, as GoTrue accepts both).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** An OAuth error answer (RFC 6749 §5.2); thrown, turned into a response by the app's onError. */
export class OAuthFailure extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function gotrueError(c: Context, status: ContentfulStatusCode, errorCode: string, msg: string): Response {
  return c.json({ code: status, error_code: errorCode, msg }, status);
}

export function oauthError(c: Context, f: OAuthFailure): Response {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (f.status === 401 && /^Basic /i.test(c.req.header('authorization') ?? ''))
    headers['WWW-Authenticate'] = 'Basic realm="oauth"';
  return c.json({ error: f.error, error_description: f.description }, f.status, headers);
}

export async function readParams(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  const text = await c.req.text();
  if (type.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text || 'null');
    } catch {
      throw new OAuthFailure(400, 'invalid_request', 'Invalid JSON body');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new OAuthFailure(400, 'invalid_request', 'Invalid JSON body');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
    return out;
  }
  return Object.fromEntries(new URLSearchParams(text));
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
