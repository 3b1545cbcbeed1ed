/**
 * The token endpoints: OAuth's /oauth/token (authorization_code with PKCE, refresh_token, client
 * authentication), OIDC userinfo, and GoTrue's own /token (password sign-in and refresh of the
 * web app's session, which the consent page uses).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import { verifyBearer } from './bearer.js';
import { authenticateClient } from './clients.js';
import { gotrueError, OAuthFailure, readParams, sha256 } from './http.js';
import { accessTokenFor, idTokenFor, issueRefreshToken, newSession, refreshGrant } from './sessions.js';
import { AMR_OAUTH, AMR_PASSWORD, nowSeconds, parseScopes, type AuthContext } from './state.js';
import { isBanned, userInfoClaims, type DbUser } from './users.js';

export function tokenRoutes(app: Hono, ctx: AuthContext): void {
  const ttl = ctx.settings.accessTokenTtlSeconds;

  app.post('/auth/v1/oauth/token', async (c) => {
    const params = await readParams(c);
    const grantType = params.grant_type ?? '';
    if (!grantType) throw new OAuthFailure(400, 'invalid_request', 'grant_type is required');
    const client = authenticateClient(ctx, c, params);
    if (!client.grant_types.includes(grantType)) {
      const known = grantType === 'authorization_code' || grantType === 'refresh_token';
      throw new OAuthFailure(
        400,
        'unsupported_grant_type',
        known ? `Client is not allowed to use grant type: ${grantType}` : `Unsupported grant type: ${grantType}`,
      );
    }
    const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

    if (grantType === 'authorization_code') {
      const code = params.code ?? '';
      if (!code) throw new OAuthFailure(400, 'invalid_request', 'code is required for authorization_code grant');
      const { authorizations, codes } = ctx.state;
      const authId = codes.get(code);
      const auth = authId ? authorizations.get(authId) : undefined;
      if (auth?.status !== 'approved' || auth.code !== code)
        throw new OAuthFailure(400, 'invalid_grant', 'Invalid authorization code');
      if (auth.expiresAt <= Date.now()) throw new OAuthFailure(400, 'invalid_grant', 'Authorization code has expired');
      if (auth.clientId !== client.client_id)
        throw new OAuthFailure(400, 'invalid_grant', 'Authorization code was not issued for this client');
      if (params.resource && params.resource !== auth.resource) {
        throw new OAuthFailure(
          400,
          'invalid_grant',
          'Authorization code resource does not match the resource parameter',
        );
      }
      if (params.redirect_uri && params.redirect_uri !== auth.redirectUri)
        throw new OAuthFailure(400, 'invalid_grant', 'Invalid redirect_uri');
      const verifier = params.code_verifier ?? '';
      if (!verifier)
        throw new OAuthFailure(400, 'invalid_grant', 'PKCE verification failed: code_verifier is required');
      if (verifier.length < 43 || verifier.length > 128) {
        throw new OAuthFailure(
          400,
          'invalid_grant',
          'PKCE verification failed: code_verifier must be between 43 and 128 characters',
        );
      }
      const computed = auth.codeChallengeMethod === 's256' ? sha256(verifier).toString('base64url') : verifier;
      if (
        computed.length !== auth.codeChallenge.length ||
        !timingSafeEqual(Buffer.from(computed), Buffer.from(auth.codeChallenge))
      ) {
        throw new OAuthFailure(400, 'invalid_grant', 'PKCE verification failed: code challenge does not match');
      }
      // Single use: consumed before any await, so a concurrent second exchange cannot succeed.
      codes.delete(code);
      authorizations.delete(auth.id);
      const user = auth.userId ? await ctx.users.findById(auth.userId) : undefined;
      if (!user) throw new OAuthFailure(400, 'invalid_grant', 'User not found for authorization code');
      if (isBanned(user)) throw new OAuthFailure(400, 'access_denied', 'User is banned');
      const session = newSession(ctx, user.id, client.client_id, auth.scope, AMR_OAUTH);
      const body: Record<string, unknown> = {
        access_token: accessTokenFor(ctx, user, session),
        token_type: 'bearer',
        expires_in: ttl,
        refresh_token: issueRefreshToken(ctx, session),
      };
      if (parseScopes(auth.scope).includes('openid'))
        body.id_token = idTokenFor(ctx, user, client, auth, session.amr[0]!.timestamp);
      return c.json(body, 200, noStore);
    }

    // refresh_token
    const result = await refreshGrant(ctx, params.refresh_token ?? '', client.client_id);
    return c.json(
      { access_token: result.accessToken, token_type: 'bearer', expires_in: ttl, refresh_token: result.refreshToken },
      200,
      noStore,
    );
  });

  app.get('/auth/v1/oauth/userinfo', async (c) => {
    const who = await verifyBearer(ctx, c);
    if (who instanceof Response) return who;
    const scopes = who.session && who.session.clientId !== null ? parseScopes(who.session.scope ?? '') : undefined;
    return c.json(userInfoClaims(who.user, scopes));
  });

  // GoTrue's own session endpoint, used by the consent page (and by tests) to sign a user in.
  app.post('/auth/v1/token', async (c) => {
    const grantType = c.req.query('grant_type') ?? '';
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse((await c.req.text()) || '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      return gotrueError(c, 400, 'bad_json', 'Could not parse request body as JSON');
    }
    const sessionResponse = (user: DbUser, accessToken: string, refreshToken: string) =>
      c.json({
        access_token: accessToken,
        token_type: 'bearer',
        expires_in: ttl,
        expires_at: nowSeconds() + ttl,
        refresh_token: refreshToken,
        user: {
          id: user.id,
          aud: 'authenticated',
          role: 'authenticated',
          email: user.email ?? '',
          phone: user.phone ?? '',
          app_metadata: user.raw_app_meta_data ?? {},
          user_metadata: user.raw_user_meta_data ?? {},
          is_anonymous: user.is_anonymous ?? false,
        },
      });
    if (grantType === 'password') {
      const email = typeof body.email === 'string' ? body.email : '';
      const password = typeof body.password === 'string' ? body.password : '';
      if (!email || !password) return gotrueError(c, 400, 'validation_failed', 'missing email or phone');
      const user = await ctx.users.checkPassword(email, password);
      if (!user) return gotrueError(c, 400, 'invalid_credentials', 'Invalid login credentials');
      if (isBanned(user)) return gotrueError(c, 400, 'user_banned', 'User is banned');
      const session = newSession(ctx, user.id, null, undefined, AMR_PASSWORD);
      return sessionResponse(user, accessTokenFor(ctx, user, session), issueRefreshToken(ctx, session));
    }
    if (grantType === 'refresh_token') {
      try {
        const r = await refreshGrant(ctx, typeof body.refresh_token === 'string' ? body.refresh_token : '', null);
        return sessionResponse(r.user, r.accessToken, r.refreshToken);
      } catch (e) {
        if (e instanceof OAuthFailure)
          return gotrueError(c, 400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
        throw e;
      }
    }
    return gotrueError(c, 400, 'validation_failed', 'unsupported_grant_type');
  });
}
