/**
 * The scripted agent suite (./tasks.ts) through the real HTTP endpoint with real tokens, as a
 * non-admin and as an admin user, each on a fresh copy of the demo data: every task must reach its
 * answer and leave the database as the web app would. Prints the table of passes, calls and
 * characters.
 *
 * With AGENT_SUITE_BEFORE_DIR (a checkout of an older commit, `npm install`ed), the same tasks also
 * run against that checkout's server on the same kind of database, for the before column: recorded,
 * not asserted. AGENT_SUITE_OUT writes the table as Markdown. `npm run agent-suite` sets both.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { before, test } from 'node:test';
import { connectWithToken, startStack } from '../support/stack.js';
import { playSuite, type TaskOutcome } from './agent.js';
import { startCheckoutServer } from './checkout-server.js';
import { failures, suiteTable, type SuiteColumn } from './table.js';
import { TASKS, type Role } from './tasks.js';

const BEFORE_DIR = process.env.AGENT_SUITE_BEFORE_DIR;
const BEFORE_LABEL = process.env.AGENT_SUITE_BEFORE_LABEL ?? 'before';
const AFTER_LABEL = process.env.AGENT_SUITE_AFTER_LABEL ?? 'this server';
const OUT = process.env.AGENT_SUITE_OUT;
const ROLES: readonly Role[] = ['member', 'admin'];

/** One role's run on a fresh database: against this server, or the older checkout's in `dir`. */
async function runSuite(role: Role, dir?: string): Promise<TaskOutcome[]> {
  const stack = await startStack();
  const old = dir
    ? await startCheckoutServer(dir, { SUPABASE_URL: stack.auth.projectUrl, DATABASE_URL: stack.db.loginUrl })
    : undefined;
  try {
    const token = await stack.token(role === 'admin' ? stack.users.admin : stack.users.alice);
    const url = old?.url ?? stack.url;
    const [client, checker] = await Promise.all([connectWithToken(url, token), connectWithToken(url, token)]);
    try {
      return await playSuite(TASKS, { client, checker, role });
    } finally {
      await Promise.allSettled([client.close(), checker.close()]);
    }
  } finally {
    await old?.stop();
    await stack.stop();
  }
}

const current = new Map<Role, TaskOutcome[]>();

before(async () => {
  const columns: SuiteColumn[] = [];
  if (BEFORE_DIR) {
    for (const role of ROLES)
      columns.push({ title: `${BEFORE_LABEL}: ${role}`, outcomes: await runSuite(role, BEFORE_DIR) });
  }
  for (const role of ROLES) {
    current.set(role, await runSuite(role));
    columns.push({ title: `${AFTER_LABEL}: ${role}`, outcomes: current.get(role)! });
  }
  const table = suiteTable(TASKS, columns);
  const why = failures(columns);
  process.stdout.write(`\n${table}\n\n${why.map((line) => `- ${line}`).join('\n')}\n`);
  if (OUT)
    await writeFile(OUT, `${table}\n${why.length ? `\nFailures:\n\n${why.map((l) => `- ${l}`).join('\n')}\n` : ''}`);
});

test('the suite has at least 25 tasks, read and write, run by both roles', () => {
  assert.ok(TASKS.length >= 25, `${TASKS.length} tasks`);
  for (const role of ROLES) assert.ok(current.get(role)!.length >= 25, `${role}: ${current.get(role)!.length} tasks`);
  assert.ok(TASKS.some((t) => t.steps.some((s) => s.tool !== 'query')));
});

for (const task of TASKS) {
  for (const role of task.roles ?? ROLES) {
    test(`${role}: ${task.id} (${task.request})`, () => {
      const outcome = current.get(role)!.find((o) => o.id === task.id)!;
      assert.deepEqual(outcome.problems, []);
      assert.ok(outcome.passed);
    });
  }
}
