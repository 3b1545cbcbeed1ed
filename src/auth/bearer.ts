/**
 * The resource-server side of MCP authorization: the bearer-token middleware with RFC 6750
 * challenges, and the RFC 9728 protected-resource metadata that tells clients where to sign in.
 *
 * @example
 *   app.post('/mcp', bearerAuth({ verifier, metadataUrl }), handler);
 */
import type { Context, MiddlewareHandler } from 'hono';
import { type Codes, errorCodes } from '../errors.js';
import { TokenError, type Principal, type TokenErrorCode, type TokenVerifier } from './verify.js';

/** Why a request's token was refused: a verifier's code or the header's own problem. */
export type AuthRefusal = TokenErrorCode | Codes<'TOKEN_IN_QUERY' | 'TOKEN_MISSING'>;

export type AuthEnv = { Variables: { principal: Principal; token: string } };

export interface ResourceMetadataOptions {
  /** The MCP endpoint's canonical URL, e.g. https://mcp.example.com/mcp. */
  resource: string;
  /** Supabase Auth's issuer, e.g. https://REF.supabase.co/auth/v1. */
  issuer: string;
}

/** RFC 9728 document. No `scopes_supported`: Supabase rejects any scope it does not know. */
export function resourceMetadata({ resource, issuer }: ResourceMetadataOptions) {
  return {
    resource,
    authorization_servers: [issuer],
    bearer_methods_supported: ['header'],
    resource_name: 'Atomic CRM',
    resource_documentation: 'https://github.com/marmelab/atomic-crm',
  };
}

/** A challenge value per RFC 6750 §3; quotes and backslashes escaped as quoted-strings require. */
function challenge(metadataUrl: string, error?: { code: string; description: string }): string {
  const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const params = [`resource_metadata=${quote(metadataUrl)}`];
  if (error) params.push(`error=${quote(error.code)}`, `error_description=${quote(error.description)}`);
  return `Bearer ${params.join(', ')}`;
}

export interface BearerOptions {
  verifier: TokenVerifier;
  metadataUrl: string;
  /** Told about every refusal (reason code only: never the token), with the request's context. */
  onRefused?: (reason: AuthRefusal, c: Context) => void;
}

/**
 * Accepts `Authorization: Bearer <token>` only (the scheme is case-insensitive). A token in the
 * query string is refused outright: URLs end up in logs and proxies.
 */
export function bearerAuth({ verifier, metadataUrl, onRefused }: BearerOptions): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const refuse = (reason: AuthRefusal, error?: { code: string; description: string }) => {
      onRefused?.(reason, c);
      c.header('WWW-Authenticate', challenge(metadataUrl, error));
      c.header('Cache-Control', 'no-store');
      return c.json(
        {
          error: error?.code ?? 'unauthorized',
          error_description: error?.description ?? 'Sign in: this server needs an OAuth access token.',
        },
        errorCodes[reason].status,
      );
    };

    if (new URL(c.req.url).searchParams.has('access_token')) {
      return refuse('TOKEN_IN_QUERY', {
        code: 'invalid_request',
        description: 'Send the access token in the Authorization header, never in the URL.',
      });
    }
    const header = c.req.header('Authorization');
    if (!header) return refuse('TOKEN_MISSING');
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!match) {
      return refuse('TOKEN_MALFORMED', {
        code: 'invalid_token',
        description: 'The Authorization header must be "Bearer <token>".',
      });
    }
    const token = match[1]!;
    try {
      c.set('principal', await verifier.verify(token));
      c.set('token', token);
    } catch (error) {
      if (error instanceof TokenError && error.code === 'JWKS_UNAVAILABLE') {
        return refuse(error.code, { code: 'temporarily_unavailable', description: error.message });
      }
      const code = error instanceof TokenError ? error.code : 'TOKEN_MALFORMED';
      const description = error instanceof TokenError ? error.message : 'The access token could not be verified.';
      return refuse(code, { code: 'invalid_token', description });
    }
    await next();
  };
}
