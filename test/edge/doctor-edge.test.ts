/**
 * `npm run doctor` on an Edge Function setup: the real app, configured as runtimes/edge.ts
 * configures it, behind a stand-in for Supabase's gateway (with verify_jwt on or off, or no such
 * function), judged by the `edge_function` check.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import postgres from 'postgres';
import { edgeEnvironment, EDGE_POOL_SIZE } from '../../runtimes/edge.js';
import { createApp } from '../../src/app.js';
import { createTokenVerifier } from '../../src/auth/verify.js';
import { loadConfig } from '../../src/config.js';
import { checkEdgeFunction, type EdgeSetup } from '../../src/doctor/edge.js';
import { createHttp } from '../../src/doctor/http.js';
import { createLogger } from '../../src/log.js';

const SUPABASE_URL = 'https://abcd1234.supabase.co';
const NAME = 'atomic-crm-mcp';
const FUNCTION_URL = `${SUPABASE_URL}/functions/v1/${NAME}`;
const POOLER = 'postgresql://mcp_login.abcd1234:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres';

test("the function derives its public URL, prefix and a small pool from the platform's SUPABASE_URL", () => {
  const config = loadConfig(edgeEnvironment({ SUPABASE_URL: `${SUPABASE_URL}/`, DATABASE_URL: POOLER }, NAME));
  assert.equal(config.resourceUrl, `${FUNCTION_URL}/mcp`);
  assert.equal(config.metadataUrl, `${FUNCTION_URL}/.well-known/oauth-protected-resource/mcp`);
  assert.equal(config.basePath, `/${NAME}`);
  assert.equal(config.poolSize, Number(EDGE_POOL_SIZE));
  // The platform's SUPABASE_DB_URL is never a fallback for the secret.
  assert.throws(
    () =>
      loadConfig(
        edgeEnvironment(
          { SUPABASE_URL, SUPABASE_DB_URL: 'postgresql://postgres:pw@db.abcd1234.supabase.co:5432/postgres' },
          NAME,
        ),
      ),
    /DATABASE_URL is required/,
  );
});

/** Supabase's gateway in front of the function as runtimes/edge.ts configures it. */
function gateway({ verifyJwt = false, deployed = true } = {}): typeof fetch {
  const config = loadConfig(edgeEnvironment({ SUPABASE_URL, DATABASE_URL: POOLER }, NAME));
  const verifier = createTokenVerifier({
    issuer: config.auth.issuer,
    jwksUrl: config.auth.jwksUrl,
    fetch: (async () => new Response('', { status: 404 })) as typeof fetch,
  });
  const app = createApp({
    config,
    sql: postgres('postgresql://nobody@127.0.0.1:1/none', { max: 1 }),
    verifier,
    log: createLogger({ level: 'silent', format: 'json' }),
  });
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (!deployed || !url.pathname.startsWith(`/functions/v1/${NAME}/`))
      return Response.json({ message: 'Function not found' }, { status: 404 });
    if (verifyJwt && !request.headers.has('Authorization'))
      return Response.json({ code: 401, message: 'Missing authorization header' }, { status: 401 });
    return app.request(`http://localhost${url.pathname.replace('/functions/v1', '')}`, request);
  }) as typeof fetch;
}

const setup = (overrides: Partial<EdgeSetup> = {}): EdgeSetup => ({
  supabaseUrl: SUPABASE_URL,
  publicUrl: FUNCTION_URL,
  basePath: '',
  databaseUrl: POOLER,
  ...overrides,
});
const check = (overrides: Partial<EdgeSetup> = {}, gatewayOptions = {}) =>
  checkEdgeFunction(createHttp(gateway(gatewayOptions), 2_000), setup(overrides));

describe('the edge_function check', () => {
  test('passes for a deployed function with verify_jwt off and the transaction pooler', async () => {
    const result = await check();
    assert.equal(result.status, 'pass', JSON.stringify(result));
  });

  test("verify_jwt on: the gateway's own 401 hides the challenge", async () => {
    const result = await check({}, { verifyJwt: true });
    assert.equal(result.code, 'EDGE_VERIFY_JWT_ON');
    assert.match(result.fix!, /--no-verify-jwt/);
  });

  test('not deployed, a wrong prefix, the privileged postgres role, a session or direct connection', async () => {
    assert.equal((await check({}, { deployed: false })).code, 'EDGE_NOT_DEPLOYED');
    assert.equal((await check({ basePath: '/mcp' })).code, 'EDGE_PREFIX_MISMATCH');
    const privileged = await check({
      databaseUrl: 'postgresql://postgres.abcd1234:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres',
    });
    assert.equal(privileged.code, 'EDGE_PRIVILEGED_SECRET');
    assert.match(privileged.fix!, /supabase secrets set DATABASE_URL=/);
    for (const databaseUrl of [
      'postgresql://mcp_login.abcd1234:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres',
      'postgresql://mcp_login:pw@db.abcd1234.supabase.co:5432/postgres',
    ]) {
      const result = await check({ databaseUrl });
      assert.equal(result.status, 'warn', databaseUrl);
      assert.equal(result.code, 'EDGE_NOT_TRANSACTION_POOLER');
    }
  });

  test('skipped when the server is not an Edge Function of this project', async () => {
    assert.equal((await check({ publicUrl: 'https://mcp.example.com' })).status, 'skip');
  });
});
