/**
 * A user's own bearer token on the project's API (consent API, userinfo, grants), checked as
 * GoTrue checks it: signature by a published key (or the legacy secret), an existing user, and an
 * existing session when the token names one.
 */
import type { Context } from 'hono';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { gotrueError } from './http.js';
import type { AuthContext, Session } from './state.js';
import type { DbUser } from './users.js';

export interface Bearer {
  user: DbUser;
  claims: Record<string, unknown>;
  session?: Session;
}

export async function verifyBearer(ctx: AuthContext, c: Context): Promise<Bearer | Response> {
  const header = c.req.header('authorization') ?? '';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return gotrueError(c, 401, 'no_authorization', 'This endpoint requires a valid Bearer token');
  const token = m[1]!;
  let claims: Record<string, unknown>;
  try {
    const legacy = ctx.settings.legacySecret;
    if (legacy !== undefined) {
      claims = (await jwtVerify(token, new TextEncoder().encode(legacy), { algorithms: ['HS256'] })).payload;
    } else {
      const { kid } = decodeProtectedHeader(token);
      const key = ctx.state.keys.find((k) => k.kid === kid);
      if (!key) throw new Error('unknown kid');
      claims = (await jwtVerify(token, key.publicKey, { algorithms: [key.alg] })).payload;
    }
  } catch (e) {
    return gotrueError(c, 403, 'bad_jwt', `invalid JWT: unable to parse or verify signature, ${(e as Error).message}`);
  }
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  const user = await ctx.users.findById(sub);
  if (!user) return gotrueError(c, 403, 'user_not_found', 'User from sub claim in JWT does not exist');
  let session: Session | undefined;
  if (typeof claims.session_id === 'string') {
    session = ctx.state.sessions.get(claims.session_id);
    if (!session || session.userId !== user.id) {
      return gotrueError(c, 403, 'session_not_found', 'Session from session_id claim in JWT does not exist');
    }
  }
  return { user, claims, session };
}
