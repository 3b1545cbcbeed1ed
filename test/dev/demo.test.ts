/**
 * `npm run demo` as a newcomer runs it: it starts everything on its own, prints working
 * instructions, a real MCP client signs in through the printed sign-in flow with a printed demo
 * user, and Ctrl-C stops it all (no PostgreSQL left running). A second start reuses the data.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DEMO_PASSWORD, DEMO_USERS } from '../../dev/seed.js';
import { connectWithOAuth, HeadlessOAuthProvider } from '../support/oauth-client.js';
import { REPO_ROOT } from '../support/runtimes.js';
import { rows } from '../support/stack.js';

let dataDir: string;
before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'atomic-crm-demo-'));
  // As root, PostgreSQL runs as the `postgres` OS user, which must reach the folder (mkdtemp: 0700).
  await chmod(dataDir, 0o755);
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface Demo {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  mcpUrl: string;
}

async function startDemo(): Promise<Demo> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/demo.ts', '--free-ports', `--data-dir=${dataDir}`], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const match = /MCP endpoint\s+(http:\/\/\S+\/mcp)/.exec(output);
    if (match) return { child, output: () => output, exited, mcpUrl: match[1]! };
    if (child.exitCode !== null) throw new Error(`the demo exited early:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`the demo printed no MCP endpoint within 60 s:\n${output}`);
}

async function stop(demo: Demo): Promise<number | null> {
  demo.child.kill('SIGINT');
  const code = await Promise.race([demo.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
  if (code === 'hung') demo.child.kill('SIGKILL');
  return code === 'hung' ? -1 : code;
}

/** PostgreSQL processes serving this demo's data folder. */
async function postgresOf(dir: string): Promise<string> {
  const ps = spawn('ps', ['-eo', 'pid,args'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  ps.stdout.on('data', (chunk) => (text += chunk));
  await new Promise((resolve) => ps.once('exit', resolve));
  return text.split('\n').filter((line) => line.includes(dir) && /postgres/.test(line)).join('\n');
}

test('npm run demo: instructions, a real OAuth sign-in with a printed user, a query, a clean stop', async () => {
  const demo = await startDemo();
  try {
    const text = demo.output();
    assert.match(text, new RegExp(`claude mcp add --transport http atomic-crm ${demo.mcpUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(text, /"type": "http"/, 'the VS Code snippet');
    const user = DEMO_USERS.find((u) => !u.administrator && !u.disabled)!;
    assert.ok(text.includes(user.email) && text.includes(DEMO_PASSWORD), 'the demo users and password are printed');

    const provider = new HeadlessOAuthProvider({ user: { email: user.email, password: DEMO_PASSWORD } });
    const client = await connectWithOAuth(demo.mcpUrl, provider, 'demo-test');
    try {
      const me = rows(await client.callTool({ name: 'query', arguments: { sql: 'select email from sales where user_id = auth.uid()' } }));
      assert.deepEqual(me, [{ email: user.email }]);
      const counts = rows(await client.callTool({ name: 'query', arguments: { sql: 'select (select count(*) from companies)::int as companies, (select count(*) from contacts)::int as contacts' } }));
      assert.deepEqual(counts, [{ companies: 55, contacts: 500 }]);
    } finally {
      await client.close();
    }
  } finally {
    assert.equal(await stop(demo), 0, demo.output());
  }
  assert.equal(await postgresOf(dataDir), '', 'no PostgreSQL left running');

  // A second start finds the data loaded and the login role's password kept.
  const again = await startDemo();
  try {
    assert.doesNotMatch(again.output(), /Loading|seed/i);
  } finally {
    assert.equal(await stop(again), 0, again.output());
  }
});
