/**
 * Grants: the consents a user gave, as Supabase keeps them. Listing them, and withdrawing one
 * (DELETE /user/oauth/grants?client_id=…), which also ends that client's sessions: its refresh
 * tokens stop working at once (Supabase has no revocation endpoint; this is the way out).
 */
import type { Hono } from 'hono';
import { verifyBearer } from './bearer.js';
import { gotrueError, UUID_RE } from './http.js';
import { deleteSession } from './sessions.js';
import { consentKey, parseScopes, type AuthContext } from './state.js';

export function upsertConsent(ctx: AuthContext, userId: string, clientId: string, scope: string): void {
  const key = consentKey(userId, clientId);
  const existing = ctx.state.consents.get(key);
  const scopes = new Set(parseScopes(scope));
  if (existing && !existing.revoked) {
    for (const s of scopes) existing.scopes.add(s);
    ctx.changed();
    return;
  }
  ctx.state.consents.set(key, { userId, clientId, scopes, grantedAt: new Date().toISOString(), revoked: false });
  ctx.changed();
}

export function grantRoutes(app: Hono, ctx: AuthContext): void {
  app.get('/auth/v1/user/oauth/grants', async (c) => {
    const who = await verifyBearer(ctx, c);
    if (who instanceof Response) return who;
    const { clients, consents } = ctx.state;
    const grants = [...consents.values()]
      .filter((g) => g.userId === who.user.id && !g.revoked && clients.has(g.clientId))
      .map((g) => {
        const client = clients.get(g.clientId)!;
        const cl: Record<string, unknown> = { id: client.client_id };
        if (client.client_name) cl.name = client.client_name;
        if (client.client_uri) cl.uri = client.client_uri;
        if (client.logo_uri) cl.logo_uri = client.logo_uri;
        return { client: cl, scopes: [...g.scopes], granted_at: g.grantedAt };
      });
    return c.json(grants);
  });

  app.delete('/auth/v1/user/oauth/grants', async (c) => {
    const who = await verifyBearer(ctx, c);
    if (who instanceof Response) return who;
    const clientId = c.req.query('client_id') ?? '';
    if (!clientId) return gotrueError(c, 400, 'validation_failed', 'client_id query parameter is required');
    if (!UUID_RE.test(clientId)) return gotrueError(c, 400, 'validation_failed', 'invalid client_id format');
    const { consents, sessions } = ctx.state;
    const consent = consents.get(consentKey(who.user.id, clientId.toLowerCase()));
    if (!consent || consent.revoked)
      return gotrueError(c, 404, 'oauth_consent_not_found', 'No active grant found for this client');
    consent.revoked = true;
    ctx.changed();
    for (const s of [...sessions.values()]) {
      if (s.userId === who.user.id && s.clientId === consent.clientId) deleteSession(ctx, s);
    }
    return c.body(null, 204);
  });
}
