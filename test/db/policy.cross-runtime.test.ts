/**
 * The policy must decide identically wherever the server runs: this runs test/db/policy-smoke.ts on
 * Node (tsx), Bun and Deno (all from node_modules, no network but the test database) and compares
 * every verdict over the shared attack and legitimate statements and a call of each function of
 * the fixture database, whose bodies each runtime reads and analyses itself. Timings are printed as
 * test diagnostics.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { BUN, DENO } from '../support/runtimes.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const smoke = 'test/db/policy-smoke.ts';

interface SmokeOutput {
  runtime: string;
  verdicts: { name: string; verdict: unknown }[];
  timing: { loadMs: number; analysisMs: number; typicalUs: number; corpusMeanUs: number };
}

const runtimes: Record<string, [command: string, ...args: string[]]> = {
  node: [process.execPath, '--import', 'tsx', smoke],
  bun: [BUN, smoke],
  // deno.json's sloppy-imports maps the project's `./x.js` imports to the `.ts` sources; reading
  // the WASM parser from node_modules is the only permission the policy needs, the network and the
  // environment are for reading the test database's functions.
  deno: [DENO, 'run', '--allow-read', '--allow-net=127.0.0.1', '--allow-env', smoke],
};

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase('policy_cross_runtime');
});
after(() => db?.drop());

async function smokeOn(name: string): Promise<SmokeOutput> {
  const [command, ...args] = runtimes[name] ?? [];
  assert.ok(command);
  const { stdout } = await run(command, args, {
    cwd: root,
    timeout: 90_000,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', POLICY_SMOKE_DATABASE_URL: db.adminUrl },
  });
  const output = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as SmokeOutput;
  assert.equal(output.runtime, name);
  return output;
}

test('Node, Bun and Deno return identical verdicts', { timeout: 300_000 }, async (t) => {
  // One after the other, so that the timings are not measured on contended cores.
  const outputs: SmokeOutput[] = [];
  for (const name of Object.keys(runtimes)) outputs.push(await smokeOn(name));
  const [reference, ...others] = outputs;
  assert.ok(reference && reference.verdicts.length >= 160, 'the smoke run covers the shared lists');
  const avatar = reference.verdicts.find((v) => v.name === 'query public.get_avatar_for_email()');
  assert.match(
    JSON.stringify(avatar?.verdict),
    /get_avatar_for_email → extensions\.http_get/,
    'the functions were analysed',
  );
  for (const other of others) {
    assert.deepEqual(other.verdicts, reference.verdicts, `${other.runtime} differs from ${reference.runtime}`);
  }
  // The times are reported, not asserted: on a shared machine they measure the neighbours. npm run
  // bench compares speeds side by side.
  for (const { runtime, timing } of outputs) {
    t.diagnostic(
      `${runtime}: load ${timing.loadMs} ms, function analysis ${timing.analysisMs} ms, typical query ${timing.typicalUs} µs, mean over ${reference.verdicts.length} statements ${timing.corpusMeanUs} µs`,
    );
  }
});
