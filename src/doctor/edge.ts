/**
 * The `edge_function` check: for a server deployed as a Supabase Edge Function (MCP_SERVER_URL
 * under SUPABASE_URL/functions/v1/), is the setup one that works? The URL names one function, the
 * path prefix is the function's, the DATABASE_URL secret is the least-privilege role through the
 * transaction pooler, and the deployed function answers an anonymous MCP request with its own
 * challenge (not the gateway's 401, which means verify_jwt is still on).
 */
import { classifyDatabaseUrl } from './database.js';
import { readJson, type Http } from './http.js';
import { errorMessage, fail, pass, skip, warn, type CheckResult } from './report.js';

export interface EdgeSetup {
  supabaseUrl: string | null;
  /** MCP_SERVER_URL. */
  publicUrl: string | null;
  /** MCP_BASE_PATH, when set. */
  basePath: string;
  /** The DATABASE_URL secret (the same value the doctor is given). */
  databaseUrl: string | null;
}

/** The function's name when `publicUrl` is an Edge Function URL of this project, else null. */
export function edgeFunctionName(supabaseUrl: string | null, publicUrl: string | null): string | null {
  if (!supabaseUrl || !publicUrl?.startsWith(`${supabaseUrl}/functions/v1/`)) return null;
  return publicUrl.slice(`${supabaseUrl}/functions/v1/`.length);
}

const DEPLOY = (name: string) => `npx supabase functions deploy ${name} --no-verify-jwt`;

export async function checkEdgeFunction(http: Http, setup: EdgeSetup): Promise<CheckResult> {
  const { supabaseUrl, publicUrl, basePath, databaseUrl } = setup;
  const name = edgeFunctionName(supabaseUrl, publicUrl);
  if (!supabaseUrl || !publicUrl || name === null)
    return skip(
      'edge_function',
      'Not an Edge Function deployment (MCP_SERVER_URL is not under SUPABASE_URL/functions/v1/).',
    );
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    return fail(
      'edge_function',
      'EDGE_URL_WRONG',
      `MCP_SERVER_URL names "${name}", not one function.`,
      `Set MCP_SERVER_URL=${supabaseUrl}/functions/v1/atomic-crm-mcp (the function's URL, without /mcp).`,
    );
  }
  if (basePath && basePath !== `/${name}`) {
    return fail(
      'edge_function',
      'EDGE_PREFIX_MISMATCH',
      `MCP_BASE_PATH is ${basePath}, but the function "${name}" receives its requests under /${name}.`,
      `Unset MCP_BASE_PATH (npx supabase secrets unset MCP_BASE_PATH): the function sets /${name} itself.`,
    );
  }

  const poolerFix = `npx supabase secrets set DATABASE_URL=postgresql://mcp_login.REF:PASSWORD@aws-0-REGION.pooler.supabase.com:6543/postgres (Connect → Transaction pooler)`;
  const db = databaseUrl ? classifyDatabaseUrl(databaseUrl) : null;
  if (db?.role === 'postgres') {
    return fail(
      'edge_function',
      'EDGE_PRIVILEGED_SECRET',
      "DATABASE_URL logs in as postgres, the privileged role of the platform's SUPABASE_DB_URL: RLS would not bind agent SQL.",
      `Create the least-privilege role (npm run login-role-sql) and set it: ${poolerFix}`,
    );
  }

  const probe = await probeFunction(http, publicUrl, name);
  if (probe.status !== 'pass') return probe;
  if (db && db.kind !== 'pooler-transaction') {
    return warn(
      'edge_function',
      'EDGE_NOT_TRANSACTION_POOLER',
      `The function answers, but DATABASE_URL is ${db.describe}: every isolate opens its own connections, which the transaction pooler shares best.`,
      poolerFix,
    );
  }
  return pass(
    'edge_function',
    `${publicUrl}/mcp answers with its own challenge; metadata inside the function's path${db ? `; ${db.describe}` : ''}.`,
  );
}

/** An anonymous MCP request and the metadata its challenge names, as a client's first two steps. */
async function probeFunction(http: Http, publicUrl: string, name: string): Promise<CheckResult> {
  const metadataUrl = `${publicUrl}/.well-known/oauth-protected-resource/mcp`;
  let response: Response;
  try {
    response = await http.request(`${publicUrl}/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
  } catch (error) {
    return warn(
      'edge_function',
      'EDGE_UNREACHABLE',
      `${publicUrl}/mcp did not answer: ${errorMessage(error)}.`,
      'Check the project URL and your network, then re-run.',
    );
  }
  const challenge = response.headers.get('WWW-Authenticate') ?? '';
  if (response.status === 404) {
    return fail(
      'edge_function',
      'EDGE_NOT_DEPLOYED',
      `${publicUrl}/mcp: 404, no function "${name}" is deployed.`,
      `npm run build:edge && ${DEPLOY(name)}`,
    );
  }
  if (response.status === 503) {
    return fail(
      'edge_function',
      'EDGE_NOT_STARTING',
      'The function is deployed but cannot start (a secret missing or refused, or the database unreachable).',
      'Read the reason in Dashboard → Edge Functions → ' +
        name +
        ' → Logs; check `npx supabase secrets list` has DATABASE_URL.',
    );
  }
  if (response.status !== 401 || !challenge.includes(`resource_metadata="${metadataUrl}"`)) {
    const verifyJwt = response.status === 401 && !challenge.includes('resource_metadata');
    return fail(
      'edge_function',
      verifyJwt ? 'EDGE_VERIFY_JWT_ON' : 'EDGE_CHALLENGE_WRONG',
      verifyJwt
        ? 'The gateway refused the anonymous request itself (verify_jwt is on): clients never see the challenge that starts sign-in.'
        : `An anonymous request got HTTP ${response.status}, challenge "${challenge.slice(0, 200)}", not one naming ${metadataUrl}.`,
      verifyJwt
        ? `Deploy with verify_jwt off: ${DEPLOY(name)} (supabase/config.toml sets it too).`
        : `Unset MCP_SERVER_URL and MCP_BASE_PATH in the function's secrets, then ${DEPLOY(name)}.`,
    );
  }
  const metadata = await http.request(metadataUrl).then(
    (r) => (r.ok ? readJson(r) : null),
    () => null,
  );
  if (metadata?.resource !== `${publicUrl}/mcp`) {
    return fail(
      'edge_function',
      'EDGE_METADATA_WRONG',
      `${metadataUrl} does not describe ${publicUrl}/mcp (resource: ${String(metadata?.resource ?? 'none')}).`,
      `Unset MCP_SERVER_URL and MCP_BASE_PATH in the function's secrets, then ${DEPLOY(name)}.`,
    );
  }
  return pass('edge_function', 'challenge and metadata correct');
}
