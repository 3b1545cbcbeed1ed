/**
 * The OAuth checks: does the project answer, does it publish authorization-server metadata where
 * MCP clients look, is its OAuth 2.1 server on, may clients register themselves, does its issuer
 * match the one the server expects, and where does sign-in send the user?
 */
import { base64url } from 'jose';
import { readJson, type Http } from './http.js';
import { errorCode, errorMessage, fail, pass, skip, type CheckResult } from './report.js';

export type Metadata = Record<string, unknown>;

const OAUTH_SERVER_STEPS = 'Supabase dashboard → Authentication → OAuth Server: enable "OAuth 2.1 server"';

const DCR_SWITCH =
  'Supabase dashboard → Authentication → OAuth Server: turn on "Allow dynamic client registration" (MCP clients ' +
  'register themselves; without it every client must be pre-registered by hand).';

export async function checkSupabaseAnswers(http: Http, supabaseUrl: string, issuer: string): Promise<CheckResult> {
  try {
    const response = await http.request(`${issuer}/.well-known/jwks.json`);
    await response.body?.cancel();
    return pass('supabase_url', `${supabaseUrl} answered (HTTP ${response.status} for the JWKS).`);
  } catch (error) {
    const code = errorCode(error);
    const host = new URL(supabaseUrl).host;
    const why =
      code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? `the host ${host} does not resolve (${code})`
        : code === 'ECONNREFUSED'
          ? `nothing listens at ${host} (ECONNREFUSED)`
          : (error as Error)?.name === 'TimeoutError'
            ? `no answer within ${http.timeoutMs} ms`
            : `${code ?? 'network error'}: ${errorMessage(error)}`;
    return fail(
      'supabase_url',
      'SUPABASE_UNREACHABLE',
      `${supabaseUrl} did not answer: ${why}.`,
      'Set SUPABASE_URL to the Project URL shown in the Supabase dashboard (Project Settings → API), e.g. ' +
        'https://abcd1234.supabase.co, and check this host can reach it (proxy, firewall).',
    );
  }
}

/** One metadata URL's answer: its status (0: none) and its JSON object, if it served one. */
export interface MetadataDocument {
  url: string;
  status: number;
  body: Metadata | null;
  error?: string;
}

/** The two places a client may look: RFC 8414's path-insertion URL and the issuer-suffix form. */
export async function readMetadata(
  http: Http,
  supabaseUrl: string,
  issuer: string,
): Promise<{ insertion: MetadataDocument; suffix: MetadataDocument }> {
  const get = async (url: string): Promise<MetadataDocument> => {
    try {
      const response = await http.request(url, { headers: { Accept: 'application/json' } });
      return {
        url,
        status: response.status,
        body: response.ok ? await readJson(response) : (await response.body?.cancel(), null),
      };
    } catch (error) {
      return { url, status: 0, body: null, error: errorMessage(error) };
    }
  };
  const [insertion, suffix] = await Promise.all([
    get(`${supabaseUrl}/.well-known/oauth-authorization-server/auth/v1`),
    get(`${issuer}/.well-known/oauth-authorization-server`),
  ]);
  return { insertion, suffix };
}

const answered = (doc: MetadataDocument) => (doc.status ? `HTTP ${doc.status}` : doc.error);

export function checkInsertionMetadata(doc: MetadataDocument): CheckResult {
  if (doc.body && typeof doc.body.issuer === 'string') {
    return pass(
      'as_metadata',
      `${doc.url} serves metadata (issuer ${doc.body.issuer}). MCP clients discover the sign-in endpoints here.`,
    );
  }
  return fail(
    'as_metadata',
    'AS_METADATA_MISSING',
    `${doc.url} answered ${answered(doc)} without authorization-server metadata.`,
    `Check SUPABASE_URL is the project URL (not a custom API gateway that drops /.well-known/*), then ${OAUTH_SERVER_STEPS}.`,
  );
}

export function checkOAuthServer(doc: MetadataDocument): CheckResult {
  if (doc.body && typeof doc.body.issuer === 'string')
    return pass('oauth_server', `${doc.url} serves metadata: the OAuth server is on.`);
  return fail(
    'oauth_server',
    'OAUTH_SERVER_DISABLED',
    `${doc.url} answered ${answered(doc)}: the OAuth 2.1 server is not enabled.`,
    `${OAUTH_SERVER_STEPS}, set "Site URL" (Authentication → URL Configuration) to your Atomic CRM URL and ` +
      '"Authorization Path" to /#/oauth/consent.',
  );
}

/** How the registration endpoint answered an empty registration (status 0: no answer). */
export interface RegistrationAnswer {
  url: string;
  status: number;
  /** 201, or a 400 carrying an OAuth or Supabase Auth error object: what a registration endpoint answers. */
  fromRegistrationEndpoint: boolean;
  error?: string;
}

/** Registers nothing: an empty redirect_uris list is refused by every registration endpoint. */
export async function probeRegistration(http: Http, issuer: string, metadata: Metadata): Promise<RegistrationAnswer> {
  const advertised = metadata.registration_endpoint;
  const url = typeof advertised === 'string' ? advertised : `${issuer}/oauth/clients/register`;
  try {
    const response = await http.request(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ redirect_uris: [] }),
    });
    const body = response.status === 400 ? await readJson(response) : (await response.body?.cancel(), null);
    const refusal = typeof body?.error === 'string' || typeof body?.error_code === 'string';
    return { url, status: response.status, fromRegistrationEndpoint: response.status === 201 || refusal };
  } catch (error) {
    return { url, status: 0, fromRegistrationEndpoint: false, error: errorMessage(error) };
  }
}

/** `answer` is null when the endpoint was not probed (the server's /readyz): the metadata then decides. */
export function checkRegistration(metadata: Metadata, answer: RegistrationAnswer | null): CheckResult {
  const endpoint = metadata.registration_endpoint;
  if (typeof endpoint !== 'string') {
    const refused = answer?.status === 403 ? ' and the register endpoint answers 403' : '';
    return fail(
      'dynamic_registration',
      'DCR_DISABLED',
      `The metadata has no registration_endpoint${refused}.`,
      DCR_SWITCH,
    );
  }
  if (!answer) return pass('dynamic_registration', `registration_endpoint ${endpoint}.`);
  if (answer.status === 403) {
    return fail(
      'dynamic_registration',
      'DCR_DISABLED',
      'The metadata lists a registration_endpoint but registering answers HTTP 403.',
      DCR_SWITCH,
    );
  }
  if (answer.fromRegistrationEndpoint) {
    const how =
      answer.status === 400
        ? 'an empty registration was refused with HTTP 400, as expected'
        : `registering answered HTTP ${answer.status}`;
    return pass('dynamic_registration', `registration_endpoint ${endpoint} (${how}).`);
  }
  const got = answer.status ? `answered HTTP ${answer.status}` : `did not answer (${answer.error})`;
  return fail(
    'dynamic_registration',
    'DCR_UNCONFIRMED',
    `The metadata lists registration_endpoint ${endpoint}, but a registration there ${got}, not the 201 or 400 of a ` +
      'registration endpoint: clients that register themselves cannot sign in.',
    `Check that SUPABASE_URL is the project URL and that nothing in front of it (a gateway, a custom domain) drops ` +
      `POST ${new URL(answer.url).pathname}; then ${DCR_SWITCH}`,
  );
}

export function checkIssuer(metadata: Metadata, issuer: string): CheckResult {
  if (metadata.issuer === issuer) return pass('issuer', `metadata issuer = expected issuer = ${issuer}.`);
  const got = String(metadata.issuer);
  return fail(
    'issuer',
    'ISSUER_MISMATCH',
    `The server expects tokens from ${issuer} but Supabase Auth says its issuer is ${got}: every token would be refused ` +
      '(TOKEN_ISSUER_INVALID).',
    got.endsWith('/auth/v1')
      ? `Set SUPABASE_URL=${got.replace(/\/auth\/v1\/?$/, '')} (a custom domain changes the issuer).`
      : `Set SUPABASE_URL so that SUPABASE_URL/auth/v1 equals ${got}.`,
  );
}

/** An existing OAuth client and one of its redirect URIs, to observe where sign-in goes. */
export interface AuthorizeProbe {
  clientId: string;
  redirectUri: string;
}

const CONSENT_SETTINGS =
  'Supabase dashboard → Authentication → OAuth Server → "Authorization Path" = /#/oauth/consent, and ' +
  'Authentication → URL Configuration → "Site URL" = your Atomic CRM URL.';

/** Starts a sign-in (PKCE, nothing is granted) and reads where Supabase Auth sends the browser. */
export async function checkAuthorizationPath(
  http: Http,
  issuer: string,
  metadata: Metadata,
  probe: AuthorizeProbe | undefined,
): Promise<CheckResult> {
  const id = 'authorization_path';
  if (!probe) {
    return skip(
      id,
      `Not observable without a registered client. Check by hand: ${CONSENT_SETTINGS} (or pass --client-id=… --redirect-uri=… of an existing client).`,
    );
  }
  const endpoint =
    typeof metadata.authorization_endpoint === 'string' ? metadata.authorization_endpoint : `${issuer}/oauth/authorize`;
  const url = new URL(endpoint);
  const verifier = 'doctor-probe-'.padEnd(64, 'x');
  const challenge = base64url.encode(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  url.search = new URLSearchParams({
    client_id: probe.clientId,
    redirect_uri: probe.redirectUri,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'doctor',
  }).toString();
  let response: Response;
  try {
    response = await http.request(url.href);
  } catch (error) {
    return fail(
      id,
      'AUTHORIZE_UNREACHABLE',
      `${url.origin}${url.pathname} did not answer: ${errorMessage(error)}.`,
      CONSENT_SETTINGS,
    );
  }
  const location = response.headers.get('location') ?? '';
  const body = response.status >= 300 && response.status < 400 ? '' : (await response.text()).slice(0, 300);
  if (!location) {
    return fail(
      id,
      'AUTHORIZE_FAILED',
      `The authorize endpoint answered HTTP ${response.status}: ${body}`,
      `Check the client id and redirect URI passed to the doctor, then: ${CONSENT_SETTINGS}`,
    );
  }
  if (location.startsWith(probe.redirectUri)) {
    const params = new URL(location).searchParams;
    const error = params.get('error_description') ?? params.get('error');
    return fail(
      id,
      'AUTHORIZE_FAILED',
      `The authorize endpoint sent the client back with an error: ${error}.`,
      CONSENT_SETTINGS,
    );
  }
  const shown = location.replace(/authorization_id=[^&]*/, 'authorization_id=…');
  if (/oauth\/consent/.test(location) && /authorization_id=/.test(location))
    return pass(id, `Sign-in goes to ${shown}.`);
  return fail(
    id,
    'AUTHORIZATION_PATH_WRONG',
    `Sign-in is sent to ${shown}, not to Atomic CRM's consent page.`,
    CONSENT_SETTINGS,
  );
}
