/**
 * `npm test` provides what it needs itself (test/support/prerequisites.ts): on Debian/Ubuntu as
 * root it installs Chromium, PgBouncer and OpenSSL with apt-get; elsewhere it stops before anything runs,
 * with one message naming the exact command. CHROMIUM_PATH points the check at a missing binary
 * here, so the missing case runs for real on a machine that has everything.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { currentHost, ensurePrerequisites, installAdvice, PREREQUISITES } from './support/prerequisites.js';
import { REPO_ROOT } from './support/runtimes.js';

const MISSING_CHROMIUM = '/nonexistent/chromium';

function runTestCommand(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', 'test/config.test.ts'], {
    cwd: REPO_ROOT,
    env: { ...env, TEST_DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

test('without root on Debian: one line with the exact sudo apt-get command, nothing installed', async () => {
  const previous = process.env.CHROMIUM_PATH;
  process.env.CHROMIUM_PATH = MISSING_CHROMIUM;
  try {
    const logged: string[] = [];
    const problem = await ensurePrerequisites({ isRoot: false, hasApt: true }, (line) => logged.push(line));
    assert.equal(
      problem,
      'npm test needs chromium (the consent page is tested in a real browser). Run: sudo apt-get install -y --no-install-recommends chromium',
    );
    assert.deepEqual(logged, [], 'no install was attempted');
  } finally {
    if (previous === undefined) delete process.env.CHROMIUM_PATH;
    else process.env.CHROMIUM_PATH = previous;
  }
});

test('without apt-get: what to install and which variable to set, for each program', () => {
  const advice = installAdvice(PREREQUISITES, { isRoot: true, hasApt: false });
  assert.match(advice, /CHROMIUM_PATH/);
  assert.match(advice, /`pgbouncer` is on PATH/);
  assert.match(advice, /install OpenSSL/);
  assert.doesNotMatch(advice, /apt-get/);
});

test('npm test with a prerequisite missing: installs it (root + apt) or names the command, and runs nothing', async () => {
  const { code, output } = await runTestCommand({ ...process.env, CHROMIUM_PATH: MISSING_CHROMIUM });
  assert.equal(code, 1, output);
  const host = currentHost();
  if (host.isRoot && host.hasApt) {
    // The real apt-get step (idempotent: the package is installed, CHROMIUM_PATH just hides it).
    assert.match(output, /installing chromium with apt-get: the consent page is tested in a real browser/);
    assert.match(output, /apt-get installed chromium, but npm test still cannot find them: .*CHROMIUM_PATH/);
  } else {
    assert.match(output, /Run: (sudo )?apt-get install -y --no-install-recommends chromium|CHROMIUM_PATH/);
  }
  assert.doesNotMatch(output, /PostgreSQL started|# tests/, 'nothing started before the check');
});
