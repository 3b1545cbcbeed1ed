/**
 * Sessions and the tokens issued for them: access tokens with exactly Supabase's claims, OIDC ID
 * tokens, and rotating refresh tokens with GoTrue's reuse detection.
 */
import { randomUUID } from 'node:crypto';
import { OAuthFailure, randomToken } from './http.js';
import { signJwt } from './keys.js';
import { nowSeconds, parseScopes, type Authorization, type AuthContext, type Client, type Session } from './state.js';
import type { AccessTokenClaims, MintUser } from './types.js';
import { isBanned, mintUserFromDb, userInfoClaims, type DbUser } from './users.js';

export function newSession(
  ctx: AuthContext,
  userId: string,
  clientId: string | null,
  scope: string | undefined,
  method: string,
): Session {
  const session: Session = {
    id: randomUUID(),
    userId,
    clientId,
    scope,
    amr: [{ method, timestamp: nowSeconds() }],
    refreshTokens: new Set(),
  };
  ctx.state.sessions.set(session.id, session);
  ctx.changed();
  return session;
}

export function issueRefreshToken(ctx: AuthContext, session: Session): string {
  const token = randomToken(24);
  ctx.state.refreshTokens.set(token, { sessionId: session.id, used: false });
  session.refreshTokens.add(token);
  ctx.changed();
  return token;
}

export function deleteSession(ctx: AuthContext, session: Session): void {
  for (const t of session.refreshTokens) ctx.state.refreshTokens.delete(t);
  ctx.state.sessions.delete(session.id);
  ctx.changed();
}

export function buildClaims(
  ctx: AuthContext,
  user: MintUser,
  session: Session,
  iat: number,
  expiresIn: number,
): AccessTokenClaims {
  const claims: AccessTokenClaims = {
    iss: ctx.urls.issuer,
    sub: user.id,
    aud: 'authenticated',
    exp: iat + expiresIn,
    iat,
    email: user.email ?? '',
    phone: user.phone ?? '',
    app_metadata: user.app_metadata ?? {},
    user_metadata: user.user_metadata ?? {},
    role: 'authenticated',
    aal: 'aal1',
    amr: session.amr,
    session_id: session.id,
    is_anonymous: user.is_anonymous ?? false,
  };
  if (session.clientId !== null) {
    claims.client_id = session.clientId;
    claims.scope = session.scope ?? '';
  }
  return claims;
}

export function accessTokenFor(ctx: AuthContext, user: DbUser, session: Session): string {
  return signJwt(
    ctx,
    buildClaims(ctx, mintUserFromDb(user), session, nowSeconds(), ctx.settings.accessTokenTtlSeconds),
  );
}

export function idTokenFor(
  ctx: AuthContext,
  user: DbUser,
  client: Client,
  auth: Authorization,
  authTime: number,
): string {
  const iat = nowSeconds();
  const payload: Record<string, unknown> = {
    iss: ctx.urls.issuer,
    sub: user.id,
    aud: client.client_id,
    exp: iat + ctx.settings.accessTokenTtlSeconds,
    iat,
    auth_time: authTime,
    ...userInfoClaims(user, parseScopes(auth.scope)),
  };
  if (auth.nonce) payload.nonce = auth.nonce;
  return signJwt(ctx, payload);
}

/** Rotate a refresh token. Reuse of a rotated token revokes the whole session (GoTrue's reuse detection). */
export async function refreshGrant(
  ctx: AuthContext,
  token: string,
  clientId: string | null,
): Promise<{ accessToken: string; refreshToken: string; user: DbUser }> {
  if (!token) throw new OAuthFailure(400, 'invalid_request', 'refresh_token is required for refresh_token grant');
  const invalid = () => new OAuthFailure(400, 'invalid_grant', 'Refresh token is invalid or expired.');
  const { refreshTokens, sessions } = ctx.state;
  const record = refreshTokens.get(token);
  if (!record) throw invalid();
  const session = sessions.get(record.sessionId);
  if (!session) throw invalid();
  if (session.clientId !== clientId) throw invalid();
  if (record.used) {
    deleteSession(ctx, session);
    throw invalid();
  }
  record.used = true;
  ctx.changed();
  const user = await ctx.users.findById(session.userId);
  if (!user || isBanned(user)) {
    deleteSession(ctx, session);
    throw invalid();
  }
  if (!sessions.has(session.id)) throw invalid(); // revoked while we were reading the user
  return { accessToken: accessTokenFor(ctx, user, session), refreshToken: issueRefreshToken(ctx, session), user };
}
