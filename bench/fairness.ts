/**
 * `npm run bench -- --fairness [--calls=40] [--configs=off,slots,default]`: does one greedy user
 * starve the others?
 *
 * One PostgreSQL (fixture + seed), the auth stand-in and the server (Node, pool of 10) in this
 * process. Four normal users each run `calls` short queries one after another, first alone, then
 * while a greedy user keeps 20 slow, CPU-bound (allowed) statements in flight. Once per setting:
 * no per-user limit, the slot cap alone, and the default (the cap weighed by statement cost).
 * Prints the normal users' p50/p95 in each case, with the machine's CPU use and the event loop's
 * delay, and writes bench/results/<date>-fairness.json. Target: by default, their p95 with the
 * greedy user stays within 2x of their p95 alone.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve } from '@hono/node-server';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startAuthServer } from '../dev/auth/server.js';
import { asMintUser } from '../dev/seed.js';
import { startServer } from '../src/main.js';
import { connectWithToken, text } from '../test/support/stack.js';
import { ACTIVE_USERS, startBenchDatabase } from './setup.js';

const POOL = 10;
const GREEDY_IN_FLIGHT = 20;
const SLOW = 'select count(*)::int as n from generate_series(1, 4000) a, generate_series(1, 1000) b';
const QUICK =
  'select c.first_name, count(t.id)::int as tasks from contacts c left join tasks t on t.contact_id = c.id group by c.id order by tasks desc limit 5';

export interface FairnessRow {
  cap: string;
  aloneP50: number;
  aloneP95: number;
  withGreedyP50: number;
  withGreedyP95: number;
  p95Ratio: number;
  normalErrors: Record<string, number>;
  greedy: Record<string, number>;
  /** Share of the machine's CPU busy while the normal users ran beside the greedy one (all processes). */
  machineCpuBusy: number;
  /** The server's (and load generator's) event loop delay p99 over that phase, ms. */
  eventLoopP99Ms: number;
}

/** Busy and total jiffies of all CPUs (Linux /proc/stat); zeros elsewhere. */
function cpuTimes(): { busy: number; total: number } {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    const n = fields.map(Number);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

const pct = (xs: number[], q: number) =>
  Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0);

async function call(client: Client, sql: string): Promise<{ ms: number; code: string }> {
  const started = performance.now();
  const result = (await client.callTool({ name: 'query', arguments: { sql } }, undefined, {
    timeout: 120_000,
  })) as CallToolResult;
  return { ms: performance.now() - started, code: result.isError ? String(JSON.parse(text(result)).error.code) : 'ok' };
}

/** The settings compared: no per-user limit, the slot cap alone, and the default (slots weighed by cost). */
const CONFIGS: Record<string, { label: (cap: number) => string; env: Record<string, string> }> = {
  off: {
    label: () => `off (cap ${POOL} = pool, no weighing)`,
    env: { DB_USER_CONCURRENCY: String(POOL), DB_USER_HEAVY_MS: '0' },
  },
  slots: { label: (cap) => `slots only (cap ${cap}, DB_USER_HEAVY_MS=0)`, env: { DB_USER_HEAVY_MS: '0' } },
  default: { label: (cap) => `default (cap ${cap}, heavy users one at a time)`, env: {} },
};
export type FairnessConfig = keyof typeof CONFIGS;

export interface FairnessOptions {
  calls: number;
  configs?: string[];
  log?: (line: string) => void;
}

export async function runFairness(options: FairnessOptions): Promise<FairnessRow[]> {
  const { calls, configs = ['off', 'slots', 'default'], log = console.log } = options;
  for (const c of configs) if (!CONFIGS[c]) throw new Error(`unknown fairness config ${c} (${Object.keys(CONFIGS)})`);
  const db = await startBenchDatabase();
  const auth = await startAuthServer({ sql: db.admin });
  const rows: FairnessRow[] = [];
  try {
    for (const name of configs) {
      const config = CONFIGS[name]!;
      let handler: (request: Request) => Promise<Response> = async () => new Response('starting', { status: 503 });
      const http = serve({ fetch: (request) => handler(request), port: 0, hostname: '127.0.0.1' });
      await new Promise<void>((resolve) => http.once('listening', resolve));
      const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const server = await startServer(
        {
          SUPABASE_URL: auth.projectUrl,
          DATABASE_URL: db.loginUrlVia(db.host, db.port),
          MCP_SERVER_URL: baseUrl,
          LOG_LEVEL: 'error',
          DB_POOL_SIZE: String(POOL),
          STATEMENT_TIMEOUT_MS: '60000',
          ...config.env,
        },
        [],
        { write: () => {} },
      );
      handler = server.fetch;
      const connect = async (i: number) =>
        connectWithToken(`${baseUrl}/mcp`, await auth.mintAccessToken(asMintUser(ACTIVE_USERS[i]!)));
      const greedy = await connect(0);
      const normal = await Promise.all([1, 2, 3, 4].map(connect));
      const normalRun = async () =>
        (
          await Promise.all(
            normal.map(async (client) => {
              const out = [];
              for (let i = 0; i < calls; i++) out.push(await call(client, QUICK));
              return out;
            }),
          )
        ).flat();

      await normalRun(); // warm-up
      const alone = await normalRun();
      let running = true;
      const greedyResults: { code: string }[] = [];
      const greedyLoops = Array.from({ length: GREEDY_IN_FLIGHT }, async () => {
        while (running) {
          const r = await call(greedy, SLOW);
          greedyResults.push(r);
          // A refused agent loop retries at once, as a runaway one would (after the hinted second).
          if (r.code === 'USER_BUSY') await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      });
      // Measured in the steady state: a user's cost is known once one of their statements ended, so
      // the first wave runs at the full cap (README, "Under faults and load").
      const settleBy = performance.now() + 60_000;
      while (!greedyResults.some((r) => r.code === 'ok') && performance.now() < settleBy)
        await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const cpuBefore = cpuTimes();
      const contended = await normalRun();
      const cpuAfter = cpuTimes();
      loop.disable();
      running = false;
      await Promise.all(greedyLoops);

      const ok = (xs: { ms: number; code: string }[]) => xs.filter((x) => x.code === 'ok').map((x) => x.ms);
      const tally = (xs: { code: string }[], skipOk: boolean) => {
        const t: Record<string, number> = {};
        for (const x of xs) if (!skipOk || x.code !== 'ok') t[x.code] = (t[x.code] ?? 0) + 1;
        return t;
      };
      const row: FairnessRow = {
        cap: config.label(server.config.limits.userConcurrency),
        aloneP50: pct(ok(alone), 0.5),
        aloneP95: pct(ok(alone), 0.95),
        withGreedyP50: pct(ok(contended), 0.5),
        withGreedyP95: pct(ok(contended), 0.95),
        p95Ratio: 0,
        normalErrors: tally(contended, true),
        greedy: tally(greedyResults, false),
        machineCpuBusy:
          Math.round(((cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total)) * 100) / 100,
        eventLoopP99Ms: Math.round(loop.percentile(99) / 1e6),
      };
      row.p95Ratio = Math.round((row.withGreedyP95 / Math.max(1, row.aloneP95)) * 10) / 10;
      rows.push(row);
      log(
        `cap ${row.cap}: alone p50/p95 ${row.aloneP50}/${row.aloneP95} ms; with greedy ${row.withGreedyP50}/${row.withGreedyP95} ms; ` +
          `CPU busy ${Math.round(row.machineCpuBusy * 100)}%, event loop p99 ${row.eventLoopP99Ms} ms; greedy ${JSON.stringify(row.greedy)}`,
      );

      await Promise.allSettled([greedy, ...normal].map((c) => c.close()));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        (http as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await server.close();
    }
  } finally {
    await auth.stop();
    await db.stop();
  }
  return rows;
}

export function renderFairness(rows: FairnessRow[], calls: number): string {
  const lines = [
    `4 normal users × ${calls} short queries each, alone and while one greedy user keeps ${GREEDY_IN_FLIGHT} slow statements in flight; pool of ${POOL}; Node.`,
    '',
    "| per-user cap | normal alone p50 / p95 | with greedy p50 / p95 | p95 ratio | normal users' errors | greedy user's calls |",
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const codes = (t: Record<string, number>) =>
      Object.entries(t)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none';
    lines.push(
      `| ${r.cap} | ${r.aloneP50} / ${r.aloneP95} ms | ${r.withGreedyP50} / ${r.withGreedyP95} ms | ${r.p95Ratio}× | ${codes(r.normalErrors)} | ${codes(r.greedy)} |`,
    );
  }
  return lines.join('\n');
}
