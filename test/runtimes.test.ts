/**
 * The same end-to-end scenario against the server as users start it on each runtime:
 * `node runtimes/node.ts` (via tsx), `bun run runtimes/bun.ts` and `deno task start`, each a
 * separate process configured only through its environment, called by the SDK's client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAuthServer, type RunningAuthServer } from '../dev/auth/server.js';
import { DEMO_USERS } from '../dev/seed.js';
import { asMintUser, connectWithToken, rows, text } from './support/stack.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { RUNTIMES, startServerProcess, type ServerProcess } from './support/runtimes.js';

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
        assert.deepEqual(tools.map((t) => t.name).sort(), [
          'archive_deal',
          'complete_task',
          'create_contact',
          'create_task',
          'get_schema',
          'log_contact_note',
          'log_deal_note',
          'move_deal',
          'mutate',
          'postpone_task',
          'query',
          'show_pipeline',
          'show_record',
          'show_tasks',
        ]);

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

    test('SIGTERM stops it cleanly with exit code 0', async () => {
      server.child.kill('SIGTERM');
      const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
      assert.deepEqual(exit, { code: 0, signal: null }, server.output());
      assert.match(server.output(), /"event":"stopped"/);
    });
  });
}
