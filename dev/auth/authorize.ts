/**
 * Authorization and consent, Supabase's way: /oauth/authorize checks the request and redirects to
 * the *app's* consent route with an authorization_id; the app, signed in with the user's own
 * session, reads the request (GET /oauth/authorizations/{id}) and answers it
 * (POST …/consent → {redirect_url}). A consent already on file for these scopes approves at once.
 */
import type { Context, Hono } from 'hono';
import { verifyBearer } from './bearer.js';
import { upsertConsent } from './grants.js';
import { gotrueError, randomToken, UUID_RE } from './http.js';
import {
  AUTHORIZATION_PATH,
  AUTHORIZATION_TTL_MS,
  consentKey,
  DEFAULT_SCOPE,
  parseScopes,
  SUPPORTED_SCOPES,
  type Authorization,
  type AuthContext,
} from './state.js';
import { isBanned } from './users.js';

function errorRedirect(redirectUri: string, error: string, description: string, state: string): string {
  const u = new URL(redirectUri);
  u.searchParams.set('error', error);
  u.searchParams.set('error_description', description);
  if (state) u.searchParams.set('state', state);
  return u.toString();
}

function successRedirect(auth: Authorization): string {
  const u = new URL(auth.redirectUri);
  if (auth.code) u.searchParams.set('code', auth.code);
  if (auth.state) u.searchParams.set('state', auth.state);
  return u.toString();
}

function approve(ctx: AuthContext, auth: Authorization): void {
  auth.status = 'approved';
  auth.code = randomToken(32);
  auth.expiresAt = Date.now() + AUTHORIZATION_TTL_MS;
  ctx.state.codes.set(auth.code, auth.id);
}

/** Pending, unexpired authorization or an error response (GoTrue's validateAndFindAuthorization). */
function findPendingAuthorization(ctx: AuthContext, c: Context, id: string): Authorization | Response {
  const auth = ctx.state.authorizations.get(id);
  if (!auth) return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
  if (auth.expiresAt <= Date.now()) {
    auth.status = 'expired';
    return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
  }
  if (auth.status !== 'pending')
    return gotrueError(c, 400, 'validation_failed', 'authorization request cannot be processed');
  return auth;
}

function validateOrigin(ctx: AuthContext, c: Context): Response | undefined {
  const origin = c.req.header('origin');
  if (!origin) return undefined;
  if (origin.replace(/\/$/, '') !== new URL(ctx.urls.projectUrl).origin) {
    return gotrueError(c, 400, 'validation_failed', 'unauthorized request origin');
  }
  return undefined;
}

export function authorizeRoutes(app: Hono, ctx: AuthContext): void {
  app.get('/auth/v1/oauth/authorize', async (c) => {
    const autoApprove = ctx.settings.autoApprove;
    const q = (k: string) => c.req.query(k) ?? '';
    const clientId = q('client_id');
    const redirectUri = q('redirect_uri');
    const state = q('state');
    // Errors before client + redirect_uri are trusted: JSON, never a redirect.
    if (!clientId) return gotrueError(c, 400, 'validation_failed', 'client_id is required');
    if (!redirectUri) return gotrueError(c, 400, 'validation_failed', 'redirect_uri is required');
    if (!UUID_RE.test(clientId)) return gotrueError(c, 400, 'oauth_client_not_found', 'invalid client_id format');
    const client = ctx.state.clients.get(clientId.toLowerCase());
    if (!client) return gotrueError(c, 400, 'oauth_client_not_found', 'invalid client_id');
    if (!client.redirect_uris.includes(redirectUri))
      return gotrueError(c, 400, 'validation_failed', 'invalid redirect_uri');

    // From here on errors go back to the client as invalid_request redirects.
    const fail = (description: string, error = 'invalid_request') =>
      c.redirect(errorRedirect(redirectUri, error, description, state), 302);
    const responseType = q('response_type') || 'code';
    const scope = q('scope') || DEFAULT_SCOPE;
    const resource = q('resource');
    const challenge = q('code_challenge');
    const method = q('code_challenge_method');
    if (responseType !== 'code') return fail('only response_type=code is supported');
    const scopes = parseScopes(scope);
    if (scopes.length === 0) return fail('scope parameter cannot be empty');
    for (const s of scopes) {
      if (!(SUPPORTED_SCOPES as readonly string[]).includes(s)) return fail(`unsupported scope: ${s}`);
    }
    if (resource) {
      let u: URL | undefined;
      try {
        u = new URL(resource);
      } catch {
        return fail('resource must be an absolute URI');
      }
      if (resource.includes('#')) return fail('resource must not include a fragment component');
      if (u.search !== '' || resource.includes('?')) return fail('resource must not include a query component');
    }
    if (!challenge || !method) return fail('PKCE flow requires both code_challenge and code_challenge_method');
    const m = method.toLowerCase();
    if (m !== 's256' && m !== 'plain') return fail("code_challenge_method must be 'S256' or 'plain'");
    if (challenge.length < 43 || challenge.length > 128)
      return fail('code_challenge must be between 43 and 128 characters');

    const auth: Authorization = {
      id: randomToken(24),
      clientId: client.client_id,
      redirectUri,
      scope,
      state,
      resource,
      nonce: q('nonce'),
      codeChallenge: challenge,
      codeChallengeMethod: m,
      status: 'pending',
      expiresAt: Date.now() + AUTHORIZATION_TTL_MS,
    };
    ctx.state.authorizations.set(auth.id, auth);

    if (autoApprove) {
      const user = await ctx.users.findByEmail(autoApprove.email);
      if (!user) return fail(`autoApprove user ${autoApprove.email} not found`, 'server_error');
      if (isBanned(user)) return fail('User is banned', 'access_denied');
      auth.userId = user.id;
      approve(ctx, auth);
      upsertConsent(ctx, user.id, client.client_id, auth.scope);
      return c.redirect(successRedirect(auth), 302);
    }
    return c.redirect(
      `${ctx.urls.projectUrl.replace(/\/+$/, '')}${AUTHORIZATION_PATH}?authorization_id=${auth.id}`,
      302,
    );
  });

  app.get('/auth/v1/oauth/authorizations/:id', async (c) => {
    const bad = validateOrigin(ctx, c);
    if (bad) return bad;
    const who = await verifyBearer(ctx, c);
    if (who instanceof Response) return who;
    const found = findPendingAuthorization(ctx, c, c.req.param('id'));
    if (found instanceof Response) return found;
    const auth = found;
    if (auth.userId === undefined) {
      auth.userId = who.user.id;
      const consent = ctx.state.consents.get(consentKey(who.user.id, auth.clientId));
      if (consent && !consent.revoked && parseScopes(auth.scope).every((s) => consent.scopes.has(s))) {
        approve(ctx, auth); // consent already covers these scopes: GoTrue auto-approves
        return c.json({ redirect_url: successRedirect(auth) });
      }
    } else if (auth.userId !== who.user.id) {
      return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
    }
    const client = ctx.state.clients.get(auth.clientId)!;
    const client_: Record<string, unknown> = { id: client.client_id };
    if (client.client_name) client_.name = client.client_name;
    if (client.client_uri) client_.uri = client.client_uri;
    if (client.logo_uri) client_.logo_uri = client.logo_uri;
    return c.json({
      authorization_id: auth.id,
      redirect_uri: auth.redirectUri,
      client: client_,
      user: { id: who.user.id, email: who.user.email ?? undefined },
      scope: auth.scope,
    });
  });

  app.post('/auth/v1/oauth/authorizations/:id/consent', async (c) => {
    const bad = validateOrigin(ctx, c);
    if (bad) return bad;
    const who = await verifyBearer(ctx, c);
    if (who instanceof Response) return who;
    let body: unknown;
    try {
      body = JSON.parse((await c.req.text()) || 'null');
    } catch {
      return gotrueError(c, 400, 'bad_json', 'invalid JSON body');
    }
    const action = body && typeof body === 'object' ? (body as Record<string, unknown>).action : undefined;
    if (action !== 'approve' && action !== 'deny')
      return gotrueError(c, 400, 'validation_failed', "action must be 'approve' or 'deny'");
    const found = findPendingAuthorization(ctx, c, c.req.param('id'));
    if (found instanceof Response) return found;
    const auth = found;
    if (auth.userId !== who.user.id)
      return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
    if (action === 'approve') {
      approve(ctx, auth);
      upsertConsent(ctx, who.user.id, auth.clientId, auth.scope);
      return c.json({ redirect_url: successRedirect(auth) });
    }
    auth.status = 'denied';
    return c.json({
      redirect_url: errorRedirect(auth.redirectUri, 'access_denied', 'User denied the request', auth.state),
    });
  });
}
