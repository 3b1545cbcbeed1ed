/**
 * A local stand-in for Supabase Auth's OAuth 2.1 server ("OAuth Server" feature), for tests and
 * `npm run demo`. NEVER imported by production code in src/.
 *
 * Supabase Auth (GoTrue) itself cannot be installed here (no npm/Debian package; the CLI runs it
 * from container images), so this folder reproduces the contract in docs/supabase-auth.md:
 * the same paths relative to the project URL, the same metadata, the same JWKS shape and headers,
 * the same registration/authorize/consent/token behaviour and error split, and access tokens with
 * exactly Supabase's claims, signed ES256 with a `kid`. Users are the rows of `auth.users` in a
 * real PostgreSQL database (passwords checked with pgcrypto's `crypt`, as GoTrue's bcrypt hashes
 * are); clients, authorizations, codes, sessions and refresh tokens live in one state object
 * (state.ts), kept in the database across restarts when `persist` is set (store.ts, the demo).
 * Behavioural details follow GoTrue's public source (internal/api/oauthserver).
 *
 * One file per concern, each given the same `AuthContext`: keys.ts (signing, JWKS), users.ts
 * (auth.users), clients.ts (registration, client authentication), authorize.ts (authorize and
 * consent), sessions.ts + token.ts (tokens), grants.ts (consents a user gave), metadata.ts
 * (discovery), bearer.ts (a user's own token on the API), http.ts (GoTrue's error shapes).
 *
 * Why hand-written (jose + node:crypto) rather than an OAuth server library such as
 * `oidc-provider` (which would also be a new dependency):
 * - Tokens: oidc-provider's JWT access tokens follow RFC 9068: they always carry `jti`, take
 *   `aud` from the resource indicator (RFC 8707) and cannot carry Supabase's flat session claims
 *   (role, aal, amr objects, session_id, is_anonymous, app/user_metadata) without rewriting the
 *   token format. Supabase's tokens have no `jti`/`nbf` and `aud` is always "authenticated"
 *   while `resource` is validated and ignored. Those differences are exactly what the MCP
 *   server's token checks must be tested against, so an approximation defeats the purpose.
 * - Consent: Supabase has no server-side interaction session. /oauth/authorize redirects to the
 *   *app's* consent route with an authorization_id, and the app drives a JSON consent API with
 *   the user's own session JWT (GET /oauth/authorizations/{id}, POST …/consent → {redirect_url}).
 *   oidc-provider's interaction/grant model (cookies, `interactionFinished`) has no equivalent.
 * - Errors and paths: Supabase answers unknown client / bad redirect_uri with GoTrue's JSON
 *   `{code, error_code, msg}`, redirects every other authorize error as `invalid_request`,
 *   registers at /oauth/clients/register with GoTrue's response body, serves metadata at the
 *   RFC 8414 path-insertion URL *and* under the issuer, and has no revocation endpoint but a
 *   DELETE /user/oauth/grants. Matching all of that means overriding most of a library.
 * What remains is small: JSON routes on Hono and JWS with node:crypto (so `signWith` can produce
 * arbitrary/malformed tokens for negative tests); verification of incoming bearer tokens uses jose.
 *
 * TEST-ONLY switch `autoApprove`: skips the consent page and approves as the given user. It can
 * only be set through the constructor option (never env or HTTP) and logs a loud warning.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { consentPageHtml } from '../consent-page.js';
import { authorizeRoutes } from './authorize.js';
import { clientRoutes, register } from './clients.js';
import { grantRoutes } from './grants.js';
import { gotrueError, OAuthFailure, oauthError } from './http.js';
import { currentKey, generateKey, jwksDocument, rawSign, signJwt } from './keys.js';
import { metadataRoutes } from './metadata.js';
import { buildClaims, newSession } from './sessions.js';
import {
  AMR_OAUTH,
  AMR_PASSWORD,
  DEFAULT_SCOPE,
  emptyState,
  nowSeconds,
  type AuthContext,
  type Settings,
} from './state.js';
import { memoryStore, openDatabaseStore } from './store.js';
import { tokenRoutes } from './token.js';
import type { RunningAuthServer, StartAuthServerOptions } from './types.js';
import { usersOf } from './users.js';

export type * from './types.js';

/** The client mintAccessToken uses by default; a persisted one is reused, not registered again. */
const BUILT_IN_CLIENT_NAME = 'Built-in test client';

export async function startAuthServer(opts: StartAuthServerOptions): Promise<RunningAuthServer> {
  const settings: Settings = {
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds ?? 3600,
    dynamicRegistration: opts.dynamicRegistration ?? true,
    keyAlgorithm: opts.keyAlgorithm ?? 'ES256',
    legacySecret: opts.legacyHs256Secret,
    autoApprove: opts.autoApprove,
  };
  const host = opts.host ?? '127.0.0.1';

  if (settings.autoApprove) {
    const line = '!'.repeat(78);
    console.warn(
      `${line}\n!! dev/auth: autoApprove is ON: every authorization is approved as ${settings.autoApprove.email}\n` +
        `!! without a consent page. TEST ONLY. Never use this for anything reachable by others.\n${line}`,
    );
  }

  const state = emptyState();
  const store = opts.persist
    ? await openDatabaseStore(opts.sql, state, (error) =>
        console.error('dev/auth: could not save the auth state:', error.message),
      )
    : memoryStore;
  const urls = { projectUrl: '', issuer: '' };
  const ctx: AuthContext = { users: usersOf(opts.sql), settings, state, urls, changed: store.changed };
  if (state.keys.length === 0) {
    state.keys.push(await generateKey(settings.keyAlgorithm));
    ctx.changed();
  }

  const app = new Hono();
  app.use(
    '/auth/v1/*',
    cors({
      origin: (o) => o || '*',
      allowHeaders: ['Authorization', 'Content-Type', 'apikey', 'x-client-info', 'Accept'],
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      maxAge: 600,
    }),
  );
  app.use('/.well-known/*', cors());
  // What a response tells a client (a refresh token, a registered client) is saved before it leaves.
  app.use(async (_c, next) => {
    await next();
    await store.flushed();
  });
  app.onError((err, c) => {
    if (err instanceof OAuthFailure) return oauthError(c, err);
    console.error('dev/auth: unexpected error', err);
    return gotrueError(
      c,
      500,
      'unexpected_failure',
      'Unexpected failure, please check server logs for more information',
    );
  });
  app.notFound((c) => gotrueError(c, 404, 'not_found', 'Not found'));

  // The "site": the app's hash-routed consent page.
  app.get('/', (c) =>
    c.html(consentPageHtml(), 200, {
      'Cache-Control': 'no-store',
      'Content-Security-Policy':
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
    }),
  );
  metadataRoutes(app, ctx);
  clientRoutes(app, ctx);
  authorizeRoutes(app, ctx);
  tokenRoutes(app, ctx);
  grantRoutes(app, ctx);

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, () => resolve(s as Server));
    (s as Server).once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' || host.includes(':') ? `[${address.address}]` : host;
  urls.projectUrl = (opts.issuerBase ?? `http://${urlHost}:${address.port}`).replace(/\/+$/, '');
  urls.issuer = `${urls.projectUrl}/auth/v1`;

  const builtIn = [...state.clients.values()].find(
    (c) => c.registration_type === 'manual' && c.client_name === BUILT_IN_CLIENT_NAME,
  );
  const defaultClientId =
    builtIn?.client_id ??
    String(
      register(
        ctx,
        {
          redirect_uris: ['http://127.0.0.1/callback'],
          token_endpoint_auth_method: 'none',
          client_name: BUILT_IN_CLIENT_NAME,
        },
        'manual',
      ).client_id,
    );
  await store.flushed();

  return {
    projectUrl: urls.projectUrl,
    issuer: urls.issuer,
    defaultClientId,
    async mintAccessToken(user, overrides = {}) {
      const { clientId: clientOverride, expiresIn, ...claimOverrides } = overrides;
      const clientId = clientOverride === undefined ? defaultClientId : clientOverride;
      const scope =
        typeof claimOverrides.scope === 'string' ? claimOverrides.scope : clientId === null ? undefined : DEFAULT_SCOPE;
      const session = newSession(ctx, user.id, clientId, scope, clientId === null ? AMR_PASSWORD : AMR_OAUTH);
      const iat = typeof claimOverrides.iat === 'number' ? claimOverrides.iat : nowSeconds();
      const claims: Record<string, unknown> = buildClaims(
        ctx,
        user,
        session,
        iat,
        expiresIn ?? settings.accessTokenTtlSeconds,
      );
      for (const [k, v] of Object.entries(claimOverrides)) {
        if (v === undefined) delete claims[k];
        else claims[k] = v;
      }
      if (typeof claims.session_id === 'string' && claims.session_id !== session.id) {
        state.sessions.delete(session.id);
        session.id = claims.session_id;
        state.sessions.set(session.id, session);
        ctx.changed();
      }
      await store.flushed();
      return signJwt(ctx, claims);
    },
    async signWith(header, payload, signOpts) {
      const alg = String(header.alg ?? '');
      if (alg.toLowerCase() === 'none') return rawSign(header, payload, { kind: 'none' });
      if (/^HS/i.test(alg)) {
        const secret =
          signOpts?.secret ??
          settings.legacySecret ??
          (currentKey(ctx).publicKey.export({ type: 'spki', format: 'pem' }) as string);
        return rawSign(header, payload, { kind: 'hmac', secret });
      }
      return rawSign(header, payload, { kind: 'asym', key: currentKey(ctx) });
    },
    get jwks() {
      return jwksDocument(ctx);
    },
    async rotateKey(rotateOpts) {
      const next = await generateKey(settings.keyAlgorithm);
      if (rotateOpts?.keepPrevious === false) state.keys.splice(0, state.keys.length);
      state.keys.push(next);
      ctx.changed();
      await store.flushed();
    },
    async registerClient(metadata) {
      const client = register(ctx, metadata as unknown as Record<string, unknown>, 'manual');
      await store.flushed();
      return client;
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      await store.flushed();
    },
  };
}
