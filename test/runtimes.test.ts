/**
 * The same end-to-end scenario against the server as users start it on each runtime:
 * `node runtimes/node.ts` (via tsx), `bun run runtimes/bun.ts` and `deno task start`, each a
 * separate process configured only through its environment, called by the SDK's client.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startAuthServer, type RunningAuthServer } from '../dev/auth-server.js';
import { DEMO_USERS } from '../dev/seed.js';
import { asMintUser, rows, text } from './support/stack.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { REPO_ROOT, SERVER_COMMANDS, type Runtime } from './support/runtimes.js';


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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function start(runtime: Runtime): Promise<Started> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const [command, args] = SERVER_COMMANDS[runtime];
  let output = '';
  const child = spawn(command, [...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SUPABASE_URL: auth.projectUrl,
      DATABASE_URL: db.loginUrl,
      MCP_SERVER_URL: baseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${runtime} exited early:\n${output}`);
    const ready = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
    if (ready) return { child, baseUrl, output: () => output, exited };
    await new Promise((r) => setTimeout(r, 150));
  }
  child.kill('SIGKILL');
  throw new Error(`${runtime} did not become ready within 30 s:\n${output}`);
}

for (const runtime of Object.keys(SERVER_COMMANDS) as Runtime[]) {
  describe(`runtime: ${runtime}`, () => {
    let server: Started;
    before(async () => {
      server = await start(runtime);
    });
    after(async () => {
      if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    });

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
      const client = new Client({ name: `runtime-${runtime}`, version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${server.baseUrl}/mcp`), {
          requestInit: { headers: { Authorization: `Bearer ${token}` } },
        }),
      );
      try {
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), ['get_schema', 'mutate', 'query']);

        const me = rows(await client.callTool({ name: 'query', arguments: { sql: 'select email, auth.uid() as uid from sales where user_id = auth.uid()' } }));
        assert.deepEqual(me, [{ email: user.email, uid: user.id }]);

        const owners = rows(await client.callTool({ name: 'query', arguments: { sql: 'select distinct s.user_id from private_notes p join sales s on s.id = p.sales_id' } }));
        assert.deepEqual(owners, [{ user_id: user.id }], 'RLS shows only the caller\'s private notes');

        const written = await client.callTool({
          name: 'mutate',
          arguments: { sql: `insert into tags (name, color) values ('from-${runtime}', '#123456') returning name` },
        });
        assert.deepEqual(rows(written), [{ name: `from-${runtime}` }]);

        const refused = await client.callTool({ name: 'query', arguments: { sql: "select set_config('request.jwt.claims', '{}', true)" } });
        assert.equal(refused.isError, true);
        assert.match(text(refused), /FUNCTION_NOT_ALLOWED/);
      } finally {
        await client.close();
      }
    });

    test('SIGTERM stops it cleanly with exit code 0', async () => {
      server.child.kill('SIGTERM');
      const code = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
      assert.equal(code, 0, server.output());
      assert.match(server.output(), /"event":"stopped"/);
    });
  });
}
