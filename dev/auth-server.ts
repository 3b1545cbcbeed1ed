/**
 * A local stand-in for Supabase Auth's OAuth 2.1 server ("OAuth Server" feature), for tests and
 * `npm run demo`. NEVER imported by production code in src/.
 *
 * Supabase Auth (GoTrue) itself cannot be installed here (no npm/Debian package; the CLI runs it
 * from container images), so this file reproduces the contract in ../shared/facts/supabase.md:
 * the same paths relative to the project URL, the same metadata, the same JWKS shape and headers,
 * the same registration/authorize/consent/token behaviour and error split, and access tokens with
 * exactly Supabase's claims, signed ES256 with a `kid`. Users are the rows of `auth.users` in a
 * real PostgreSQL database (passwords checked with pgcrypto's `crypt`, as GoTrue's bcrypt hashes
 * are); clients, authorizations, codes, sessions and refresh tokens live in memory.
 * Behavioural details follow GoTrue's public source (internal/api/oauthserver).
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
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { exportJWK, jwtVerify, decodeProtectedHeader, type JWK } from 'jose';
import type postgres from 'postgres';
import { consentPageHtml } from './consent-page.js';

// ---------------------------------------------------------------------------------------------
// Public API

export interface AuthServerOptions {
  /** Superuser/admin connection to the database whose `auth.users` are the users. */
  sql: postgres.Sql;
  /** Project URL to advertise (issuer = `${issuerBase}/auth/v1`); default `http://HOST:PORT`. */
  issuerBase?: string;
  /** Access-token lifetime (default 3600, Supabase's default). */
  accessTokenTtlSeconds?: number;
  /**
   * TEST ONLY: skip the consent page; /oauth/authorize approves at once as this user and
   * redirects straight to the client with a code. Constructor option only; logs a warning.
   */
  autoApprove?: { email: string };
  /** Dynamic client registration (default true). false → 403 on register, no registration_endpoint. */
  dynamicRegistration?: boolean;
  /** Signing algorithm of the asymmetric key (default ES256, Supabase's recommended). */
  keyAlgorithm?: 'ES256' | 'RS256';
  /**
   * Simulate a project still on the legacy shared JWT secret: tokens are HS256 (no kid) and the
   * JWKS serves no asymmetric key (`{"keys": []}`).
   */
  legacyHs256Secret?: string;
}

export interface StartAuthServerOptions extends AuthServerOptions {
  /** Listen port; default 0 (a free port). */
  port?: number;
  /** Listen host; default 127.0.0.1. */
  host?: string;
}

export interface AmrEntry {
  method: string;
  timestamp: number;
}

/** The claims of a Supabase access token (supabase.md). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  email: string;
  phone: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  role: string;
  aal: string;
  amr: AmrEntry[];
  session_id: string;
  is_anonymous: boolean;
  /** OAuth-issued tokens only. */
  client_id?: string;
  /** OAuth-issued tokens only. */
  scope?: string;
  [claim: string]: unknown;
}

export interface MintUser {
  id: string;
  email?: string | null;
  phone?: string | null;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
  is_anonymous?: boolean;
}

export interface MintOverrides extends Partial<Omit<AccessTokenClaims, 'client_id'>> {
  /**
   * OAuth client the token is for. Default: the server's built-in test client (`defaultClientId`).
   * `null`: a session token of the web app itself (no client_id, no scope, amr "password").
   */
  clientId?: string | null;
  /** exp − iat; may be negative for an already-expired token. Default accessTokenTtlSeconds. */
  expiresIn?: number;
}

export interface ClientRegistration {
  redirect_uris: string[];
  token_endpoint_auth_method?: 'none' | 'client_secret_basic' | 'client_secret_post';
  client_type?: 'public' | 'confidential';
  grant_types?: string[];
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
}

export interface RunningAuthServer {
  /** e.g. http://127.0.0.1:PORT — also the "site URL" serving the consent page at `/`. */
  projectUrl: string;
  /** `${projectUrl}/auth/v1` */
  issuer: string;
  /** A public client registered at start, used by mintAccessToken by default. */
  defaultClientId: string;
  /** Mint an access token with Supabase's claims (an OAuth token unless clientId is null). */
  mintAccessToken(user: MintUser, overrides?: MintOverrides): Promise<string>;
  /**
   * Raw signing for negative tests: the header and payload are used verbatim (nothing added).
   * alg "none" → empty signature; HS* → HMAC with `opts.secret`, else the legacy secret, else the
   * current public key as SPKI PEM (the classic alg-confusion forgery); any other alg → signed by
   * the current private key with its own algorithm, whatever the header claims.
   */
  signWith(header: Record<string, unknown>, payload: Record<string, unknown>, opts?: { secret?: string | Uint8Array }): Promise<string>;
  /** The JWKS document currently served. */
  readonly jwks: { keys: JWK[] };
  /**
   * New signing key (new kid). Like Supabase's rotation the previous key stays in the JWKS (so
   * tokens it signed still verify) unless `keepPrevious: false` (simulates revoking it).
   */
  rotateKey(opts?: { keepPrevious?: boolean }): Promise<void>;
  /** Register a client without HTTP (same rules and response body as the register endpoint). */
  registerClient(metadata: ClientRegistration): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Constants (GoTrue's values)

const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'phone', 'offline_access'] as const;
const DEFAULT_SCOPE = 'email';
const AUTHORIZATION_TTL_MS = 10 * 60 * 1000; // pending authorization and issued code: 10 minutes
const MAX_REDIRECT_URIS = 10;
const DANGEROUS_SCHEMES = ['javascript', 'data', 'file', 'vbscript', 'about', 'blob'];
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
const AUTHORIZATION_PATH = '/#/oauth/consent';
const AMR_OAUTH = 'oauth_provider/authorization_code'; // GoTrue's AuthenticationMethod string
const AMR_PASSWORD = 'password';

// ---------------------------------------------------------------------------------------------
// State

interface SigningKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

interface Client {
  client_id: string;
  client_type: 'public' | 'confidential';
  token_endpoint_auth_method: string;
  secretHash?: Buffer;
  redirect_uris: string[];
  grant_types: string[];
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  registration_type: 'dynamic' | 'manual';
  created_at: string;
  updated_at: string;
}

interface Authorization {
  id: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  resource: string;
  nonce: string;
  codeChallenge: string;
  codeChallengeMethod: 's256' | 'plain';
  status: 'pending' | 'approved' | 'denied' | 'expired';
  expiresAt: number;
  userId?: string;
  code?: string;
}

interface Session {
  id: string;
  userId: string;
  clientId: string | null;
  scope?: string;
  amr: AmrEntry[];
  refreshTokens: Set<string>;
}

interface RefreshRecord {
  sessionId: string;
  used: boolean;
}

interface Consent {
  userId: string;
  clientId: string;
  scopes: Set<string>;
  grantedAt: string;
  revoked: boolean;
}

interface DbUser {
  id: string;
  email: string | null;
  phone: string | null;
  raw_user_meta_data: Record<string, unknown> | null;
  raw_app_meta_data: Record<string, unknown> | null;
  banned_until: string | null;
  is_anonymous: boolean | null;
  email_confirmed_at?: string | null;
  phone_confirmed_at?: string | null;
  updated_at?: string | null;
}

class OAuthFailure extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isBanned(user: DbUser): boolean {
  const b = user.banned_until;
  if (b === null || b === undefined) return false;
  if (b === 'infinity') return true;
  if (b === '-infinity') return false;
  const t = Date.parse(b);
  return Number.isFinite(t) && t > Date.now();
}

function parseScopes(scope: string): string[] {
  return scope.split(/\s+/).filter(Boolean);
}

function generateKey(alg: 'ES256' | 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return exportJWK(publicKey).then((jwk) => ({
    kid: randomUUID(),
    alg,
    privateKey,
    publicKey,
    publicJwk: jwk,
  }));
}

/** JWS compact serialization with the header and payload used verbatim. */
function rawSign(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: { kind: 'none' } | { kind: 'hmac'; secret: string | Uint8Array } | { kind: 'asym'; key: SigningKey },
): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  let sig: Buffer;
  if (key.kind === 'none') {
    sig = Buffer.alloc(0);
  } else if (key.kind === 'hmac') {
    const alg = String(header.alg ?? 'HS256');
    const hash = alg === 'HS384' ? 'sha384' : alg === 'HS512' ? 'sha512' : 'sha256';
    sig = createHmac(hash, key.secret).update(input).digest();
  } else if (key.key.alg === 'ES256') {
    sig = cryptoSign('sha256', Buffer.from(input), { key: key.key.privateKey, dsaEncoding: 'ieee-p1363' });
  } else {
    sig = cryptoSign('sha256', Buffer.from(input), key.key.privateKey);
  }
  return `${input}.${b64url(sig)}`;
}

// ---------------------------------------------------------------------------------------------
// The server

export async function startAuthServer(opts: StartAuthServerOptions): Promise<RunningAuthServer> {
  const sql = opts.sql;
  const ttl = opts.accessTokenTtlSeconds ?? 3600;
  const dynamicRegistration = opts.dynamicRegistration ?? true;
  const keyAlgorithm = opts.keyAlgorithm ?? 'ES256';
  const legacySecret = opts.legacyHs256Secret;
  const autoApprove = opts.autoApprove;
  const host = opts.host ?? '127.0.0.1';

  if (autoApprove) {
    const line = '!'.repeat(78);
    console.warn(
      `${line}\n!! dev/auth-server: autoApprove is ON: every authorization is approved as ${autoApprove.email}\n` +
        `!! without a consent page. TEST ONLY. Never use this for anything reachable by others.\n${line}`,
    );
  }

  const keys: SigningKey[] = [await generateKey(keyAlgorithm)];
  const currentKey = (): SigningKey => keys[keys.length - 1]!;

  const clients = new Map<string, Client>();
  const authorizations = new Map<string, Authorization>();
  const codes = new Map<string, string>(); // code → authorization id
  const sessions = new Map<string, Session>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const consents = new Map<string, Consent>(); // `${userId}:${clientId}`

  let projectUrl = '';
  let issuer = '';

  // ---- users (auth.users) ----

  let cryptSchema: string | undefined;
  async function pgcryptoSchema(): Promise<string> {
    if (cryptSchema) return cryptSchema;
    const rows = await sql<{ nspname: string }[]>`
      select n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.proname = 'crypt' and p.pronargs = 2
      order by (n.nspname = 'extensions') desc, (n.nspname = 'public') desc limit 1`;
    if (!rows[0]) throw new Error('pgcrypto is not installed in the database (needed for crypt())');
    cryptSchema = rows[0].nspname;
    return cryptSchema;
  }

  function normalizeUser(row: Record<string, unknown>): DbUser {
    return {
      ...(row as unknown as DbUser),
      id: String(row.id),
      email: (row.email as string | null) ?? null,
      phone: (row.phone as string | null) ?? null,
      raw_user_meta_data: (row.raw_user_meta_data as Record<string, unknown> | null) ?? null,
      raw_app_meta_data: (row.raw_app_meta_data as Record<string, unknown> | null) ?? null,
      banned_until: (row.banned_until as string | null) ?? null,
      is_anonymous: (row.is_anonymous as boolean | null) ?? null,
    };
  }

  async function findUserById(id: string): Promise<DbUser | undefined> {
    if (!UUID_RE.test(id)) return undefined;
    const rows = await sql<{ u: Record<string, unknown> }[]>`
      select to_jsonb(u) - 'encrypted_password' as u from auth.users u where u.id = ${id}::uuid`;
    return rows[0] ? normalizeUser(rows[0].u) : undefined;
  }

  async function findUserByEmail(email: string): Promise<DbUser | undefined> {
    const rows = await sql<{ u: Record<string, unknown> }[]>`
      select to_jsonb(u) - 'encrypted_password' as u from auth.users u
      where lower(u.email) = lower(${email}) order by u.id limit 1`;
    return rows[0] ? normalizeUser(rows[0].u) : undefined;
  }

  /** The user if the password matches their bcrypt hash, else undefined. */
  async function checkPassword(email: string, password: string): Promise<DbUser | undefined> {
    const schema = await pgcryptoSchema();
    const rows = await sql<{ u: Record<string, unknown>; ok: boolean }[]>`
      select to_jsonb(u) - 'encrypted_password' as u,
             coalesce(case when left(u.encrypted_password, 2) = '$2'
                           then ${sql(schema)}.crypt(${password}, u.encrypted_password) = u.encrypted_password
                           else false end, false) as ok
      from auth.users u where lower(u.email) = lower(${email}) order by u.id limit 1`;
    const row = rows[0];
    return row && row.ok ? normalizeUser(row.u) : undefined;
  }

  // ---- tokens ----

  async function signJwt(payload: Record<string, unknown>): Promise<string> {
    if (legacySecret !== undefined) return rawSign({ alg: 'HS256', typ: 'JWT' }, payload, { kind: 'hmac', secret: legacySecret });
    const key = currentKey();
    return rawSign({ alg: key.alg, kid: key.kid, typ: 'JWT' }, payload, { kind: 'asym', key });
  }

  function buildClaims(user: MintUser, session: Session, iat: number, expiresIn: number): AccessTokenClaims {
    const claims: AccessTokenClaims = {
      iss: issuer,
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

  function mintUserFromDb(u: DbUser): MintUser {
    return {
      id: u.id,
      email: u.email,
      phone: u.phone,
      app_metadata: u.raw_app_meta_data ?? {},
      user_metadata: u.raw_user_meta_data ?? {},
      is_anonymous: u.is_anonymous ?? false,
    };
  }

  function newSession(userId: string, clientId: string | null, scope: string | undefined, method: string): Session {
    const session: Session = {
      id: randomUUID(),
      userId,
      clientId,
      scope,
      amr: [{ method, timestamp: nowSeconds() }],
      refreshTokens: new Set(),
    };
    sessions.set(session.id, session);
    return session;
  }

  function issueRefreshToken(session: Session): string {
    const token = randomToken(24);
    refreshTokens.set(token, { sessionId: session.id, used: false });
    session.refreshTokens.add(token);
    return token;
  }

  function deleteSession(session: Session): void {
    for (const t of session.refreshTokens) refreshTokens.delete(t);
    sessions.delete(session.id);
  }

  async function accessTokenFor(user: DbUser, session: Session): Promise<string> {
    return signJwt(buildClaims(mintUserFromDb(user), session, nowSeconds(), ttl));
  }

  /** OIDC userinfo claims filtered by scope (GoTrue's OAuthUserInfo). */
  function userInfoClaims(user: DbUser, scopes: string[] | undefined): Record<string, unknown> {
    const info: Record<string, unknown> = { sub: user.id };
    if (!scopes) return info;
    const meta = user.raw_user_meta_data ?? {};
    if (scopes.includes('email')) {
      if (user.email) info.email = user.email;
      if (user.email_confirmed_at) info.email_verified = true;
    }
    if (scopes.includes('profile')) {
      const str = (k: string) => (typeof meta[k] === 'string' && meta[k] !== '' ? (meta[k] as string) : undefined);
      const name = str('name') ?? (user.email || undefined);
      if (name) info.name = name;
      const picture = str('picture') ?? str('avatar_url');
      if (picture) info.picture = picture;
      const username = str('preferred_username') ?? str('username');
      if (username) info.preferred_username = username;
      if (user.updated_at) {
        const t = Date.parse(user.updated_at);
        if (Number.isFinite(t)) info.updated_at = Math.floor(t / 1000);
      }
      info.user_metadata = meta;
    }
    if (scopes.includes('phone')) {
      if (user.phone) info.phone = user.phone;
      if (user.phone_confirmed_at) info.phone_verified = true;
    }
    return info;
  }

  async function idTokenFor(user: DbUser, client: Client, auth: Authorization, authTime: number): Promise<string> {
    const iat = nowSeconds();
    const payload: Record<string, unknown> = {
      iss: issuer,
      sub: user.id,
      aud: client.client_id,
      exp: iat + ttl,
      iat,
      auth_time: authTime,
      ...userInfoClaims(user, parseScopes(auth.scope)),
    };
    if (auth.nonce) payload.nonce = auth.nonce;
    return signJwt(payload);
  }

  // ---- bearer authentication of users (consent API, userinfo, grants) ----

  async function verifyBearer(c: Context): Promise<{ user: DbUser; claims: Record<string, unknown>; session?: Session } | Response> {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return gotrueError(c, 401, 'no_authorization', 'This endpoint requires a valid Bearer token');
    const token = m[1]!;
    let claims: Record<string, unknown>;
    try {
      if (legacySecret !== undefined) {
        claims = (await jwtVerify(token, new TextEncoder().encode(legacySecret), { algorithms: ['HS256'] })).payload;
      } else {
        const { kid } = decodeProtectedHeader(token);
        const key = keys.find((k) => k.kid === kid);
        if (!key) throw new Error('unknown kid');
        claims = (await jwtVerify(token, key.publicKey, { algorithms: [key.alg] })).payload;
      }
    } catch (e) {
      return gotrueError(c, 403, 'bad_jwt', `invalid JWT: unable to parse or verify signature, ${(e as Error).message}`);
    }
    const sub = typeof claims.sub === 'string' ? claims.sub : '';
    const user = await findUserById(sub);
    if (!user) return gotrueError(c, 403, 'user_not_found', 'User from sub claim in JWT does not exist');
    let session: Session | undefined;
    if (typeof claims.session_id === 'string') {
      session = sessions.get(claims.session_id);
      if (!session || session.userId !== user.id) {
        return gotrueError(c, 403, 'session_not_found', 'Session from session_id claim in JWT does not exist');
      }
    }
    return { user, claims, session };
  }

  // ---- clients ----

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

  class RegistrationError extends Error {
    constructor(
      readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata',
      message: string,
    ) {
      super(message);
    }
  }

  function register(params: Record<string, unknown>, registrationType: 'dynamic' | 'manual'): Record<string, unknown> {
    const meta = (k: string) => new RegistrationError('invalid_client_metadata', k);
    const uris = params.redirect_uris;
    if (uris === undefined || uris === null || (Array.isArray(uris) && uris.length === 0)) {
      throw new RegistrationError('invalid_redirect_uri', 'redirect_uris is required');
    }
    if (!Array.isArray(uris)) throw new RegistrationError('invalid_redirect_uri', 'redirect_uris must be an array of strings');
    if (uris.length > MAX_REDIRECT_URIS) throw new RegistrationError('invalid_redirect_uri', 'redirect_uris cannot exceed 10 items');
    for (const uri of uris) {
      const problem = validateRedirectUri(uri);
      if (problem) throw new RegistrationError('invalid_redirect_uri', `invalid redirect_uri '${String(uri)}': ${problem}`);
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
    if (explicitType !== undefined && explicitType !== null && explicitType !== '' && explicitType !== 'public' && explicitType !== 'confidential') {
      throw meta("client_type must be 'public' or 'confidential'");
    }
    const inferred = method === 'none' ? 'public' : 'confidential';
    if (explicitType && method && explicitType !== inferred) {
      throw meta(
        `client_type '${String(explicitType)}' is inconsistent with token_endpoint_auth_method '${String(method)}' (expected client_type '${inferred}')`,
      );
    }
    const clientType: 'public' | 'confidential' = (explicitType as 'public' | 'confidential') || (method ? inferred : 'confidential');
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
    clients.set(client.client_id, client);
    const out = clientResponse(client);
    if (secret) return { client_id: out.client_id, client_secret: secret, ...out };
    return out;
  }

  /** Client authentication at the token endpoint (GoTrue's ExtractClientCredentials + checks). */
  function authenticateClient(c: Context, body: Record<string, string>): Client {
    let clientId = '';
    let secret = '';
    let usedBasic = false;
    const header = c.req.header('authorization') ?? '';
    if (/^Basic /i.test(header)) {
      usedBasic = true;
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
    const client = UUID_RE.test(clientId) ? clients.get(clientId.toLowerCase()) : undefined;
    if (!client) throw new OAuthFailure(401, 'invalid_client', 'Invalid client credentials');
    if (client.client_type === 'public') {
      if (secret) throw new OAuthFailure(401, 'invalid_client', 'public clients must not provide client_secret');
      return client;
    }
    if (!secret) throw new OAuthFailure(401, 'invalid_client', 'confidential clients must provide client_secret');
    const ok = client.secretHash && timingSafeEqual(sha256(secret), client.secretHash);
    if (!ok) throw new OAuthFailure(401, 'invalid_client', usedBasic ? 'invalid client credentials' : 'invalid client credentials');
    return client;
  }

  // ---- authorizations ----

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

  function approve(auth: Authorization): void {
    auth.status = 'approved';
    auth.code = randomToken(32);
    auth.expiresAt = Date.now() + AUTHORIZATION_TTL_MS;
    codes.set(auth.code, auth.id);
  }

  function upsertConsent(userId: string, clientId: string, scope: string): void {
    const key = `${userId}:${clientId}`;
    const existing = consents.get(key);
    const scopes = new Set(parseScopes(scope));
    if (existing && !existing.revoked) {
      for (const s of scopes) existing.scopes.add(s);
      return;
    }
    consents.set(key, { userId, clientId, scopes, grantedAt: new Date().toISOString(), revoked: false });
  }

  /** Pending, unexpired authorization or an error response (GoTrue's validateAndFindAuthorization). */
  function findPendingAuthorization(c: Context, id: string): Authorization | Response {
    const auth = authorizations.get(id);
    if (!auth) return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
    if (auth.expiresAt <= Date.now()) {
      auth.status = 'expired';
      return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
    }
    if (auth.status !== 'pending') return gotrueError(c, 400, 'validation_failed', 'authorization request cannot be processed');
    return auth;
  }

  function validateOrigin(c: Context): Response | undefined {
    const origin = c.req.header('origin');
    if (!origin) return undefined;
    if (origin.replace(/\/$/, '') !== new URL(projectUrl).origin) {
      return gotrueError(c, 400, 'validation_failed', 'unauthorized request origin');
    }
    return undefined;
  }

  // ---- HTTP helpers ----

  function gotrueError(c: Context, status: ContentfulStatusCode, errorCode: string, msg: string): Response {
    return c.json({ code: status, error_code: errorCode, msg }, status);
  }

  function oauthError(c: Context, f: OAuthFailure): Response {
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (f.status === 401 && /^Basic /i.test(c.req.header('authorization') ?? '')) headers['WWW-Authenticate'] = 'Basic realm="oauth"';
    return c.json({ error: f.error, error_description: f.description }, f.status, headers);
  }

  async function readParams(c: Context): Promise<Record<string, string>> {
    const type = c.req.header('content-type') ?? '';
    const text = await c.req.text();
    if (type.includes('application/json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text || 'null');
      } catch {
        throw new OAuthFailure(400, 'invalid_request', 'Invalid JSON body');
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new OAuthFailure(400, 'invalid_request', 'Invalid JSON body');
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
      return out;
    }
    return Object.fromEntries(new URLSearchParams(text));
  }

  function metadata(): Record<string, unknown> {
    const doc: Record<string, unknown> = {
      issuer,
      authorization_endpoint: `${issuer}/oauth/authorize`,
      token_endpoint: `${issuer}/oauth/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      userinfo_endpoint: `${issuer}/oauth/userinfo`,
    };
    if (dynamicRegistration) doc.registration_endpoint = `${issuer}/oauth/clients/register`;
    Object.assign(doc, {
      scopes_supported: [...SUPPORTED_SCOPES],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [legacySecret !== undefined ? 'HS256' : currentKey().alg],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      code_challenge_methods_supported: ['S256', 'plain'],
    });
    return doc;
  }

  function jwksDocument(): { keys: JWK[] } {
    if (legacySecret !== undefined) return { keys: [] };
    return {
      keys: [...keys].reverse().map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig', key_ops: ['verify'] })),
    };
  }

  // ---- routes ----

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
  app.onError((err, c) => {
    if (err instanceof OAuthFailure) return oauthError(c, err);
    console.error('dev/auth-server: unexpected error', err);
    return gotrueError(c, 500, 'unexpected_failure', 'Unexpected failure, please check server logs for more information');
  });
  app.notFound((c) => gotrueError(c, 404, 'not_found', 'Not found'));

  // The "site": the app's hash-routed consent page.
  app.get('/', (c) =>
    c.html(consentPageHtml(), 200, {
      'Cache-Control': 'no-store',
      'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
    }),
  );

  const serveMetadata = (c: Context) => c.json(metadata(), 200, { 'Cache-Control': 'public, max-age=600' });
  app.get('/.well-known/oauth-authorization-server/auth/v1', serveMetadata);
  app.get('/auth/v1/.well-known/oauth-authorization-server', serveMetadata);
  app.get('/auth/v1/.well-known/openid-configuration', serveMetadata);

  app.get('/auth/v1/.well-known/jwks.json', (c) =>
    c.json(jwksDocument(), 200, { 'Cache-Control': 'public, max-age=600' }),
  );

  app.post('/auth/v1/oauth/clients/register', async (c) => {
    if (!dynamicRegistration) {
      return gotrueError(c, 403, 'oauth_dynamic_client_registration_disabled', 'Dynamic client registration is not enabled');
    }
    let params: unknown;
    try {
      params = JSON.parse((await c.req.text()) || 'null');
    } catch {
      params = undefined;
    }
    if (!params || typeof params !== 'object' || Array.isArray(params)) {
      return c.json({ error: 'invalid_client_metadata', error_description: 'Invalid JSON body', code: 400, error_code: 'bad_json', msg: 'Invalid JSON body' }, 400);
    }
    try {
      return c.json(register(params as Record<string, unknown>, 'dynamic'), 201, { 'Cache-Control': 'no-store' });
    } catch (e) {
      if (!(e instanceof RegistrationError)) throw e;
      return c.json({ error: e.error, error_description: e.message, code: 400, error_code: 'validation_failed', msg: e.message }, 400);
    }
  });

  app.get('/auth/v1/oauth/authorize', async (c) => {
    const q = (k: string) => c.req.query(k) ?? '';
    const clientId = q('client_id');
    const redirectUri = q('redirect_uri');
    const state = q('state');
    // Errors before client + redirect_uri are trusted: JSON, never a redirect.
    if (!clientId) return gotrueError(c, 400, 'validation_failed', 'client_id is required');
    if (!redirectUri) return gotrueError(c, 400, 'validation_failed', 'redirect_uri is required');
    if (!UUID_RE.test(clientId)) return gotrueError(c, 400, 'oauth_client_not_found', 'invalid client_id format');
    const client = clients.get(clientId.toLowerCase());
    if (!client) return gotrueError(c, 400, 'oauth_client_not_found', 'invalid client_id');
    if (!client.redirect_uris.includes(redirectUri)) return gotrueError(c, 400, 'validation_failed', 'invalid redirect_uri');

    // From here on errors go back to the client as invalid_request redirects.
    const fail = (description: string, error = 'invalid_request') => c.redirect(errorRedirect(redirectUri, error, description, state), 302);
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
    if (challenge.length < 43 || challenge.length > 128) return fail('code_challenge must be between 43 and 128 characters');

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
    authorizations.set(auth.id, auth);

    if (autoApprove) {
      const user = await findUserByEmail(autoApprove.email);
      if (!user) return fail(`autoApprove user ${autoApprove.email} not found`, 'server_error');
      if (isBanned(user)) return fail('User is banned', 'access_denied');
      auth.userId = user.id;
      approve(auth);
      upsertConsent(user.id, client.client_id, auth.scope);
      return c.redirect(successRedirect(auth), 302);
    }
    return c.redirect(`${projectUrl.replace(/\/+$/, '')}${AUTHORIZATION_PATH}?authorization_id=${auth.id}`, 302);
  });

  app.get('/auth/v1/oauth/authorizations/:id', async (c) => {
    const bad = validateOrigin(c);
    if (bad) return bad;
    const who = await verifyBearer(c);
    if (who instanceof Response) return who;
    const found = findPendingAuthorization(c, c.req.param('id'));
    if (found instanceof Response) return found;
    const auth = found;
    if (auth.userId === undefined) {
      auth.userId = who.user.id;
      const consent = consents.get(`${who.user.id}:${auth.clientId}`);
      if (consent && !consent.revoked && parseScopes(auth.scope).every((s) => consent.scopes.has(s))) {
        approve(auth); // consent already covers these scopes: GoTrue auto-approves
        return c.json({ redirect_url: successRedirect(auth) });
      }
    } else if (auth.userId !== who.user.id) {
      return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
    }
    const client = clients.get(auth.clientId)!;
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
    const bad = validateOrigin(c);
    if (bad) return bad;
    const who = await verifyBearer(c);
    if (who instanceof Response) return who;
    let body: unknown;
    try {
      body = JSON.parse((await c.req.text()) || 'null');
    } catch {
      return gotrueError(c, 400, 'bad_json', 'invalid JSON body');
    }
    const action = body && typeof body === 'object' ? (body as Record<string, unknown>).action : undefined;
    if (action !== 'approve' && action !== 'deny') return gotrueError(c, 400, 'validation_failed', "action must be 'approve' or 'deny'");
    const found = findPendingAuthorization(c, c.req.param('id'));
    if (found instanceof Response) return found;
    const auth = found;
    if (auth.userId !== who.user.id) return gotrueError(c, 404, 'oauth_authorization_not_found', 'authorization not found');
    if (action === 'approve') {
      approve(auth);
      upsertConsent(who.user.id, auth.clientId, auth.scope);
      return c.json({ redirect_url: successRedirect(auth) });
    }
    auth.status = 'denied';
    return c.json({ redirect_url: errorRedirect(auth.redirectUri, 'access_denied', 'User denied the request', auth.state) });
  });

  app.post('/auth/v1/oauth/token', async (c) => {
    const params = await readParams(c);
    const grantType = params.grant_type ?? '';
    if (!grantType) throw new OAuthFailure(400, 'invalid_request', 'grant_type is required');
    const client = authenticateClient(c, params);
    if (!client.grant_types.includes(grantType)) {
      const known = grantType === 'authorization_code' || grantType === 'refresh_token';
      throw new OAuthFailure(400, 'unsupported_grant_type', known ? `Client is not allowed to use grant type: ${grantType}` : `Unsupported grant type: ${grantType}`);
    }
    const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

    if (grantType === 'authorization_code') {
      const code = params.code ?? '';
      if (!code) throw new OAuthFailure(400, 'invalid_request', 'code is required for authorization_code grant');
      const authId = codes.get(code);
      const auth = authId ? authorizations.get(authId) : undefined;
      if (!auth || auth.status !== 'approved' || auth.code !== code) throw new OAuthFailure(400, 'invalid_grant', 'Invalid authorization code');
      if (auth.expiresAt <= Date.now()) throw new OAuthFailure(400, 'invalid_grant', 'Authorization code has expired');
      if (auth.clientId !== client.client_id) throw new OAuthFailure(400, 'invalid_grant', 'Authorization code was not issued for this client');
      if (params.resource && params.resource !== auth.resource) {
        throw new OAuthFailure(400, 'invalid_grant', 'Authorization code resource does not match the resource parameter');
      }
      if (params.redirect_uri && params.redirect_uri !== auth.redirectUri) throw new OAuthFailure(400, 'invalid_grant', 'Invalid redirect_uri');
      const verifier = params.code_verifier ?? '';
      if (!verifier) throw new OAuthFailure(400, 'invalid_grant', 'PKCE verification failed: code_verifier is required');
      if (verifier.length < 43 || verifier.length > 128) {
        throw new OAuthFailure(400, 'invalid_grant', 'PKCE verification failed: code_verifier must be between 43 and 128 characters');
      }
      const computed = auth.codeChallengeMethod === 's256' ? b64url(sha256(verifier)) : verifier;
      if (computed.length !== auth.codeChallenge.length || !timingSafeEqual(Buffer.from(computed), Buffer.from(auth.codeChallenge))) {
        throw new OAuthFailure(400, 'invalid_grant', 'PKCE verification failed: code challenge does not match');
      }
      // Single use: consumed before any await, so a concurrent second exchange cannot succeed.
      codes.delete(code);
      authorizations.delete(auth.id);
      const user = auth.userId ? await findUserById(auth.userId) : undefined;
      if (!user) throw new OAuthFailure(400, 'invalid_grant', 'User not found for authorization code');
      if (isBanned(user)) throw new OAuthFailure(400, 'access_denied', 'User is banned');
      const session = newSession(user.id, client.client_id, auth.scope, AMR_OAUTH);
      const body: Record<string, unknown> = {
        access_token: await accessTokenFor(user, session),
        token_type: 'bearer',
        expires_in: ttl,
        refresh_token: issueRefreshToken(session),
      };
      if (parseScopes(auth.scope).includes('openid')) body.id_token = await idTokenFor(user, client, auth, session.amr[0]!.timestamp);
      return c.json(body, 200, noStore);
    }

    // refresh_token
    const result = await refreshGrant(params.refresh_token ?? '', client.client_id);
    return c.json(
      { access_token: result.accessToken, token_type: 'bearer', expires_in: ttl, refresh_token: result.refreshToken },
      200,
      noStore,
    );
  });

  /** Rotate a refresh token. Reuse of a rotated token revokes the whole session (GoTrue's reuse detection). */
  async function refreshGrant(token: string, clientId: string | null): Promise<{ accessToken: string; refreshToken: string; user: DbUser }> {
    if (!token) throw new OAuthFailure(400, 'invalid_request', 'refresh_token is required for refresh_token grant');
    const invalid = () => new OAuthFailure(400, 'invalid_grant', 'Refresh token is invalid or expired.');
    const record = refreshTokens.get(token);
    if (!record) throw invalid();
    const session = sessions.get(record.sessionId);
    if (!session) throw invalid();
    if (session.clientId !== clientId) throw invalid();
    if (record.used) {
      deleteSession(session);
      throw invalid();
    }
    record.used = true;
    const user = await findUserById(session.userId);
    if (!user || isBanned(user)) {
      deleteSession(session);
      throw invalid();
    }
    if (!sessions.has(session.id)) throw invalid(); // revoked while we were reading the user
    return { accessToken: await accessTokenFor(user, session), refreshToken: issueRefreshToken(session), user };
  }

  app.get('/auth/v1/oauth/userinfo', async (c) => {
    const who = await verifyBearer(c);
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
      const user = await checkPassword(email, password);
      if (!user) return gotrueError(c, 400, 'invalid_credentials', 'Invalid login credentials');
      if (isBanned(user)) return gotrueError(c, 400, 'user_banned', 'User is banned');
      const session = newSession(user.id, null, undefined, AMR_PASSWORD);
      return sessionResponse(user, await accessTokenFor(user, session), issueRefreshToken(session));
    }
    if (grantType === 'refresh_token') {
      try {
        const r = await refreshGrant(typeof body.refresh_token === 'string' ? body.refresh_token : '', null);
        return sessionResponse(r.user, r.accessToken, r.refreshToken);
      } catch (e) {
        if (e instanceof OAuthFailure) return gotrueError(c, 400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
        throw e;
      }
    }
    return gotrueError(c, 400, 'validation_failed', 'unsupported_grant_type');
  });

  app.get('/auth/v1/user/oauth/grants', async (c) => {
    const who = await verifyBearer(c);
    if (who instanceof Response) return who;
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
    const who = await verifyBearer(c);
    if (who instanceof Response) return who;
    const clientId = c.req.query('client_id') ?? '';
    if (!clientId) return gotrueError(c, 400, 'validation_failed', 'client_id query parameter is required');
    if (!UUID_RE.test(clientId)) return gotrueError(c, 400, 'validation_failed', 'invalid client_id format');
    const key = `${who.user.id}:${clientId.toLowerCase()}`;
    const consent = consents.get(key);
    if (!consent || consent.revoked) return gotrueError(c, 404, 'oauth_consent_not_found', 'No active grant found for this client');
    consent.revoked = true;
    for (const s of [...sessions.values()]) {
      if (s.userId === who.user.id && s.clientId === consent.clientId) deleteSession(s);
    }
    return c.body(null, 204);
  });

  // ---- listen ----

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, () => resolve(s as Server));
    (s as Server).once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' || host.includes(':') ? `[${address.address}]` : host;
  projectUrl = (opts.issuerBase ?? `http://${urlHost}:${address.port}`).replace(/\/+$/, '');
  issuer = `${projectUrl}/auth/v1`;

  // Built-in public client for mintAccessToken's default client_id.
  const defaultClient = register(
    { redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', client_name: 'Built-in test client' },
    'manual',
  );
  const defaultClientId = String(defaultClient.client_id);

  return {
    projectUrl,
    issuer,
    defaultClientId,
    async mintAccessToken(user, overrides = {}) {
      const { clientId: clientOverride, expiresIn, ...claimOverrides } = overrides;
      const clientId = clientOverride === undefined ? defaultClientId : clientOverride;
      const scope = typeof claimOverrides.scope === 'string' ? claimOverrides.scope : clientId === null ? undefined : DEFAULT_SCOPE;
      const session = newSession(user.id, clientId, scope, clientId === null ? AMR_PASSWORD : AMR_OAUTH);
      const iat = typeof claimOverrides.iat === 'number' ? claimOverrides.iat : nowSeconds();
      const claims: Record<string, unknown> = buildClaims(user, session, iat, expiresIn ?? ttl);
      for (const [k, v] of Object.entries(claimOverrides)) {
        if (v === undefined) delete claims[k];
        else claims[k] = v;
      }
      if (typeof claims.session_id === 'string' && claims.session_id !== session.id) {
        sessions.delete(session.id);
        session.id = claims.session_id;
        sessions.set(session.id, session);
      }
      return signJwt(claims);
    },
    async signWith(header, payload, signOpts) {
      const alg = String(header.alg ?? '');
      if (alg.toLowerCase() === 'none') return rawSign(header, payload, { kind: 'none' });
      if (/^HS/i.test(alg)) {
        const secret =
          signOpts?.secret ?? legacySecret ?? (currentKey().publicKey.export({ type: 'spki', format: 'pem' }) as string);
        return rawSign(header, payload, { kind: 'hmac', secret });
      }
      return rawSign(header, payload, { kind: 'asym', key: currentKey() });
    },
    get jwks() {
      return jwksDocument();
    },
    async rotateKey(rotateOpts) {
      const next = await generateKey(keyAlgorithm);
      if (rotateOpts?.keepPrevious === false) keys.splice(0, keys.length);
      keys.push(next);
    },
    async registerClient(metadata) {
      return register(metadata as unknown as Record<string, unknown>, 'manual');
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}
