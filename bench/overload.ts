/**
 * `npm run bench -- --overload[=20] [--runtimes=node,bun,deno]`: does memory stay bounded under ten
 * times the rate the server sustains?
 *
 * Per runtime: the server (pool of 10) is spawned as in the main benchmark; first the rate it
 * sustains is measured closed-loop (10 concurrent callers, each waiting for its answer); then calls
 * arrive open-loop at ten times that rate for `seconds`, whether or not earlier ones were answered,
 * as a crowd of agents would. Every call is a plain HTTP POST of tools/call (the realistic reads
 * and writes of bench/workload.ts, four users), so the load generator stays cheap. Reports what
 * the calls got (answers, 503 + Retry-After, tool error codes, none within 30 s), the server's RSS
 * every second through the run and the drain after it, and whether RSS plateaued: its peak over the
 * second half of the run exceeds the first half's by at most PLATEAU_TOLERANCE_MB.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { asMintUser } from '../dev/seed.js';
import { childrenOf, type Runtime, serverDriver } from './bench.js';
import { ACTIVE_USERS, startBenchDatabase, startCountingAuth } from './setup.js';
import { operation } from './workload.js';

const OVERLOAD_FACTOR = 10;
const SUSTAIN_CALLERS = 10;
const SUSTAIN_SECONDS = 5;
/** A call unanswered this long counts as hung. */
const CALL_TIMEOUT_MS = 30_000;
const PLATEAU_TOLERANCE_MB = 16;
/** Past this p99 delay of its own event loop, the generator rather than the server may hold calls. */
const GENERATOR_LAG_LIMIT_MS = 500;

export interface OverloadResult {
  runtime: Runtime;
  /** Answered calls a second, closed-loop. */
  sustainedPerSecond: number;
  /** Arrivals a second asked for, and achieved by the load generator. */
  offeredPerSecond: number;
  arrivedPerSecond: number;
  seconds: number;
  calls: number;
  /** What the calls got: `ok`, `503` (with Retry-After), a tool error code, `HTTP n`, `no answer`. */
  outcomes: Record<string, number>;
  /** Answered calls a second from the first arrival until the last call settled, and their p95 latency. */
  okPerSecond: number;
  okP95Ms: number;
  /** Server RSS, MB: before the overload, then once a second during it and through the drain. */
  rssMb: number[];
  /** The server's open sockets at the same moments. */
  sockets: number[];
  peakMb: number;
  firstHalfPeakMb: number;
  secondHalfPeakMb: number;
  plateau: boolean;
  /** How the server process ended during the run, if it did: it must not. */
  exited?: string;
  /** CPU the server used from the first arrival until every call settled, seconds. */
  serverCpuSeconds: number;
  /** How late this load generator's own event loop ran (p99, ms): when high, it was the bottleneck. */
  generatorLagP99Ms: number;
}

/**
 * On two or more CPUs the load generator (and the auth stand-in, idle once tokens are cached) gets
 * the first and the server and its PostgreSQL the rest, as in production where the agents' load
 * comes from elsewhere: what the run shows is the server under overload rather than the
 * generator's fight with it for the same cores (sharing one core with PostgreSQL, the generator
 * could not offer 2,400 calls a second and read their answers). Children inherit the affinity set
 * here; PostgreSQL is moved once started (pinDatabase).
 */
function pinCores(): { server: string; generator: string } | undefined {
  const n = availableParallelism();
  if (n < 2) return undefined;
  const server = n === 2 ? '1' : `1-${n - 1}`;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    return { server, generator: '0' };
  } catch {
    return undefined;
  }
}

/** Moves this process' PostgreSQL (its descendants named postgres) to `cpus`; later backends inherit it. */
function pinDatabase(cpus: string, root = process.pid): void {
  for (const child of childrenOf(root)) {
    let name = '';
    try {
      name = readFileSync(`/proc/${child}/comm`, 'utf8').trim();
    } catch {}
    if (name === 'postgres') execFileSync('taskset', ['-a', '-p', '-c', cpus, String(child)], { stdio: 'ignore' });
    pinDatabase(cpus, child);
  }
}

type Call = (n: number) => Promise<{ outcome: string; ms: number }>;

/** One POST over node:http: lighter than fetch, so the load generator is not what queues calls. */
function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  method = 'POST',
): Promise<{ status: number; retryAfter?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers, agent: AGENT }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body: text }),
      );
      response.on('error', reject);
    });
    // From the call's arrival, waiting for a connection included (a socket timeout would start later).
    const timer = setTimeout(
      () => request.destroy(Object.assign(new Error('no answer'), { name: 'TimeoutError' })),
      CALL_TIMEOUT_MS,
    );
    request.on('close', () => clearTimeout(timer));
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * The crowd's connections: each agent keeps one open, as MCP clients do. A new connection per
 * arrival instead measures the two cores' TCP set-up: on the 2-core machine a Node load generator
 * opening 800 a second fell behind reading its own answers, and a server's accept queue filled
 * whatever the server did. Calls beyond these wait in the generator and count against the server
 * if their answer (a 503 included) takes longer than CALL_TIMEOUT_MS.
 */
const CONNECTIONS = 256;
const AGENT = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function rawCaller(url: string, tokens: string[]): Call {
  const target = new URL(url);
  return async (n) => {
    const op = operation(n);
    const started = performance.now();
    const done = (outcome: string) => ({ outcome, ms: performance.now() - started });
    try {
      const response = await post(
        target,
        {
          authorization: `Bearer ${tokens[n % tokens.length]}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
        JSON.stringify({
          jsonrpc: '2.0',
          id: n,
          method: 'tools/call',
          params: { name: op.tool, arguments: { sql: op.sql } },
        }),
      );
      if (response.status === 503) return done(response.retryAfter ? '503' : '503 without Retry-After');
      if (response.status !== 200) return done(`HTTP ${response.status}`);
      const message = JSON.parse(response.body) as { result?: CallToolResult; error?: { code: number } };
      if (message.error) return done(`JSON-RPC ${message.error.code}`);
      if (!message.result?.isError) return done('ok');
      const first = message.result.content[0];
      const text = first?.type === 'text' ? first.text : '';
      try {
        return done(String(JSON.parse(text).error.code));
      } catch {
        return done('tool error');
      }
    } catch (error) {
      return done((error as Error).name === 'TimeoutError' ? 'no answer' : `failed: ${(error as Error).message}`);
    }
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], q: number) =>
  Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0);

export async function runOverload(
  seconds: number,
  runtimes: Runtime[],
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<OverloadResult[]> {
  const cpus = pinCores();
  log(
    cpus
      ? `the server and PostgreSQL run on CPU ${cpus.server}; this load generator and the auth stand-in on CPU ${cpus.generator}`
      : 'one CPU (or no taskset): the server shares it with the load generator and PostgreSQL',
  );
  const db = await startBenchDatabase();
  if (cpus) pinDatabase(cpus.server);
  const auth = await startCountingAuth(db.admin);
  const tokens = await Promise.all(
    ACTIVE_USERS.slice(0, 4).map((u) => auth.auth.mintAccessToken(asMintUser(u), { expiresIn: 6 * 3600 })),
  );
  const results: OverloadResult[] = [];
  try {
    for (const runtime of runtimes) {
      log(`starting the server under ${runtime}…`);
      const driver = await serverDriver(runtime, {
        databaseUrl: db.loginUrlVia(db.host, db.port),
        auth,
        tokens,
        cpus: cpus?.server,
      });
      try {
        const call = rawCaller(driver.url!, tokens);
        let n = 0;
        const first = await call(n++);
        if (first.outcome !== 'ok') throw new Error(`a plain tools/call POST got ${first.outcome}`);

        // Closed loop: the rate the server sustains, after as long again to warm up (JIT, connections).
        const closedLoop = async (seconds: number) => {
          let answered = 0;
          const until = performance.now() + seconds * 1000;
          await Promise.all(
            Array.from({ length: SUSTAIN_CALLERS }, async () => {
              while (performance.now() < until) if ((await call(n++)).outcome === 'ok') answered++;
            }),
          );
          return answered / seconds;
        };
        await closedLoop(SUSTAIN_SECONDS);
        const sustainedPerSecond = Math.round(await closedLoop(SUSTAIN_SECONDS));
        const offeredPerSecond = sustainedPerSecond * OVERLOAD_FACTOR;
        log(`  ${runtime}: sustains ${sustainedPerSecond} calls/s; offering ${offeredPerSecond}/s for ${seconds} s`);

        // The crowd connects right before the surge (idle ones would be closed
        // by the server's keep-alive timeout), as MCP clients hold their connections: a busy Node
        // process accepts about one new connection per event-loop iteration (docs/overload.md).
        const health = new URL('/healthz', driver.url!);
        await Promise.all(Array.from({ length: CONNECTIONS }, () => post(health, {}, '', 'GET')));
        // Open loop: arrivals on a clock, never waiting for answers.
        const generatorDelay = monitorEventLoopDelay({ resolution: 10 });
        generatorDelay.enable();
        const serverCpuMs = () => {
          const cpu = driver.cpuMs?.();
          return cpu ? cpu.user + cpu.system : 0;
        };
        const cpuBefore = serverCpuMs();
        const rssMb = [driver.rssMb?.() ?? 0];
        const sockets = [driver.sockets?.() ?? 0];
        const sample = () => {
          rssMb.push(driver.rssMb?.() ?? 0);
          sockets.push(driver.sockets?.() ?? 0);
        };
        const pending: Promise<{ outcome: string; ms: number }>[] = [];
        const started = performance.now();
        let nextSample = started + 1000;
        for (;;) {
          const elapsed = performance.now() - started;
          if (elapsed >= seconds * 1000) break;
          const due = Math.floor((elapsed / 1000) * offeredPerSecond);
          while (pending.length < due) pending.push(call(n++));
          if (performance.now() >= nextSample) {
            sample();
            nextSample += 1000;
          }
          await sleep(5);
        }
        const arrivedPerSecond = Math.round(pending.length / ((performance.now() - started) / 1000));
        const overloadRss = rssMb.length;
        let settled = false;
        const all = Promise.all(pending).finally(() => (settled = true));
        while (!settled) {
          await Promise.race([all, sleep(1000)]);
          sample();
        }
        const outcomes = await all;
        generatorDelay.disable();
        const serverCpuSeconds = (serverCpuMs() - cpuBefore) / 1000;
        const totalSeconds = (performance.now() - started) / 1000;
        const tally: Record<string, number> = {};
        for (const o of outcomes) tally[o.outcome] = (tally[o.outcome] ?? 0) + 1;
        const ok = outcomes.filter((o) => o.outcome === 'ok').map((o) => o.ms);
        const during = rssMb.slice(1, overloadRss);
        const half = Math.floor(during.length / 2);
        const firstHalfPeakMb = Math.max(...during.slice(0, half));
        const secondHalfPeakMb = Math.max(...during.slice(half));
        const result: OverloadResult = {
          runtime,
          sustainedPerSecond,
          offeredPerSecond,
          arrivedPerSecond,
          seconds,
          calls: outcomes.length,
          outcomes: tally,
          okPerSecond: Math.round(ok.length / totalSeconds),
          okP95Ms: pct(ok, 0.95),
          rssMb,
          sockets,
          peakMb: Math.max(...rssMb),
          firstHalfPeakMb,
          secondHalfPeakMb,
          plateau: secondHalfPeakMb - firstHalfPeakMb <= PLATEAU_TOLERANCE_MB,
          exited: driver.exited?.(),
          serverCpuSeconds: Math.round(serverCpuSeconds * 10) / 10,
          generatorLagP99Ms: Math.round(generatorDelay.percentile(99) / 1e6),
        };
        log(
          `  ${runtime}: ${result.calls} calls at ${arrivedPerSecond}/s: ${JSON.stringify(tally)}; ` +
            `server CPU ${result.serverCpuSeconds} s; generator lag p99 ${result.generatorLagP99Ms} ms; ` +
            `RSS ${rssMb.join(' ')} MB; sockets ${sockets.join(' ')}; plateau ${result.plateau}${result.exited ? `; the server ${result.exited}` : ''}`,
        );
        results.push(result);
      } finally {
        await driver.stop();
      }
    }
  } finally {
    await auth.stop();
    await db.stop();
  }
  return results;
}

/** Failures a run should exit non-zero for: growth past the plateau, hung calls, a 503 without Retry-After. */
export function overloadFailures(results: OverloadResult[]): string[] {
  return results.flatMap((r) => [
    ...(r.exited ? [`${r.runtime}: the server ${r.exited}`] : []),
    ...(r.plateau
      ? []
      : [`${r.runtime}: RSS kept growing (${r.firstHalfPeakMb} → ${r.secondHalfPeakMb} MB between the halves)`]),
    ...Object.entries(r.outcomes)
      .filter(([k]) => k === 'no answer' || k === '503 without Retry-After' || k.startsWith('failed'))
      .map(
        ([k, v]) =>
          `${r.runtime}: ${v} calls got ${k}` +
          (k === 'no answer' && r.generatorLagP99Ms > GENERATOR_LAG_LIMIT_MS
            ? ` (this load generator ran ${r.generatorLagP99Ms} ms late at p99 and fell behind, so the calls may have waited in it)`
            : ''),
      ),
  ]);
}

export function renderOverload(results: OverloadResult[]): string {
  const lines = [
    `Open-loop arrivals at ${OVERLOAD_FACTOR}× the closed-loop sustained rate over ${CONNECTIONS} keep-alive connections; pool of 10; MAX_IN_FLIGHT default (40).`,
    '',
    '| runtime | sustained calls/s | offered / arrived per s | seconds | outcomes | ok/s until all settled (p95) | RSS MB before → peak → end | plateau | server CPU s | generator lag p99 ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const outcomes = Object.entries(r.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(
      `| ${r.runtime} | ${r.sustainedPerSecond} | ${r.offeredPerSecond} / ${r.arrivedPerSecond} | ${r.seconds} | ${outcomes} | ${r.okPerSecond} (${r.okP95Ms} ms) | ${r.rssMb[0]} → ${r.peakMb} → ${r.rssMb.at(-1)} | ${r.plateau ? 'yes' : 'no'} | ${r.serverCpuSeconds} | ${r.generatorLagP99Ms} |`,
    );
  }
  return lines.join('\n');
}
