/**
 * Issue 15: the server as a Supabase Edge Function. The function folder is built and run under
 * Deno the way the platform runs it (imports from its own deno.json, never node_modules), behind
 * a gateway that maps /functions/v1/atomic-crm-mcp/… onto it (test/support/edge.ts). The SDK's
 * OAuth client finds everything from the challenge, signs in through the Auth stand-in, reads and
 * writes as the user; forged identities are refused (the red team's identity-forgery and
 * role-escalation classes); a tool call costs one database round trip.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { attacks } from '../security/statements.js';
import { connectWithOAuth, HeadlessOAuthProvider } from '../support/oauth-client.js';
import { startEdgeStack, type EdgeStack } from '../support/edge.js';
import { connectWithToken, rows, text, toolError } from '../support/stack.js';
import { TOOL_NAMES } from '../support/tool-names.js';

const WHO_AM_I = "select auth.uid() as uid, current_user as role, current_setting('statement_timeout') as timeout";

/** Records every request the client makes (method, URL, status), to check the discovery order. */
function recordingFetch(log: string[]) {
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await original(input, init);
    log.push(`${request.method} ${request.url} → ${response.status}`);
    return response;
  };
  return () => (globalThis.fetch = original);
}

/** CPU time (user + system) the process has used, in ms, from /proc (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

describe('the Edge Function under Deno, behind a Supabase-like gateway', () => {
  let edge: EdgeStack;
  let alice: Client;
  before(
    async () => {
      edge = await startEdgeStack({ dbDelayMs: 3 });
      assert.equal(edge.firstStatus, 200, edge.output());
      process.stderr.write(
        `[edge] cold start (Deno spawned → first answer): ${edge.coldStartMs} ms; ${edge.startedLine()}\n`,
      );
    },
    { timeout: 240_000 },
  );
  after(async () => {
    await alice?.close();
    await edge?.stop();
  });

  test('the SDK OAuth client discovers from the challenge, signs in, lists tools, reads and writes as the user', async () => {
    const user = edge.users.alice;
    const provider = new HeadlessOAuthProvider({ user, clientName: 'Edge OAuth test' });
    const requests: string[] = [];
    const restore = recordingFetch(requests);
    try {
      alice = await connectWithOAuth(edge.url, provider);
    } finally {
      restore();
    }
    assert.equal(requests[0], `POST ${edge.url} → 401`);
    // Metadata from the challenge: inside the function's path, since the gateway owns the host root.
    assert.ok(
      requests.includes(`GET ${edge.functionUrl}/.well-known/oauth-protected-resource/mcp → 200`),
      requests.join('\n'),
    );
    assert.ok(
      requests.includes(`GET ${edge.projectUrl}/.well-known/oauth-authorization-server/auth/v1 → 200`),
      requests.join('\n'),
    );
    assert.ok(requests.includes(`POST ${edge.projectUrl}/auth/v1/oauth/token → 200`), requests.join('\n'));
    assert.equal(provider.authorizationUrls[0]?.searchParams.get('resource'), edge.url);

    const { tools } = await alice.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
    assert.deepEqual(
      rows(
        await alice.callTool({
          name: 'query',
          arguments: { sql: 'select email from sales where user_id = auth.uid()' },
        }),
      ),
      [{ email: user.email }],
    );

    const written = rows(
      await alice.callTool({
        name: 'mutate',
        arguments: {
          sql: "insert into contact_notes (contact_id, text, status) values (1, 'Edge function note', 'warm') returning id",
        },
      }),
    );
    const [note] = await edge.db.admin`
      select s.user_id from contact_notes n join sales s on s.id = n.sales_id where n.id = ${Number(written[0]!.id)}`;
    assert.equal(note?.user_id, user.id, 'the note was written as the signed-in user');

    const refused = toolError(await alice.callTool({ name: 'query', arguments: { sql: 'delete from contact_notes' } }));
    assert.equal(refused.code, 'WRONG_TOOL', JSON.stringify(refused));
  });

  test("refusals: no token, a forged signature, a token in the URL; the host-root metadata is the gateway's 404", async () => {
    const post = (headers: Record<string, string>, url = edge.url) =>
      fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    const anonymous = await post({});
    assert.equal(anonymous.status, 401);
    assert.equal(
      anonymous.headers.get('WWW-Authenticate'),
      `Bearer resource_metadata="${edge.functionUrl}/.well-known/oauth-protected-resource/mcp"`,
    );

    const forged = await edge.auth.signWith(
      { alg: 'none', typ: 'JWT' },
      {
        iss: `${edge.projectUrl}/auth/v1`,
        aud: 'authenticated',
        sub: edge.users.admin.id,
        role: 'authenticated',
        exp: Math.floor(Date.now() / 1000) + 600,
      },
    );
    const rejected = await post({ Authorization: `Bearer ${forged}` });
    assert.equal(rejected.status, 401);
    assert.match(rejected.headers.get('WWW-Authenticate') ?? '', /error="invalid_token"/);
    // The web app's own session token (no client_id) is not an OAuth token: refused by default.
    const session = await post({ Authorization: `Bearer ${await edge.token(edge.users.alice, { clientId: null })}` });
    assert.equal(session.status, 401);

    const inUrl = await post({}, `${edge.url}?access_token=${await edge.token(edge.users.alice)}`);
    assert.equal(inUrl.status, 400);

    // RFC 9728's path-inserted URL at the host root never reaches the function: clients must use
    // the challenge's resource_metadata (the README says so).
    const root = await fetch(`${edge.projectUrl}/.well-known/oauth-protected-resource/functions/v1/atomic-crm-mcp/mcp`);
    assert.equal(root.status, 404);
  });

  test('identity forgery and role escalation are refused, and the next call is still the same user', async () => {
    const subset = attacks.filter((a) => a.class === 2 || a.class === 3);
    assert.ok(subset.length >= 20, `${subset.length} attacks`);
    const client = await connectWithToken(edge.url, await edge.token(edge.users.bob));
    try {
      const failures: string[] = [];
      for (const attack of subset) {
        const result = await client.callTool({ name: attack.tool, arguments: { sql: attack.sql } });
        if (!result.isError) failures.push(`${attack.name}: was not refused: ${text(result).slice(0, 200)}`);
        const [me] = rows(await client.callTool({ name: 'query', arguments: { sql: WHO_AM_I } }));
        if (me?.uid !== edge.users.bob.id || me?.role !== 'authenticated' || me?.timeout !== '8s') {
          failures.push(`${attack.name}: the next call ran as ${JSON.stringify(me)}`);
        }
      }
      assert.deepEqual(failures, []);
    } finally {
      await client.close();
    }
  });

  test('a tool call costs one database round trip, over the least-privilege role, never SUPABASE_DB_URL', async () => {
    const client = await connectWithToken(edge.url, await edge.token(edge.users.bob));
    try {
      await client.callTool({ name: 'query', arguments: { sql: 'select 1' } }); // a warm connection
      const calls = 20;
      edge.dbProxy.reset();
      const cpuBefore = cpuMs(edge.pid);
      for (let i = 0; i < calls; i++) {
        const sql =
          i % 2 ? 'select id, name from companies order by id limit 5' : 'update tasks set text = text where id = -1';
        const result = await client.callTool({ name: i % 2 ? 'query' : 'mutate', arguments: { sql } });
        assert.ok(!result.isError, text(result));
      }
      const cpuPerCall = (cpuMs(edge.pid) - cpuBefore) / calls;
      const { roundTrips, connections } = edge.dbProxy.stats();
      process.stderr.write(
        `[edge] ${roundTrips} database round trips for ${calls} calls; Deno CPU ≈ ${cpuPerCall.toFixed(1)} ms per call (MCP + HTTP + SQL)\n`,
      );
      assert.ok(roundTrips / calls <= 1.1, `${roundTrips} round trips for ${calls} calls`);
      assert.equal(connections, 0, 'no new connection per call');
    } finally {
      await client.close();
    }
    const logins = await edge.db.admin`
      select distinct usename from pg_stat_activity where datname = current_database() and application_name = 'atomic-crm-mcp'`;
    assert.deepEqual(
      logins.map((r) => r.usename),
      [decodeURIComponent(new URL(edge.db.loginUrl).username)],
    );
  });
});

describe("the Edge Function given the platform's privileged connection as DATABASE_URL", () => {
  let edge: EdgeStack;
  before(
    async () => {
      edge = await startEdgeStack({ secret: 'platform-db-url' });
    },
    { timeout: 240_000 },
  );
  after(async () => {
    await edge?.stop();
  });

  test("refuses to start: 503 to clients, the reason (never the password) in the function's log", async () => {
    assert.equal(edge.firstStatus, 503);
    const response = await fetch(edge.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(response.status, 503);
    assert.match((await response.json()).error_description, /Edge Function logs/);
    assert.match(edge.output(), /The login role is too powerful to run agent SQL safely/);
    assert.ok(!edge.output().includes(`:${new URL(edge.db.adminUrl).password}@`), 'no password in the log');
  });
});
