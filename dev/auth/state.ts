/**
 * The one state object of the Supabase Auth stand-in. Every route module reads and changes it
 * through the `AuthContext` it is given; nothing else holds state. Durable parts (keys, clients,
 * sessions, refresh tokens, consents) are what `store.ts` keeps in the database for the demo;
 * pending authorizations and their codes live ten minutes and stay in memory (a restart in the
 * middle of a sign-in means starting that sign-in again).
 */
import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { AmrEntry } from './types.js';
import type { Users } from './users.js';

// GoTrue's values (docs/supabase-auth.md).
export const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'phone', 'offline_access'] as const;
export const DEFAULT_SCOPE = 'email';
/** A pending authorization and an issued code live 10 minutes. */
export const AUTHORIZATION_TTL_MS = 10 * 60 * 1000;
/** The app's hash-routed consent page, relative to the site URL. */
export const AUTHORIZATION_PATH = '/#/oauth/consent';
/** GoTrue's AuthenticationMethod strings. */
export const AMR_OAUTH = 'oauth_provider/authorization_code';
export const AMR_PASSWORD = 'password';

export interface SigningKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

export interface Client {
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

export interface Authorization {
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

export interface Session {
  id: string;
  userId: string;
  clientId: string | null;
  scope?: string;
  amr: AmrEntry[];
  refreshTokens: Set<string>;
}

export interface RefreshRecord {
  sessionId: string;
  used: boolean;
}

export interface Consent {
  userId: string;
  clientId: string;
  scopes: Set<string>;
  grantedAt: string;
  revoked: boolean;
}

export interface AuthState {
  /** Oldest first; the last one signs. */
  keys: SigningKey[];
  clients: Map<string, Client>;
  authorizations: Map<string, Authorization>;
  /** code → authorization id */
  codes: Map<string, string>;
  sessions: Map<string, Session>;
  refreshTokens: Map<string, RefreshRecord>;
  /** `${userId}:${clientId}` → consent */
  consents: Map<string, Consent>;
}

export function emptyState(): AuthState {
  return {
    keys: [],
    clients: new Map(),
    authorizations: new Map(),
    codes: new Map(),
    sessions: new Map(),
    refreshTokens: new Map(),
    consents: new Map(),
  };
}

export interface Settings {
  accessTokenTtlSeconds: number;
  dynamicRegistration: boolean;
  keyAlgorithm: 'ES256' | 'RS256';
  legacySecret?: string;
  autoApprove?: { email: string };
}

/** What every route module is given: the users, the settings, the state, and the URLs. */
export interface AuthContext {
  readonly users: Users;
  readonly settings: Settings;
  readonly state: AuthState;
  /** Known once the server listens (the port may be chosen by the OS). */
  readonly urls: { projectUrl: string; issuer: string };
  /** Durable state changed: the store saves it before the response goes out. */
  changed(): void;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export const parseScopes = (scope: string): string[] => scope.split(/\s+/).filter(Boolean);

export const consentKey = (userId: string, clientId: string): string => `${userId}:${clientId}`;
