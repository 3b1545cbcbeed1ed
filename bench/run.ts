/**
 * `npm run bench` — node --import tsx bench/run.ts [--delays=0,2,20] [--clients=4] [--calls=1000]
 *   [--runtimes=node,bun,deno] [--quick] [--soak[=20000]] [--no-save] [--no-anchors]
 *   `npm run bench -- --fairness [--calls=40] [--configs=off,slots,default]`: one greedy user against
 *   four others (bench/fairness.ts).
 *   `npm run bench -- --overload[=20] [--runtimes=node]`: memory under 10x the sustainable rate
 *   (bench/overload.ts); exits 1 if RSS keeps growing or a call hangs.
 *
 * Starts its own PostgreSQL (fixture + seed), a delay proxy that counts round trips, the auth
 * stand-in, and under each runtime the server and the floor server (bench/floor-server.ts), then
 * prints a markdown table and writes the report to bench/results/<date>.json. `--delays` are
 * round-trip times in ms (each direction gets half). Each server is warmed up once before its first
 * row with BENCH_SERVER_WARMUP workload calls (default 1500) and a fifth as many tools/list;
 * BENCH_WARMUP (default 8) is the per-client warm-up of each row.
 * `--quick` (CI): node only, 4 ms RTT, 150 calls, no server warm-up, no floor server, no file
 * written; exits 1 when a call costs more than 1.1 database round trips, or any call fails. `--soak`: 20,000 calls per runtime after a
 * warm-up, server RSS sampled every 10%; exits 1 on growth beyond the tolerance. `--compare=<dir>`:
 * every server row also runs, interleaved, against the checkout in <dir> (rows `node@before`…).
 * `--original=<dir>`: a built checkout of marmelab/atomic-crm-mcp (the Express server this one
 * replaces) runs on Node beside ours (row `original`; its one tool, `query`, also runs the writes).
 * `--no-anchors`: no in-process rows (b) and (c), for runs that compare servers only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { runBench, renderMarkdown, type BenchOptions, type Runtime } from './bench.js';
import { renderFairness, runFairness } from './fairness.js';
import { overloadFailures, renderOverload, runOverload } from './overload.js';

export const MAX_ROUND_TRIPS_PER_CALL = 1.1;

const args = new Map<string, string>();
for (const arg of process.argv.slice(2)) {
  const [key, value] = arg.replace(/^--/, '').split('=', 2);
  args.set(key!, value ?? 'true');
}
const unknown = [...args.keys()].filter(
  (k) =>
    ![
      'delays',
      'clients',
      'calls',
      'runtimes',
      'quick',
      'soak',
      'no-save',
      'no-anchors',
      'fairness',
      'configs',
      'overload',
      'compare',
      'original',
    ].includes(k),
);
if (unknown.length) {
  console.error(
    `unknown option(s): ${unknown.map((k) => `--${k}`).join(' ')}\nusage: bench/run.ts [--delays=0,2,20] [--clients=4] [--calls=1000] [--runtimes=node,bun,deno] [--quick] [--soak[=20000]] [--no-save] [--no-anchors] [--compare=<dir>] [--original=<dir>]`,
  );
  process.exit(2);
}
if (args.has('fairness')) {
  const calls = Number(args.get('calls') ?? 40);
  const rows = await runFairness({
    calls,
    ...(args.has('configs') ? { configs: args.get('configs')!.split(',') } : {}),
  });
  console.log(`\n${renderFairness(rows, calls)}\n`);
  if (!args.has('no-save')) {
    const dir = new URL('./results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    const name = `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}-fairness.json`;
    writeFileSync(new URL(name, dir), `${JSON.stringify({ date: new Date().toISOString(), calls, rows }, null, 1)}\n`);
    console.log(`wrote bench/results/${name}`);
  }
  process.exit(0);
}

if (args.has('overload')) {
  const seconds = args.get('overload') === 'true' ? 20 : Number(args.get('overload'));
  const runtimes = (args.get('runtimes') ?? 'node').split(',') as Runtime[];
  const results = await runOverload(seconds, runtimes);
  console.log(`\n${renderOverload(results)}\n`);
  if (!args.has('no-save')) {
    const dir = new URL('./results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    const name = `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}-overload.json`;
    writeFileSync(new URL(name, dir), `${JSON.stringify({ date: new Date().toISOString(), results }, null, 1)}\n`);
    console.log(`wrote bench/results/${name}`);
  }
  const failures = overloadFailures(results);
  if (failures.length) console.error(`FAIL:\n  - ${failures.join('\n  - ')}`);
  process.exit(failures.length ? 1 : 0);
}

const quick = args.has('quick');
const list = (key: string, fallback: string) =>
  (args.get(key) ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const options: BenchOptions = {
  delays: list('delays', quick ? '4' : '0,2,20').map(Number),
  clients: Number(args.get('clients') ?? 4),
  calls: Number(args.get('calls') ?? (quick ? 150 : 1000)),
  runtimes: list('runtimes', quick ? 'node' : 'node,bun,deno') as Runtime[],
  ...(args.has('compare')
    ? { compare: new URL(args.get('compare')!.replace(/\/?$/, '/'), `file://${process.cwd()}/`).pathname }
    : {}),
  ...(args.has('original')
    ? { original: new URL(args.get('original')!.replace(/\/?$/, '/'), `file://${process.cwd()}/`).pathname }
    : {}),
  ...(args.has('soak') ? { soak: args.get('soak') === 'true' ? 20_000 : Number(args.get('soak')) } : {}),
  serverWarmup: quick ? 0 : Number(process.env.BENCH_SERVER_WARMUP ?? 1500),
  floorServer: !quick,
  anchors: !args.has('no-anchors'),
};
for (const r of options.runtimes) if (!['node', 'bun', 'deno'].includes(r)) throw new Error(`unknown runtime ${r}`);
if (options.delays.some((d) => !Number.isFinite(d) || d < 0) || !(options.clients >= 1) || !(options.calls >= 1)) {
  throw new Error('--delays, --clients and --calls take non-negative numbers');
}
if (!(options.serverWarmup! >= 0)) throw new Error('BENCH_SERVER_WARMUP takes a non-negative number');

const report = await runBench(options);
const table = renderMarkdown(report);
console.log(`\n${table}\n`);

if (!quick && !args.has('no-save')) {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const name = `${report.date.slice(0, 19).replace(/:/g, '-')}${options.soak ? '-soak' : ''}.json`;
  writeFileSync(new URL(name, dir), `${JSON.stringify(report, null, 1)}\n`);
  console.log(`wrote bench/results/${name}`);
}

const failures: string[] = [...report.failures];
if (report.maxRoundTripsPerCall > MAX_ROUND_TRIPS_PER_CALL) {
  failures.push(
    `a tool call cost ${report.maxRoundTripsPerCall} database round trips (limit ${MAX_ROUND_TRIPS_PER_CALL})`,
  );
}
for (const p of report.phases)
  if (p.errors)
    failures.push(`${p.mode} ${p.request} at ${p.rttMs} ms: ${p.errors} failed calls, e.g. ${p.firstError}`);
for (const s of report.soak)
  if (!s.ok) failures.push(`soak ${s.runtime}: RSS grew ${s.growthMb} MB, ${s.errors} errors`);
if (failures.length) {
  console.error(`FAIL:\n  - ${failures.join('\n  - ')}`);
  process.exitCode = 1;
}
