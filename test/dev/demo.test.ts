/**
 * `npm run demo` as a newcomer runs it: it starts everything on its own, prints working
 * instructions, a real MCP client signs in through the printed sign-in flow with a printed demo
 * user, and Ctrl-C stops it all (no PostgreSQL left running). A restart keeps the data and every
 * sign-in. Any stop signal, to npm or to any process of the demo, stops all of it; a demo killed
 * outright leaves a data folder the next start recovers; as root, a folder PostgreSQL's OS user
 * cannot enter is refused with one line naming the flag.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../dev/ports.js';
import { DEMO_PASSWORD, DEMO_USERS } from '../../dev/seed.js';
import { connectWithOAuth, HeadlessOAuthProvider } from '../support/oauth-client.js';
import { REPO_ROOT } from '../support/runtimes.js';
import { rows } from '../support/stack.js';

const STOP_TIMEOUT_MS = 20_000;
const USER = DEMO_USERS.find((u) => !u.administrator && !u.disabled)!;

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

/** `via: 'npm'` runs `npm run demo` exactly as the README says; `'node'` the script itself. */
function spawnDemo(dir: string, via: 'npm' | 'node', ports: string[] = ['--free-ports']) {
  const args = [...ports, `--data-dir=${dir}`];
  let output = '';
  const child =
    via === 'npm'
      ? spawn('npm', ['run', 'demo', '--', ...args], {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(process.execPath, ['--import', 'tsx', 'dev/demo.ts', ...args], {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function startDemo(via: 'npm' | 'node' = 'node', dir = dataDir, ports?: string[]): Promise<Demo> {
  const demo = spawnDemo(dir, via, ports);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const match = /MCP endpoint\s+(http:\/\/\S+\/mcp)/.exec(demo.output());
    if (match) return { ...demo, mcpUrl: match[1]! };
    if (demo.child.exitCode !== null) throw new Error(`the demo exited early:\n${demo.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  demo.child.kill('SIGKILL');
  throw new Error(`the demo printed no MCP endpoint within 60 s:\n${demo.output()}`);
}

async function stop(demo: Demo, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  demo.child.kill(signal);
  const code = await Promise.race([
    demo.exited,
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), STOP_TIMEOUT_MS)),
  ]);
  if (code === 'hung') demo.child.kill('SIGKILL');
  return code === 'hung' ? -1 : code;
}

/** Processes (PostgreSQL, the demo's node) whose command line names this demo's data folder. */
async function processesOf(dir: string): Promise<string> {
  const ps = spawn('ps', ['-eo', 'pid,args'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  ps.stdout.on('data', (chunk) => (text += chunk));
  await new Promise((resolve) => ps.once('exit', resolve));
  return text
    .split('\n')
    .filter((line) => line.includes(dir) && !/\bps -eo\b/.test(line))
    .join('\n');
}

/** Waits (bounded) until nothing of the demo runs any more; returns what is left. */
async function leftRunning(dir: string): Promise<string> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  let left = await processesOf(dir);
  while (left !== '' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = await processesOf(dir);
  }
  return left;
}

async function postmasterPid(dir: string): Promise<number> {
  return Number.parseInt((await readFile(path.join(dir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n')[0]!, 10);
}

const provider = new HeadlessOAuthProvider({ user: { email: USER.email, password: DEMO_PASSWORD } });
/** A restart keeps its URLs, as the demo's default ports do: the sign-in belongs to them. */
let fixedPorts: string[];

test('npm run demo: instructions, a real OAuth sign-in with a printed user, a query, a clean stop', async () => {
  fixedPorts = [`--port=${await freePort()}`, `--auth-port=${await freePort()}`];
  const demo = await startDemo('node', dataDir, fixedPorts);
  try {
    const text = demo.output();
    assert.match(
      text,
      new RegExp(`claude mcp add --transport http atomic-crm ${demo.mcpUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    assert.match(text, /"type": "http"/, 'the VS Code snippet');
    assert.ok(text.includes(USER.email) && text.includes(DEMO_PASSWORD), 'the demo users and password are printed');

    const client = await connectWithOAuth(demo.mcpUrl, provider, 'demo-test');
    try {
      const me = rows(
        await client.callTool({
          name: 'query',
          arguments: { sql: 'select email from sales where user_id = auth.uid()' },
        }),
      );
      assert.deepEqual(me, [{ email: USER.email }]);
      const counts = rows(
        await client.callTool({
          name: 'query',
          arguments: {
            sql: 'select (select count(*) from companies)::int as companies, (select count(*) from contacts)::int as contacts',
          },
        }),
      );
      assert.deepEqual(counts, [{ companies: 55, contacts: 500 }]);
    } finally {
      await client.close();
    }
  } finally {
    assert.equal(await stop(demo), 0, demo.output());
  }
  assert.equal(await leftRunning(dataDir), '', 'no PostgreSQL left running');
});

test('a restart keeps the data and the sign-in: the old token works, then a refresh, with no new consent', async () => {
  const again = await startDemo('node', dataDir, fixedPorts);
  try {
    assert.doesNotMatch(again.output(), /Loading|seed/i);
    provider.interactive = false; // a new sign-in would fail the test instead of happening silently
    const consents = provider.consents.length;
    const client = await connectWithOAuth(again.mcpUrl, provider, 'demo-test');
    try {
      const me = () =>
        client.callTool({ name: 'query', arguments: { sql: 'select email from sales where user_id = auth.uid()' } });
      assert.deepEqual(rows(await me()), [{ email: USER.email }], 'the access token from before the restart');
      const saved = provider.savedTokens.length;
      provider.saveTokens({ ...provider.tokens()!, access_token: 'no-longer-valid' });
      assert.deepEqual(
        rows(await me()),
        [{ email: USER.email }],
        'after refreshing with the refresh token from before the restart',
      );
      assert.ok(provider.savedTokens.length > saved + 1, 'the client refreshed');
    } finally {
      await client.close();
    }
    assert.equal(provider.consents.length, consents, 'no new consent');
    assert.deepEqual(provider.invalidations, [], 'the client kept its registration and tokens');
  } finally {
    assert.equal(await stop(again), 0, again.output());
  }
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to the npm process stops the demo's node and PostgreSQL`, async () => {
    const demo = await startDemo('npm');
    const code = await stop(demo, signal);
    assert.notEqual(code, -1, `npm did not exit within ${STOP_TIMEOUT_MS} ms:\n${demo.output()}`);
    assert.equal(await leftRunning(dataDir), '', `still running after ${signal} to npm:\n${demo.output()}`);
  });
}

test('SIGTERM to PostgreSQL stops the whole demo, which says why', async () => {
  const demo = await startDemo();
  process.kill(await postmasterPid(dataDir), 'SIGTERM');
  const code = await Promise.race([
    demo.exited,
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), STOP_TIMEOUT_MS)),
  ]);
  if (code === 'hung') demo.child.kill('SIGKILL');
  assert.equal(code, 1, demo.output());
  assert.match(demo.output(), /PostgreSQL received a smart shutdown request/);
  assert.equal(await leftRunning(dataDir), '', 'nothing left running');
});

test('a demo killed outright (SIGKILL) leaves PostgreSQL behind; the next start recovers the data folder', async () => {
  const demo = await startDemo();
  const orphan = await postmasterPid(dataDir);
  demo.child.kill('SIGKILL');
  await demo.exited;
  assert.match(
    await processesOf(dataDir),
    new RegExp(`^\\s*${orphan}\\b`, 'm'),
    'the orphaned PostgreSQL is still running',
  );
  const again = await startDemo();
  try {
    assert.notEqual(await postmasterPid(dataDir), orphan, 'a new PostgreSQL serves the folder');
  } finally {
    assert.equal(await stop(again), 0, again.output());
  }
  assert.equal(await leftRunning(dataDir), '');
});

test('a data folder PostgreSQL cannot reach: one line naming --data-dir (as root), or it just works', async () => {
  const locked = await mkdtemp(path.join(tmpdir(), 'atomic-crm-locked-')); // mode 0700, like a root home
  try {
    const inside = path.join(locked, 'demo');
    await mkdir(inside);
    if (process.getuid?.() === 0) {
      const demo = spawnDemo(inside, 'node');
      const code = await Promise.race([demo.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
      if (code === 'hung') demo.child.kill('SIGKILL');
      assert.equal(code, 1, demo.output());
      const lines = demo.output().trim().split('\n');
      assert.match(
        lines.at(-1)!,
        new RegExp(`cannot enter ${locked.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 700\\).*Pass --data-dir=DIR`),
      );
      assert.deepEqual(
        lines.slice(0, -1).filter(Boolean),
        ['Starting PostgreSQL…'],
        `one line, no stack trace:\n${demo.output()}`,
      );
    } else {
      // PostgreSQL runs as this very user, who can enter their own 0700 folder.
      const demo = await startDemo('node', inside);
      assert.equal(await stop(demo), 0, demo.output());
    }
  } finally {
    await rm(locked, { recursive: true, force: true });
  }
});
