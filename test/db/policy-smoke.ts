/**
 * Runs the statement policy over the shared attack and legitimate statements on whichever runtime
 * executes it (Node with tsx, Bun, Deno) and prints one JSON line: the verdicts, for
 * test/db/policy.cross-runtime.test.ts to compare across runtimes, and timings.
 *
 *   node --import tsx test/db/policy-smoke.ts
 *   bun test/db/policy-smoke.ts
 *   deno run --sloppy-imports --allow-read test/db/policy-smoke.ts
 *
 * With POLICY_SMOKE_DATABASE_URL (a fixture database), it first reads and analyses that database's
 * functions on this runtime too (Deno then also needs --allow-net --allow-env), and adds a call of
 * each of them to the statements.
 */
import postgres from 'postgres';
import { loadFunctionCatalogue } from '../../src/db/functions.js';
import { checkStatement, loadPolicy } from '../../src/db/policy.js';
import { attacks, legitimate } from '../security/statements.js';

const runtime = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';

const loadStarted = performance.now();
await loadPolicy();
const loadMs = performance.now() - loadStarted;

const databaseUrl = process.env.POLICY_SMOKE_DATABASE_URL;
let analysisMs: number | undefined;
const functionCalls: { name: string; tool: 'query' | 'mutate'; sql: string }[] = [];
if (databaseUrl) {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const catalogue = await loadFunctionCatalogue(sql);
    analysisMs = catalogue.analysisMs;
    for (const [name, entries] of catalogue.byName) {
      for (const entry of entries) {
        for (const tool of ['query', 'mutate'] as const) {
          const call = `${entry.schema}.${name}()`;
          functionCalls.push({
            name: `${tool} ${call}`,
            tool,
            sql: tool === 'query' ? `select ${call}` : `delete from tags where id = ${call}`,
          });
        }
      }
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const statements = [...attacks, ...legitimate, ...functionCalls];
const verdicts = statements.map(({ name, tool, sql }) => ({ name, verdict: checkStatement(sql, tool) }));

/** Mean microseconds per check of `sql` after a warm-up. */
function microseconds(sql: string, tool: 'query' | 'mutate', rounds: number): number {
  for (let i = 0; i < 500; i++) checkStatement(sql, tool);
  const started = performance.now();
  for (let i = 0; i < rounds; i++) checkStatement(sql, tool);
  return ((performance.now() - started) / rounds) * 1000;
}

const typical = legitimate.find((l) => l.name === 'json_agg of jsonb_build_object');
if (!typical) throw new Error('the typical statement is missing from the shared list');
const corpusStarted = performance.now();
for (let round = 0; round < 10; round++) {
  for (const { sql, tool } of statements) checkStatement(sql, tool);
}
const corpusMeanUs = ((performance.now() - corpusStarted) / (10 * statements.length)) * 1000;

console.log(
  JSON.stringify({
    runtime,
    verdicts,
    timing: {
      loadMs: Math.round(loadMs * 10) / 10,
      analysisMs: analysisMs === undefined ? undefined : Math.round(analysisMs),
      typicalUs: Math.round(microseconds(typical.sql, typical.tool, 5_000)),
      corpusMeanUs: Math.round(corpusMeanUs),
    },
  }),
);
