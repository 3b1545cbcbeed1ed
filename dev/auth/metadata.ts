/**
 * Discovery: the authorization server metadata (RFC 8414), served at the path-insertion URL *and*
 * under the issuer as Supabase does, and the JWKS document.
 */
import type { Context, Hono } from 'hono';
import { currentKey, jwksDocument } from './keys.js';
import { SUPPORTED_SCOPES, type AuthContext } from './state.js';

function metadata(ctx: AuthContext): Record<string, unknown> {
  const { issuer } = ctx.urls;
  const doc: Record<string, unknown> = {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    userinfo_endpoint: `${issuer}/oauth/userinfo`,
  };
  if (ctx.settings.dynamicRegistration) doc.registration_endpoint = `${issuer}/oauth/clients/register`;
  Object.assign(doc, {
    scopes_supported: [...SUPPORTED_SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ctx.settings.legacySecret !== undefined ? 'HS256' : currentKey(ctx).alg],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    code_challenge_methods_supported: ['S256', 'plain'],
  });
  return doc;
}

export function metadataRoutes(app: Hono, ctx: AuthContext): void {
  const serveMetadata = (c: Context) => c.json(metadata(ctx), 200, { 'Cache-Control': 'public, max-age=600' });
  app.get('/.well-known/oauth-authorization-server/auth/v1', serveMetadata);
  app.get('/auth/v1/.well-known/oauth-authorization-server', serveMetadata);
  app.get('/auth/v1/.well-known/openid-configuration', serveMetadata);
  app.get('/auth/v1/.well-known/jwks.json', (c) =>
    c.json(jwksDocument(ctx), 200, { 'Cache-Control': 'public, max-age=600' }),
  );
}
