/**
 * A headless OAuth client for tests: an `OAuthClientProvider` for the SDK's client, and the consent
 * step a person performs in the browser, done with fetch against the same JSON API the consent page
 * uses (sign in with a password session, read the authorization, approve or deny).
 *
 * Also a command-line "browser" for clients that open one (mcp-remote): set BROWSER to a script
 * running `node --import tsx test/support/oauth-client.ts <url>` with CONSENT_EMAIL and
 * CONSENT_PASSWORD in the environment; it completes consent and follows the redirect to the
 * client's callback, as a browser would.
 *
 * @example
 *   const provider = new HeadlessOAuthProvider({ user: { email, password } });
 *   const client = await connectWithOAuth(stack.url, provider);
 */
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  UnauthorizedError,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
  UnauthorizedError as ModernUnauthorizedError,
} from '@modelcontextprotocol/client';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

/** Every network wait of the consent step is bounded. */
const STEP_TIMEOUT_MS = 10_000;

export interface Credentials {
  email: string;
  password: string;
}

export type ConsentAction = 'approve' | 'deny';

export interface ConsentOutcome {
  /** Where the browser ends up: the client's redirect_uri with `code` (or `error`) and `state`. */
  redirectUrl: string;
  /** The authorization details the consent page shows (absent when the AS redirected at once). */
  details?: {
    client?: { id: string; name?: string };
    user?: { email?: string };
    scope?: string;
    redirect_uri?: string;
  };
}

export class ConsentError extends Error {}

async function json(response: Response, what: string): Promise<Record<string, unknown>> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok || !body || typeof body !== 'object') {
    throw new ConsentError(`${what} failed: HTTP ${response.status} ${text.slice(0, 300)}`);
  }
  return body as Record<string, unknown>;
}

/**
 * What a person does between "the client opens the authorize URL" and "the browser lands on the
 * client's redirect_uri": follow /oauth/authorize to the consent page, sign in, then approve or deny.
 * Returns the redirect URL without fetching it.
 */
export async function completeConsent(
  authorizeUrl: string | URL,
  user: Credentials,
  action: ConsentAction = 'approve',
): Promise<ConsentOutcome> {
  const signal = () => AbortSignal.timeout(STEP_TIMEOUT_MS);
  const start = await fetch(authorizeUrl, { redirect: 'manual', signal: signal() });
  const location = start.headers.get('location');
  if (start.status !== 302 || !location) {
    throw new ConsentError(`authorize did not redirect: HTTP ${start.status} ${(await start.text()).slice(0, 300)}`);
  }
  // The AS redirects to its site's hash-routed consent page: SITE_URL/#/oauth/consent?authorization_id=…
  const consentPage = new URL(location, authorizeUrl);
  const hash = consentPage.hash;
  if (!hash.startsWith('#/oauth/consent?')) return { redirectUrl: consentPage.href }; // straight back to the client (error, or auto-approved)
  const authorizationId = new URLSearchParams(hash.slice(hash.indexOf('?') + 1)).get('authorization_id');
  if (!authorizationId) throw new ConsentError(`consent page URL without authorization_id: ${location}`);
  const api = `${consentPage.origin}/auth/v1`;

  const session = await json(
    await fetch(`${api}/token?grant_type=password`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(user),
      signal: signal(),
    }),
    `sign-in as ${user.email}`,
  );
  const bearer = { Authorization: `Bearer ${String(session.access_token)}`, Accept: 'application/json' };
  const details = await json(
    await fetch(`${api}/oauth/authorizations/${encodeURIComponent(authorizationId)}`, {
      headers: bearer,
      signal: signal(),
    }),
    'reading the authorization request',
  );
  if (typeof details.redirect_url === 'string') return { redirectUrl: details.redirect_url }; // consent already on file
  const decision = await json(
    await fetch(`${api}/oauth/authorizations/${encodeURIComponent(authorizationId)}/consent`, {
      method: 'POST',
      headers: { ...bearer, 'Content-Type': 'application/json' },
      body: JSON.stringify({ action }),
      signal: signal(),
    }),
    `consent (${action})`,
  );
  if (typeof decision.redirect_url !== 'string') throw new ConsentError('consent answered without redirect_url');
  return { redirectUrl: decision.redirect_url, details: details as ConsentOutcome['details'] };
}

/** A password session of the web app itself (what the CRM's own pages use), e.g. to manage grants. */
export async function signIn(projectUrl: string, user: Credentials): Promise<string> {
  const session = await json(
    await fetch(`${projectUrl}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(user),
      signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
    }),
    `sign-in as ${user.email}`,
  );
  return String(session.access_token);
}

/** The user withdraws a client's access (Supabase: DELETE /user/oauth/grants). */
export async function revokeGrant(projectUrl: string, user: Credentials, clientId: string): Promise<void> {
  const token = await signIn(projectUrl, user);
  const response = await fetch(`${projectUrl}/auth/v1/user/oauth/grants?client_id=${encodeURIComponent(clientId)}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  if (response.status !== 204)
    throw new ConsentError(`revoking the grant failed: HTTP ${response.status} ${await response.text()}`);
}

/** The client's redirect_uri came back with `error=` (e.g. access_denied). */
export class AuthorizationDeniedError extends Error {
  constructor(
    readonly error: string,
    readonly description: string | null,
  ) {
    super(`authorization failed: ${error}${description ? ` (${description})` : ''}`);
  }
}

export interface HeadlessOAuthProviderOptions {
  /** Who signs in on the consent page. */
  user: Credentials;
  /** What they click. Default approve. */
  action?: ConsentAction;
  clientName?: string;
  /** Registered redirect URI; never fetched (the provider reads the code from it). */
  redirectUrl?: string;
}

/**
 * In-memory OAuthClientProvider. `redirectToAuthorization` performs the consent step at once (unless
 * `interactive` is false, modelling a client that needs a person and has none) and keeps the
 * resulting code (or error) for `takeAuthorizationCode()`.
 */
export class HeadlessOAuthProvider implements OAuthClientProvider {
  readonly redirectUrl: string;
  readonly clientMetadata: OAuthClientMetadata;
  /** Whether a consent step may run; set false to see what a client does when one is needed. */
  interactive = true;
  action: ConsentAction;
  /** Every authorize URL the SDK asked us to open. */
  readonly authorizationUrls: URL[] = [];
  /** What the consent page showed, per completed consent. */
  readonly consents: ConsentOutcome[] = [];
  /** Tokens the SDK saved, in order (initial grant, then each refresh). */
  readonly savedTokens: OAuthTokens[] = [];
  /** Credentials the SDK threw away, with the scope it gave. */
  readonly invalidations: string[] = [];

  private client?: OAuthClientInformationMixed;
  private current?: OAuthTokens;
  private verifier?: string;
  private discovery?: OAuthDiscoveryState;
  private pending?: { code?: string; params?: URLSearchParams; error?: AuthorizationDeniedError };
  private expectedState?: string;

  constructor(private readonly options: HeadlessOAuthProviderOptions) {
    this.action = options.action ?? 'approve';
    this.redirectUrl = options.redirectUrl ?? 'http://127.0.0.1:8976/oauth/callback';
    this.clientMetadata = {
      client_name: options.clientName ?? 'Headless test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    this.expectedState = crypto.randomUUID();
    return this.expectedState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.current;
  }
  saveTokens(tokens: OAuthTokens) {
    this.current = tokens;
    this.savedTokens.push(tokens);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    this.invalidations.push(scope);
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.current = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }

  /** Test hook: replace the stored access token (e.g. with an expired one), keeping the refresh token. */
  replaceAccessToken(accessToken: string): void {
    if (!this.current) throw new Error('no tokens yet');
    this.current = { ...this.current, access_token: accessToken };
  }

  get clientId(): string | undefined {
    return this.client?.client_id;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizationUrls.push(url);
    this.pending = undefined;
    if (!this.interactive) return;
    const outcome = await completeConsent(url, this.options.user, this.action);
    this.consents.push(outcome);
    const back = new URL(outcome.redirectUrl);
    const error = back.searchParams.get('error');
    if (back.searchParams.get('state') !== (url.searchParams.get('state') ?? this.expectedState)) {
      this.pending = {
        error: new AuthorizationDeniedError('state_mismatch', `got state ${back.searchParams.get('state')}`),
      };
    } else if (error) {
      this.pending = { error: new AuthorizationDeniedError(error, back.searchParams.get('error_description')) };
    } else {
      this.pending = { code: back.searchParams.get('code') ?? undefined, params: back.searchParams };
    }
  }

  /** The code of the last consent; throws AuthorizationDeniedError when the user said no. */
  takeAuthorizationCode(): string {
    const pending = this.pending;
    this.pending = undefined;
    if (pending?.error) throw pending.error;
    if (!pending?.code) throw new Error('no authorization code: the consent step did not run');
    return pending.code;
  }

  /** The whole redirect of the last consent (code, state, iss), for clients that check RFC 9207's iss. */
  takeCallbackParams(): URLSearchParams {
    const params = this.pending?.params;
    this.takeAuthorizationCode();
    if (!params) throw new Error('no redirect: the consent step did not run');
    return params;
  }
}

/**
 * The v2 SDK client (`@modelcontextprotocol/client`) through the same flow: try; on
 * UnauthorizedError finish with the consent's redirect and connect again. `mode` picks its era.
 */
export async function connectModernWithOAuth(
  url: string,
  provider: HeadlessOAuthProvider,
  mode: 'auto' | { pin: string },
  name = 'headless-oauth-test-v2',
): Promise<ModernClient> {
  const make = () => new ModernClient({ name, version: '1.0.0' }, { versionNegotiation: { mode } });
  const first = make();
  try {
    await first.connect(new ModernTransport(new URL(url), { authProvider: provider }));
    return first;
  } catch (error) {
    if (!(error instanceof ModernUnauthorizedError)) throw error;
  }
  const transport = new ModernTransport(new URL(url), { authProvider: provider });
  await transport.finishAuth(provider.takeCallbackParams());
  const client = make();
  await client.connect(transport);
  return client;
}

/**
 * Connects the SDK client the way an app does: try; on UnauthorizedError the provider has been
 * through consent, so finish the flow with the code and connect again.
 */
export async function connectWithOAuth(
  url: string,
  provider: HeadlessOAuthProvider,
  name = 'headless-oauth-test',
): Promise<Client> {
  const first = new Client({ name, version: '1.0.0' });
  try {
    await first.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
    return first;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const code = provider.takeAuthorizationCode();
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  await transport.finishAuth(code);
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return client;
}

// ---------------------------------------------------------------------------------------------
// Command line: a stand-in browser for clients that "open the browser" on the authorize URL.

async function openAsBrowser(url: string): Promise<void> {
  const log = (line: string) => {
    if (process.env.CONSENT_LOG) appendFileSync(process.env.CONSENT_LOG, `${new Date().toISOString()} ${line}\n`);
  };
  try {
    const email = process.env.CONSENT_EMAIL;
    const password = process.env.CONSENT_PASSWORD;
    if (!email || !password) throw new Error('CONSENT_EMAIL and CONSENT_PASSWORD must be set');
    log(`open ${url}`);
    const outcome = await completeConsent(
      url,
      { email, password },
      (process.env.CONSENT_ACTION as ConsentAction) || 'approve',
    );
    log(
      `consent done, client=${outcome.details?.client?.name ?? '?'}; following ${outcome.redirectUrl.replace(/code=[^&]+/, 'code=…')}`,
    );
    const landing = await fetch(outcome.redirectUrl, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
    log(`callback answered ${landing.status}`);
  } catch (error) {
    log(`FAILED ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: node --import tsx test/support/oauth-client.ts <authorize-url>');
    process.exit(2);
  }
  await openAsBrowser(url);
}

// ---------------------------------------------------------------------------------------------
// Bearer injection for third-party tools that cannot send a header themselves.

/**
 * Writes an ES module that, preloaded into a Node or Bun process (`NODE_OPTIONS=--import <file>`,
 * `bun --preload <file>`), adds `Authorization: Bearer $INJECT_BEARER_TOKEN` to every request that
 * process makes to `$INJECT_BEARER_ORIGIN`: through global fetch, through undici's `request()` (its
 * export wrapped) where the process uses undici directly, and through `node:http`'s `request()`.
 * Returns the file path.
 */
export async function writeBearerPreload(dir: string): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const file = `${dir.replace(/\/+$/, '')}/inject-bearer.mjs`;
  await writeFile(
    file,
    `// Generated by test/support/oauth-client.ts (writeBearerPreload).
const token = process.env.INJECT_BEARER_TOKEN;
const origin = process.env.INJECT_BEARER_ORIGIN;
const wanted = (url) => { try { return new URL(String(url)).origin === origin; } catch { return false; } };

const originalFetch = globalThis.fetch;
globalThis.fetch = function (input, init) {
  const url = input instanceof Request ? input.url : input;
  if (!token || !wanted(url)) return originalFetch(input, init);
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  if (!headers.has('authorization')) headers.set('authorization', 'Bearer ' + token);
  if (input instanceof Request) return originalFetch(new Request(input, { ...init, headers, duplex: 'half' }));
  return originalFetch(input, { ...init, headers });
};

// undici's request() (used directly by some tools) bypasses global fetch.
import { createRequire } from 'node:module';
let undici;
try { undici = createRequire(process.cwd() + '/')('undici'); } catch { /* not used by this process */ }
const hasAuth = (headers) => Array.isArray(headers)
  ? headers.some((h, i) => i % 2 === 0 && String(h).toLowerCase() === 'authorization')
  : Object.keys(headers ?? {}).some((k) => k.toLowerCase() === 'authorization');
const withAuth = (headers) => {
  if (hasAuth(headers)) return headers;
  if (Array.isArray(headers)) return [...headers, 'authorization', 'Bearer ' + token];
  return { ...(headers ?? {}), authorization: 'Bearer ' + token };
};
if (undici && token) {
  // Replace the export before the tool imports it: Bun's built-in undici exposes a mutable exports
  // object, and Node builds an ES module's view of a CommonJS package from its exports at first import.
  const original = undici.request;
  undici.request = (url, options = {}) => original(url, wanted(url) ? { ...options, headers: withAuth(options.headers) } : options);
}

// node:http's request({ hostname, port, path, headers }) (used by some scenarios to send raw headers).
const http = createRequire(import.meta.url)('node:http');
const httpRequest = http.request;
http.request = function (options, ...rest) {
  if (token && options && typeof options === 'object' && !(options instanceof URL)) {
    const target = 'http://' + (options.hostname ?? options.host ?? 'localhost') + (options.port ? ':' + options.port : '');
    if (wanted(target)) options = { ...options, headers: withAuth(options.headers) };
  }
  return httpRequest.call(this, options, ...rest);
};
`,
  );
  return file;
}
