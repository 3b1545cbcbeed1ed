/**
 * The same end-to-end scenario against the server as users start it on each runtime:
 * `node runtimes/node.ts` (via tsx), `bun run runtimes/bun.ts` and `deno task start`, each a
 * separate process configured only through its environment, called by the SDK's client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, type RunningAuthServer } from '../dev/auth/server.js';
import { DEMO_USERS } from '../dev/seed.js';
import { asMintUser, connectWithToken, rows, runningStatements, text, until } from './support/stack.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { RUNTIMES, startServerProcess, type ServerProcess } from './support/runtimes.js';
import { TOOL_NAMES } from './support/tool-names.js';

let db: TestDatabase;
let auth: RunningAuthServer;

before(async () => {
  db = await createTestDatabase('runtimes');
  auth = await startAuthServer({ sql: db.admin });
});
after(async () => {
  await auth?.stop();
  await db?.drop();
});

for (const runtime of RUNTIMES) {
  describe(`runtime: ${runtime}`, () => {
    let server: ServerProcess;
    before(async () => {
      server = await startServerProcess(runtime, {
        SUPABASE_URL: auth.projectUrl,
        DATABASE_URL: db.loginUrl,
        LOG_FORMAT: 'json',
      });
    });
    after(() => server?.kill());

    test('serves metadata and challenges like every other runtime', async () => {
      const prm = await (await fetch(`${server.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json();
      assert.equal(prm.resource, `${server.baseUrl}/mcp`);
      const unauthenticated = await fetch(`${server.baseUrl}/mcp`, { method: 'POST', body: '{}' });
      assert.equal(unauthenticated.status, 401);
      assert.match(unauthenticated.headers.get('WWW-Authenticate')!, /resource_metadata=/);
    });

    test('a signed-in user lists tools, reads as themselves under RLS, and writes', async () => {
      const user = DEMO_USERS[1]!;
      const token = await auth.mintAccessToken(asMintUser(user));
      const client = await connectWithToken(`${server.baseUrl}/mcp`, token, `runtime-${runtime}`);
      try {
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);

        // search and fetch, as ChatGPT calls them: JSON in one text item, names without their accents.
        const found = await client.callTool({ name: 'search', arguments: { query: 'zoe muller' } });
        const [first] = JSON.parse(text(found)).results as { id: string; title: string }[];
        assert.match(first!.title, /^Zoe Müller/);
        const fetched = JSON.parse(text(await client.callTool({ name: 'fetch', arguments: { id: first!.id } })));
        assert.equal(fetched.id, first!.id);
        assert.match(fetched.text, /Zoe Müller/);

        const me = rows(
          await client.callTool({
            name: 'query',
            arguments: { sql: 'select email, auth.uid() as uid from sales where user_id = auth.uid()' },
          }),
        );
        assert.deepEqual(me, [{ email: user.email, uid: user.id }]);

        const owners = rows(
          await client.callTool({
            name: 'query',
            arguments: { sql: 'select distinct s.user_id from private_notes p join sales s on s.id = p.sales_id' },
          }),
        );
        assert.deepEqual(owners, [{ user_id: user.id }], "RLS shows only the caller's private notes");

        const written = await client.callTool({
          name: 'mutate',
          arguments: { sql: `insert into tags (name, color) values ('from-${runtime}', '#123456') returning name` },
        });
        assert.deepEqual(rows(written), [{ name: `from-${runtime}` }]);

        const refused = await client.callTool({
          name: 'query',
          arguments: { sql: "select set_config('request.jwt.claims', '{}', true)" },
        });
        assert.equal(refused.isError, true);
        assert.match(text(refused), /FUNCTION_NOT_ALLOWED/);
      } finally {
        await client.close();
      }
    });

    test('reads a resource, gets a prompt and completes a table name as the user', async () => {
      const token = await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!));
      const client = await connectWithToken(`${server.baseUrl}/mcp`, token, `runtime-${runtime}`);
      try {
        const { contents } = await client.readResource({ uri: 'crm://configuration' });
        assert.ok(JSON.parse(String((contents[0] as { text?: string }).text)).dealStages.includes('won'));
        const prompt = await client.getPrompt({ name: 'stalled_deals', arguments: { days: '45' } });
        assert.match(JSON.stringify(prompt.messages), /interval '45 days'/);
        await assert.rejects(
          client.getPrompt({ name: 'stalled_deals', arguments: { days: 'soon' } }),
          /days is a whole number/,
        );
        const { completion } = await client.complete({
          ref: { type: 'ref/resource', uri: 'crm://schema/{table}' },
          argument: { name: 'table', value: 'private' },
        });
        assert.deepEqual(completion.values, ['private_notes']);
      } finally {
        await client.close();
      }
    });

    // Each runtime tells the server through request.signal (Deno: only when the client goes away,
    // with deno.json's no-legacy-abort, not after every answer).
    test('a client that goes away cancels its statement in PostgreSQL', async () => {
      const slow = `select count(*) from generate_series(1, 30000) a, generate_series(1, 30001) b`;
      const running = () => runningStatements(db.admin, 'generate_series(1, 30001)');
      const token = await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!));
      const controller = new AbortController();
      const call = fetch(`${server.baseUrl}/mcp`, {
        method: 'POST',
        signal: controller.signal,
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2025-11-25',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'query', arguments: { sql: slow } },
        }),
      }).catch(() => 'aborted');
      await until('the statement to run', async () => (await running()) === 1);
      controller.abort();
      assert.equal(await call, 'aborted');
      await until('the statement to be cancelled', async () => (await running()) === 0);
    });

    // Supabase takes TLS, and its DATABASE_URL says so: each runtime's own TLS sockets carry the
    // patched postgres.js's single write per transaction (test/db/tls.test.ts counts its round trips).
    test('reads and writes over TLS to the database (sslmode=require)', async () => {
      const url = new URL(db.loginUrl);
      url.searchParams.set('sslmode', 'require');
      const encrypted = await startServerProcess(runtime, {
        SUPABASE_URL: auth.projectUrl,
        DATABASE_URL: url.toString(),
        LOG_FORMAT: 'json',
      });
      const token = await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!));
      const client = await connectWithToken(`${encrypted.baseUrl}/mcp`, token, `runtime-${runtime}-tls`);
      try {
        const written = await client.callTool({
          name: 'mutate',
          arguments: { sql: `insert into tags (name, color) values ('tls-${runtime}', '#654321') returning name` },
        });
        assert.deepEqual(rows(written), [{ name: `tls-${runtime}` }], text(written));
        const read = await client.callTool({
          name: 'query',
          arguments: { sql: `select name from tags where name = 'tls-${runtime}'` },
        });
        assert.deepEqual(rows(read), [{ name: `tls-${runtime}` }], text(read));
        // Only this server connects to this file's database with TLS: its backends are the encrypted ones.
        const [{ n }] = (await db.admin`select count(*)::int as n from pg_stat_activity a
          join pg_stat_ssl s on s.pid = a.pid where a.application_name = 'atomic-crm-mcp'
          and a.datname = pg_catalog.current_database() and s.ssl`) as unknown as [{ n: number }];
        assert.ok(n >= 1, `the server's database connections are encrypted (${n})`);
      } finally {
        await client.close();
        encrypted.kill();
      }
    });

    test('SIGTERM stops it cleanly with exit code 0', async () => {
      server.child.kill('SIGTERM');
      const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
      assert.deepEqual(exit, { code: 0, signal: null }, server.output());
      assert.match(server.output(), /"event":"stopped"/);
    });
  });
}
