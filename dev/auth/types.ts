/**
 * The public surface of the Supabase Auth stand-in (dev/auth/server.ts): its options, the claims
 * of the tokens it issues, and what tests and the demo can do with a running one.
 */
import type { JWK } from 'jose';
import type postgres from 'postgres';

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
  /**
   * Keep signing keys, registered clients, sessions, refresh tokens and grants in the database
   * (schema `auth_stand_in`), so a restart keeps every sign-in, as a real project does. Default
   * false: each start begins empty (tests). Pending authorizations and codes stay in memory.
   */
  persist?: boolean;
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

/** The claims of a Supabase access token (docs/supabase-auth.md). */
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
  signWith(
    header: Record<string, unknown>,
    payload: Record<string, unknown>,
    opts?: { secret?: string | Uint8Array },
  ): Promise<string>;
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
