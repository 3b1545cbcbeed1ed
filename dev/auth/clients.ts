/**
 * OAuth clients: dynamic registration at /oauth/clients/register with GoTrue's rules and response
 * body (RFC 7591), and client authentication at the token endpoint.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { gotrueError, OAuthFailure, randomToken, sha256, UUID_RE } from './http.js';
import type { AuthContext, Client } from './state.js';

const MAX_REDIRECT_URIS = 10;
const DANGEROUS_SCHEMES = ['javascript', 'data', 'file', 'vbscript', 'about', 'blob'];
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

function validateRedirectUri(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri === '') return 'redirect URI cannot be empty';
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return 'must have scheme and host';
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (!u.host) return 'must have scheme and host';
  if (DANGEROUS_SCHEMES.includes(scheme.toLowerCase())) return `scheme '${scheme}' is not allowed for security reasons`;
  if (scheme === 'http' && !LOOPBACK_HOSTS.includes(u.hostname)) return 'HTTP scheme only allowed for localhost';
  if (u.hash !== '') return 'fragment not allowed in redirect URI';
  return undefined;
}

function clientResponse(client: Client): Record<string, unknown> {
  const out: Record<string, unknown> = {
    client_id: client.client_id,
    client_type: client.client_type,
    redirect_uris: client.redirect_uris,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: client.grant_types,
    response_types: ['code'],
  };
  if (client.client_name) out.client_name = client.client_name;
  if (client.client_uri) out.client_uri = client.client_uri;
  if (client.logo_uri) out.logo_uri = client.logo_uri;
  out.registration_type = client.registration_type;
  out.created_at = client.created_at;
  out.updated_at = client.updated_at;
  return out;
}

export class RegistrationError extends Error {
  constructor(
    readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata',
    message: string,
  ) {
    super(message);
  }
}

export function register(
  ctx: AuthContext,
  params: Record<string, unknown>,
  registrationType: 'dynamic' | 'manual',
): Record<string, unknown> {
  const meta = (k: string) => new RegistrationError('invalid_client_metadata', k);
  const uris = params.redirect_uris;
  if (uris === undefined || uris === null || (Array.isArray(uris) && uris.length === 0)) {
    throw new RegistrationError('invalid_redirect_uri', 'redirect_uris is required');
  }
  if (!Array.isArray(uris))
    throw new RegistrationError('invalid_redirect_uri', 'redirect_uris must be an array of strings');
  if (uris.length > MAX_REDIRECT_URIS)
    throw new RegistrationError('invalid_redirect_uri', 'redirect_uris cannot exceed 10 items');
  for (const uri of uris) {
    const problem = validateRedirectUri(uri);
    if (problem)
      throw new RegistrationError('invalid_redirect_uri', `invalid redirect_uri '${String(uri)}': ${problem}`);
  }
  const optString = (k: string, max: number, isUrl: boolean): string | undefined => {
    const v = params[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw meta(`${k} must be a string`);
    if (v.length > max) throw meta(`${k} cannot exceed ${max} characters`);
    if (isUrl) {
      try {
        new URL(v);
      } catch {
        throw meta(`${k} must be a valid URL`);
      }
    }
    return v;
  };
  const clientName = optString('client_name', 1024, false);
  const clientUri = optString('client_uri', 2048, true);
  const logoUri = optString('logo_uri', 2048, true);
  let grantTypes = ['authorization_code', 'refresh_token'];
  if (params.grant_types !== undefined && params.grant_types !== null) {
    const g = params.grant_types;
    if (!Array.isArray(g) || g.length === 0) throw meta('grant_types cannot be empty');
    for (const t of g) {
      if (t !== 'authorization_code' && t !== 'refresh_token') {
        throw meta("grant_types must only contain 'authorization_code' and/or 'refresh_token'");
      }
    }
    grantTypes = g as string[];
  }
  const method = params.token_endpoint_auth_method;
  const methods = ['none', 'client_secret_basic', 'client_secret_post'];
  if (method !== undefined && method !== null && method !== '' && !methods.includes(method as string)) {
    throw meta(`token_endpoint_auth_method must be one of: [${methods.join(' ')}]`);
  }
  const explicitType = params.client_type;
  if (
    explicitType !== undefined &&
    explicitType !== null &&
    explicitType !== '' &&
    explicitType !== 'public' &&
    explicitType !== 'confidential'
  ) {
    throw meta("client_type must be 'public' or 'confidential'");
  }
  const inferred = method === 'none' ? 'public' : 'confidential';
  if (explicitType && method && explicitType !== inferred) {
    throw meta(
      `client_type '${String(explicitType)}' is inconsistent with token_endpoint_auth_method '${String(method)}' (expected client_type '${inferred}')`,
    );
  }
  const clientType: 'public' | 'confidential' =
    (explicitType as 'public' | 'confidential') || (method ? inferred : 'confidential');
  const authMethod = (method as string) || (clientType === 'public' ? 'none' : 'client_secret_basic');
  const now = new Date().toISOString();
  const client: Client = {
    client_id: randomUUID(),
    client_type: clientType,
    token_endpoint_auth_method: authMethod,
    redirect_uris: [...(uris as string[])],
    grant_types: grantTypes,
    client_name: clientName,
    client_uri: clientUri,
    logo_uri: logoUri,
    registration_type: registrationType,
    created_at: now,
    updated_at: now,
  };
  let secret: string | undefined;
  if (clientType === 'confidential') {
    secret = randomToken(32);
    client.secretHash = sha256(secret);
  }
  ctx.state.clients.set(client.client_id, client);
  ctx.changed();
  const out = clientResponse(client);
  if (secret) return { client_id: out.client_id, client_secret: secret, ...out };
  return out;
}

/** Client authentication at the token endpoint (GoTrue's ExtractClientCredentials + checks). */
export function authenticateClient(ctx: AuthContext, c: Context, body: Record<string, string>): Client {
  let clientId = '';
  let secret = '';
  const header = c.req.header('authorization') ?? '';
  if (/^Basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new OAuthFailure(401, 'invalid_client', 'invalid basic auth format');
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    clientId = dec(decoded.slice(0, i));
    secret = dec(decoded.slice(i + 1));
  } else {
    clientId = body.client_id ?? '';
    secret = body.client_secret ?? '';
  }
  if (!clientId) throw new OAuthFailure(401, 'invalid_client', 'client_id is required');
  const client = UUID_RE.test(clientId) ? ctx.state.clients.get(clientId.toLowerCase()) : undefined;
  if (!client) throw new OAuthFailure(401, 'invalid_client', 'Invalid client credentials');
  if (client.client_type === 'public') {
    if (secret) throw new OAuthFailure(401, 'invalid_client', 'public clients must not provide client_secret');
    return client;
  }
  if (!secret) throw new OAuthFailure(401, 'invalid_client', 'confidential clients must provide client_secret');
  const ok = client.secretHash && timingSafeEqual(sha256(secret), client.secretHash);
  if (!ok) throw new OAuthFailure(401, 'invalid_client', 'invalid client credentials');
  return client;
}

export function clientRoutes(app: Hono, ctx: AuthContext): void {
  app.post('/auth/v1/oauth/clients/register', async (c) => {
    if (!ctx.settings.dynamicRegistration) {
      return gotrueError(
        c,
        403,
        'oauth_dynamic_client_registration_disabled',
        'Dynamic client registration is not enabled',
      );
    }
    let params: unknown;
    try {
      params = JSON.parse((await c.req.text()) || 'null');
    } catch {
      params = undefined;
    }
    if (!params || typeof params !== 'object' || Array.isArray(params)) {
      return c.json(
        {
          error: 'invalid_client_metadata',
          error_description: 'Invalid JSON body',
          code: 400,
          error_code: 'bad_json',
          msg: 'Invalid JSON body',
        },
        400,
      );
    }
    try {
      return c.json(register(ctx, params as Record<string, unknown>, 'dynamic'), 201, { 'Cache-Control': 'no-store' });
    } catch (e) {
      if (!(e instanceof RegistrationError)) throw e;
      return c.json(
        { error: e.error, error_description: e.message, code: 400, error_code: 'validation_failed', msg: e.message },
        400,
      );
    }
  });
}
