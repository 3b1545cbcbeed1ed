/**
 * The benchmark itself (bench/run.ts is its command line; test/db/round-trips.test.ts runs the
 * quick check). One PostgreSQL, one delay proxy, one auth stand-in; then, side by side at each
 * round-trip time:
 *   (a) the server as built, spawned under each runtime, driven by N concurrent MCP SDK clients
 *       over HTTP with bearer tokens;
 *   (b) the floor: the same statements through raw postgres.js in one pipelined transaction,
 *       in-process, no HTTP (bench/naive.ts floorCall);
 *   (c) the naive anchor: BEGIN, role, claims, statement, COMMIT each awaited (naiveCall);
 *   (d) per server, tools/list: the HTTP + auth + MCP stack without the database;
 *   (e) optionally, the original Express server on Node;
 *   (f) the floor server on each runtime (bench/floor-server.ts): Hono answering the same MCP
 *       exchange with (b)'s transaction and a result of the same size and shape, and no token
 *       check, statement policy or SDK: what any MCP server on this stack pays for the same call.
 * Every mode reaches the database through the proxy as the least-privilege login role, so the
 * proxy's round-trip count per call compares them exactly.
 *
 * Each spawned server (and each in-process mode) is first warmed up once (`serverWarmup` workload
 * calls and a fifth as many tools/list), so its rows measure the steady state a deployed server
 * runs in, not the JIT's first minutes; each row then warms up again briefly at its own RTT. The
 * warm-up lists the tools from every client first, as an agent does, so from then on each client
 * validates every result against the tool's output schema. Each
 * row reports the CPU per call of every process involved, from /proc and process.cpuUsage(): the
 * server (user and system), the load generator (this process: the SDK clients, or postgres.js for
 * (b) and (c)), the PostgreSQL cluster and the proxy. At 0 ms RTT the closed loop is bound by
 * their sum on a small machine, so a row's latency there reflects everyone's CPU, not only the
 * server's.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import os from 'node:os';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type postgres from 'postgres';
import { openPool } from '../src/db/pool.js';
import { floorCall, naiveCall, type BenchIdentity } from './naive.js';
import { startDelayProxy, startDelayProxyProcess, type DelayProxy, type ProxyProcess } from './proxy.js';
import { asMintUser } from '../dev/seed.js';
import { freePort } from '../dev/ports.js';
import { ACTIVE_USERS, startBenchDatabase, startCountingAuth, type BenchDatabase, type CountingAuth } from './setup.js';
import { operation, type Operation } from './workload.js';

export type Runtime = 'node' | 'bun' | 'deno';
/** `node@before`: the same runtime serving another checkout (`compare`), for before/after figures. */
/** `original`: the server this one replaces (marmelab/atomic-crm-mcp, Express, built), on Node. */
/** `node@floor`: the floor server (bench/floor-server.ts) on that runtime. */
export type Mode = 'floor' | 'naive' | Runtime | `${Runtime}@before` | 'original' | `${Runtime}@floor`;

export interface BenchOptions {
  /** Round-trip times to simulate, ms (each direction gets half). */
  delays: number[];
  clients: number;
  /** Measured calls per mode and delay. */
  calls: number;
  runtimes: Runtime[];
  /** Also run the naive anchor and the floor (default true). */
  anchors?: boolean;
  /** Also run the no-database baseline, tools/list, per runtime (default true). */
  baseline?: boolean;
  /** Another checkout of the server (with node_modules): each row also runs against it, interleaved. */
  compare?: string;
  /**
   * A built checkout of marmelab/atomic-crm-mcp: a row `original` runs it on Node, interleaved with
   * ours. It has one SQL tool, `query`, which also runs the workload's writes.
   */
  original?: string;
  /** Soak: this many measured calls per runtime at the first delay, RSS sampled along the way. */
  soak?: number;
  /**
   * Workload calls each driver gets once before its first measured row, plus a fifth as many
   * tools/list (default 0: the quick check measures round trips, not CPU).
   */
  serverWarmup?: number;
  /** Also run the floor server (row f) on each runtime (default false). */
  floorServer?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** What a phase asks: the workload's tool calls, or `tools/list` (the stack without the database). */
export type Request = 'tools/call' | 'tools/list';

export interface PhaseResult {
  mode: Mode;
  request: Request;
  rttMs: number;
  clients: number;
  calls: number;
  errors: number;
  firstError?: string;
  p50: number;
  p95: number;
  p99: number;
  callsPerSecond: number;
  roundTripsPerCall: number;
  /** Connections the mode opened during the measured window (0 after a proper warm-up). */
  newConnections: number;
  /** CPU the server process spent per call (user + system), and its two parts. */
  serverCpuMsPerCall?: number;
  serverUserMsPerCall?: number;
  serverSystemMsPerCall?: number;
  /** CPU of the load generator (this process: the MCP SDK clients, or postgres.js in-process) per call. */
  loadCpuMsPerCall: number;
  /** CPU of the PostgreSQL cluster (postmaster, backends, background processes) per call. */
  postgresCpuMsPerCall?: number;
  /** CPU of the delay proxy's process per call (none when BENCH_TRACE runs it in-process). */
  proxyCpuMsPerCall?: number;
  /** The sum of the above: at 0 ms RTT, what bounds the closed loop on a small machine. */
  totalCpuMsPerCall: number;
  rssBeforeMb?: number;
  rssAfterMb?: number;
}

export interface SoakResult {
  runtime: Runtime;
  rttMs: number;
  calls: number;
  errors: number;
  /** RSS right after warm-up, then every `every` calls. */
  rssMb: number[];
  every: number;
  growthMb: number;
  ok: boolean;
}

export interface BenchReport {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  options: Omit<BenchOptions, 'log'>;
  phases: PhaseResult[];
  soak: SoakResult[];
  /**
   * p50 ratios per delay and runtime: server / floor and server / naive; and, beside the floor
   * server on the same runtime, p50 and server CPU per call / the floor server's.
   */
  ratios: {
    rttMs: number;
    runtime: Mode;
    vsFloor: number;
    vsNaive: number;
    vsFloorServer?: number;
    serverCpuVsFloorServer?: number;
  }[];
  /** Runtimes that could not be measured, and why. */
  failures: string[];
  maxRoundTripsPerCall: number;
}

/** Something that performs one tool call for client `i`. */
export interface Driver {
  mode: Mode;
  /** The MCP endpoint (spawned runtimes only). */
  url?: string;
  call(client: number, op: Operation): Promise<string | null>;
  /** tools/list: HTTP, auth and MCP with no database work (spawned runtimes only). */
  list?(client: number): Promise<string | null>;
  /** The server process' RSS in MB (spawned runtimes only). */
  rssMb?(): number | undefined;
  /** CPU time the server process has used, ms, user and system (spawned runtimes only). */
  cpuMs?(): CpuMs | undefined;
  /** Sockets the server process holds open: clients' connections and the pool's (spawned runtimes only). */
  sockets?(): number | undefined;
  /** How the server process ended, with its last output, if it has (spawned runtimes only). */
  exited?(): string | undefined;
  stop(): Promise<void>;
}

export interface CpuMs {
  user: number;
  system: number;
}

const WARMUP_PER_CLIENT = Number(process.env.BENCH_WARMUP ?? 8);
/** Soak: RSS may exceed its post-warm-up value by this much (MB) before the run is called a leak. */
const SOAK_TOLERANCE_MB = 24;

export async function runBench(options: BenchOptions, existing?: { db?: BenchDatabase }): Promise<BenchReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const db = existing?.db ?? (log('starting PostgreSQL with the fixture and seed…'), await startBenchDatabase());
  // The proxy runs in its own process: forwarding must not wait for the load generator's JavaScript.
  // BENCH_TRACE=1 instead runs it in-process and prints what opens each round trip, per phase.
  const openers = new Map<string, number>();
  const proxy: ProxyProcess = process.env.BENCH_TRACE
    ? inProcess(
        await startDelayProxy({
          targetPort: db.port,
          trace: (_c, direction, data, fresh) => {
            if (direction !== 'client' || !fresh) return;
            const key = describeMessage(data);
            openers.set(key, (openers.get(key) ?? 0) + 1);
          },
        }),
      )
    : await startDelayProxyProcess({ targetPort: db.port });
  const auth = await startCountingAuth(db.admin);
  const databaseUrl = db.loginUrlVia(proxy.host, proxy.port);
  const tokens = await Promise.all(
    Array.from({ length: options.clients }, (_, i) =>
      auth.auth.mintAccessToken(asMintUser(ACTIVE_USERS[i % ACTIVE_USERS.length]!), { expiresIn: 6 * 3600 }),
    ),
  );
  const identities = tokens.map(claimsOf);
  const postmaster = await postmasterPid(db.admin);
  const phases: PhaseResult[] = [];
  const soak: SoakResult[] = [];
  const failures: string[] = [];
  let n = 0;
  const nextOp = () => operation(n++);

  /** Every process' CPU so far, ms: the driver's server, this process, PostgreSQL, the proxy. */
  const sampleCpu = (driver: Driver) => {
    const load = process.cpuUsage();
    return {
      server: driver.cpuMs?.(),
      load: (load.user + load.system) / 1000,
      postgres: postmaster === undefined ? undefined : clusterCpuMs(postmaster),
      proxy: proxy.pid === undefined ? undefined : processCpuMs(proxy.pid)?.total,
    };
  };

  const runPhase = async (driver: Driver, rttMs: number, request: Request = 'tools/call'): Promise<PhaseResult> => {
    await proxy.setDelay(rttMs / 2);
    const perform = request === 'tools/list' ? (client: number) => driver.list!(client) : driver.call.bind(driver);
    await drive(perform, options.clients, options.clients * WARMUP_PER_CLIENT, nextOp);
    const rssBefore = driver.rssMb?.();
    await proxy.reset();
    openers.clear();
    const before = sampleCpu(driver);
    const run = await drive(perform, options.clients, options.calls, nextOp);
    const after = sampleCpu(driver);
    const stats = await proxy.stats();
    const rssAfter = driver.rssMb?.();
    const perCall = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : round((b - a) / options.calls);
    const server = before.server &&
      after.server && {
        user: perCall(before.server.user, after.server.user)!,
        system: perCall(before.server.system, after.server.system)!,
      };
    const load = perCall(before.load, after.load)!;
    const postgresCpu = perCall(before.postgres, after.postgres);
    const proxyCpu = perCall(before.proxy, after.proxy);
    const sorted = run.latencies.sort((a, b) => a - b);
    const result: PhaseResult = {
      mode: driver.mode,
      request,
      rttMs,
      clients: options.clients,
      calls: options.calls,
      errors: run.errors.length,
      ...(run.errors[0] ? { firstError: run.errors[0].slice(0, 300) } : {}),
      p50: round(percentile(sorted, 0.5)),
      p95: round(percentile(sorted, 0.95)),
      p99: round(percentile(sorted, 0.99)),
      callsPerSecond: round((options.calls / run.ms) * 1000, 1),
      roundTripsPerCall: round(stats.roundTrips / options.calls, 3),
      newConnections: stats.connections,
      ...(server
        ? {
            serverCpuMsPerCall: round(server.user + server.system),
            serverUserMsPerCall: server.user,
            serverSystemMsPerCall: server.system,
          }
        : {}),
      loadCpuMsPerCall: load,
      ...(postgresCpu !== undefined ? { postgresCpuMsPerCall: postgresCpu } : {}),
      ...(proxyCpu !== undefined ? { proxyCpuMsPerCall: proxyCpu } : {}),
      totalCpuMsPerCall: round(
        (server ? server.user + server.system : 0) + load + (postgresCpu ?? 0) + (proxyCpu ?? 0),
      ),
      ...(rssBefore !== undefined ? { rssBeforeMb: rssBefore } : {}),
      ...(rssAfter !== undefined ? { rssAfterMb: rssAfter } : {}),
    };
    log(
      `  ${driver.mode.padEnd(5)} ${request} rtt ${String(rttMs).padStart(3)} ms: p50 ${result.p50} ms, p95 ${result.p95} ms, ` +
        `${result.callsPerSecond} calls/s, ${result.roundTripsPerCall} round trips/call, ${result.errors} errors, ` +
        `CPU ms/call: server ${result.serverCpuMsPerCall ?? '—'}, load ${load}, PostgreSQL ${postgresCpu ?? '—'}, proxy ${proxyCpu ?? '—'}`,
    );
    phases.push(result);
    if (openers.size) {
      log(
        `    round trips opened by: ${[...openers]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${v}× ${k}`)
          .join(' | ')}`,
      );
      openers.clear();
    }
    return result;
  };

  /** Once per driver, before its first row: the steady state a deployed server runs in. */
  const warmUp = async (driver: Driver) => {
    const calls = options.serverWarmup ?? 0;
    if (!calls) return;
    await proxy.setDelay(0);
    // At least one per client (drive's first round gives each client one), listed before any call.
    const lists = driver.list ? Math.max(options.clients, Math.round(calls / 5)) : 0;
    const started = performance.now();
    const cpuBefore = driver.cpuMs?.();
    let errors = 0;
    if (lists) errors += (await drive((client) => driver.list!(client), options.clients, lists, nextOp)).errors.length;
    errors += (await drive(driver.call.bind(driver), options.clients, calls, nextOp)).errors.length;
    const cpuAfter = driver.cpuMs?.();
    const cpu =
      cpuBefore && cpuAfter
        ? `, server CPU ${round((cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / (lists + calls))} ms/request`
        : '';
    log(
      `  warm-up ${driver.mode}: ${lists} tools/list + ${calls} calls in ${round((performance.now() - started) / 1000, 1)} s${cpu}, ${errors} errors`,
    );
  };

  try {
    if (options.anchors ?? true) {
      for (const mode of ['floor', 'naive'] as const) {
        const driver = inProcessDriver(mode, databaseUrl, identities);
        try {
          await warmUp(driver);
          for (const rtt of options.delays) await runPhase(driver, rtt);
        } finally {
          await driver.stop();
        }
      }
    }
    for (const runtime of options.runtimes) {
      log(`starting the server under ${runtime}…`);
      const drivers: Driver[] = [];
      try {
        drivers.push(await serverDriver(runtime, { databaseUrl, auth, tokens }));
        if (options.compare) drivers.push(await serverDriver(runtime, { databaseUrl, auth, tokens }, options.compare));
        if (options.original && runtime === 'node')
          drivers.push(await serverDriver(runtime, { databaseUrl, auth, tokens }, options.original, 'original'));
        if (options.floorServer) {
          // Our tool list, as our server answers it: the floor server answers the same.
          const env = { FLOOR_TOOLS_LIST: await toolsListOf(drivers[0]!.url!, tokens[0]!) };
          drivers.push(await serverDriver(runtime, { databaseUrl, auth, tokens, env }, ROOT, 'floor'));
        }
      } catch (error) {
        log(`  ${runtime}: ${(error as Error).message}`);
        failures.push(`${runtime} did not start: ${(error as Error).message.slice(0, 500)}`);
        await Promise.all(drivers.map((d) => d.stop()));
        continue;
      }
      try {
        for (const driver of drivers) await warmUp(driver);
        // Interleaved, so a neighbour's load on a shared machine falls on both sides alike.
        for (const rtt of options.delays) for (const driver of drivers) await runPhase(driver, rtt);
        // The baseline: the same HTTP + auth + MCP stack answering tools/list, no database.
        if (options.baseline ?? true) for (const driver of drivers) await runPhase(driver, 0, 'tools/list');
        if (options.soak) soak.push(await runSoak(drivers[0]!, runtime, options, proxy, nextOp, log));
      } finally {
        await Promise.all(drivers.map((d) => d.stop()));
      }
    }
  } finally {
    await auth.stop();
    await proxy.close();
    if (!existing?.db) await db.stop();
  }

  const ratios: BenchReport['ratios'] = [];
  for (const rtt of options.delays) {
    const floor = phases.find((p) => p.mode === 'floor' && p.rttMs === rtt);
    const naive = phases.find((p) => p.mode === 'naive' && p.rttMs === rtt);
    const modes = options.runtimes.flatMap((r): Mode[] => [
      r,
      ...(options.compare ? [`${r}@before` as const] : []),
      ...(r === 'node' && options.original ? ['original' as const] : []),
      ...(options.floorServer ? [`${r}@floor` as const] : []),
    ]);
    const callRow = (mode: Mode) =>
      phases.find((p) => p.mode === mode && p.request === 'tools/call' && p.rttMs === rtt);
    for (const runtime of modes) {
      const server = callRow(runtime);
      const floorServer = runtime.endsWith('@floor')
        ? undefined
        : callRow(`${runtime === 'original' ? 'node' : (runtime.split('@')[0] as Runtime)}@floor`);
      if (server && floor && naive) {
        ratios.push({
          rttMs: rtt,
          runtime,
          vsFloor: round(server.p50 / floor.p50, 2),
          vsNaive: round(server.p50 / naive.p50, 2),
          ...(floorServer ? { vsFloorServer: round(server.p50 / floorServer.p50, 2) } : {}),
          ...(floorServer?.serverCpuMsPerCall && server.serverCpuMsPerCall
            ? { serverCpuVsFloorServer: round(server.serverCpuMsPerCall / floorServer.serverCpuMsPerCall, 2) }
            : {}),
        });
      }
    }
  }
  log(`done in ${round((Date.now() - started) / 1000, 1)} s`);
  const { log: _log, ...rest } = options;
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: os.availableParallelism?.() ?? os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    options: rest,
    phases,
    soak,
    ratios,
    failures,
    // The limit is this checkout's: the naive anchor and the original server pay five round trips by
    // design, and a `--compare` checkout is measured, not judged.
    maxRoundTripsPerCall: Math.max(
      0,
      ...phases
        .filter((p) => p.mode !== 'naive' && p.mode !== 'original' && !p.mode.endsWith('@before'))
        .map((p) => p.roundTripsPerCall),
    ),
  };
}

async function runSoak(
  driver: Driver,
  runtime: Runtime,
  options: BenchOptions,
  proxy: ProxyProcess,
  nextOp: () => Operation,
  log: (line: string) => void,
): Promise<SoakResult> {
  const rttMs = options.delays[0] ?? 0;
  await proxy.setDelay(rttMs / 2);
  const total = options.soak!;
  const every = Math.max(1, Math.round(total / 10));
  log(`  soak ${runtime}: warm-up ${every} calls, then ${total} calls at rtt ${rttMs} ms`);
  const perform = driver.call.bind(driver);
  let errors = (await drive(perform, options.clients, every, nextOp)).errors.length;
  const rssMb = [driver.rssMb?.() ?? 0];
  for (let done = 0; done < total; done += every) {
    errors += (await drive(perform, options.clients, Math.min(every, total - done), nextOp)).errors.length;
    rssMb.push(driver.rssMb?.() ?? 0);
    log(`    ${done + every} calls: RSS ${rssMb.at(-1)} MB`);
  }
  const growthMb = round(rssMb.at(-1)! - rssMb[0]!, 1);
  return {
    runtime,
    rttMs,
    calls: total,
    errors,
    rssMb,
    every,
    growthMb,
    ok: growthMb <= SOAK_TOLERANCE_MB && errors === 0,
  };
}

/** `calls` calls spread over `clients` concurrent loops; latency of each, in ms. */
async function drive(
  perform: (client: number, op: Operation) => Promise<string | null>,
  clients: number,
  calls: number,
  nextOp: () => Operation,
): Promise<{ latencies: number[]; errors: string[]; ms: number }> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let issued = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (issued < calls) {
        issued++;
        const op = nextOp();
        const t = performance.now();
        let error: string | null;
        try {
          error = await perform(client, op);
        } catch (e) {
          error = String((e as Error)?.message ?? e);
        }
        latencies.push(performance.now() - t);
        if (error) errors.push(`${op.tool} ${op.sql.slice(0, 60)}…: ${error}`);
      }
    }),
  );
  return { latencies, errors, ms: performance.now() - t0 };
}

function inProcessDriver(mode: 'floor' | 'naive', databaseUrl: string, identities: BenchIdentity[]): Driver {
  const sql: postgres.Sql = openPool(databaseUrl, { max: 10 });
  const run = mode === 'floor' ? floorCall : naiveCall;
  return {
    mode,
    async call(client, op) {
      await run(sql, identities[client]!, op.sql, op.tool === 'mutate');
      return null;
    },
    stop: () => sql.end({ timeout: 5 }),
  };
}

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * How each runtime starts, as in package.json (start / start:bun / start:deno), with the binaries
 * npm installed called directly rather than through npx: npx adds a process (and ~50 MB of RSS that
 * is not the server's) and cannot run deno when npm did not link node_modules/.bin/deno. Deno's task
 * runner starts `deno run …` itself, so the package's folder goes on PATH.
 *
 * The floor server starts the same way: on Node as built JavaScript (its esbuild bundle, ES2022 as
 * tsc builds ours), on Bun from TypeScript as ours does, on Deno with the start task's own
 * command and flags (run directly: the task runner's process is not the server's either way).
 */
function command(runtime: Runtime, root: string, server: 'ours' | 'floor'): { argv: string[]; path: string } {
  const path = [join(root, 'node_modules/.bin'), join(root, 'node_modules/deno'), process.env.PATH ?? ''].join(
    delimiter,
  );
  // BENCH_CPU_PROF=<dir>: the server writes a CPU profile there when the bench stops it.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  if (runtime === 'node') {
    // The built JavaScript, as `npm start` and the container run it (serverDriver builds it first):
    // under tsx the process also carries the loader, its esbuild helper and source maps.
    return { argv: [process.execPath, ...profile, server === 'floor' ? FLOOR_BUNDLE : 'dist/runtimes/node.js'], path };
  }
  const entry = server === 'floor' ? 'bench/floor-server.ts' : 'runtimes/bun.ts';
  if (runtime === 'bun') {
    const bin = join(root, 'node_modules/.bin/bun');
    // BENCH_BUN_FLAGS="--smol": Bun as a user may start it, e.g. with eager garbage collection.
    const bunFlags = process.env.BENCH_BUN_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
    return {
      argv: existsSync(bin)
        ? [bin, ...profile, ...bunFlags, 'run', entry]
        : ['npx', 'bun', ...profile, ...bunFlags, 'run', entry],
      path,
    };
  }
  const bin = join(root, 'node_modules/deno/deno');
  const deno = existsSync(bin) ? [bin] : ['npx', 'deno'];
  if (server === 'ours' && !profile.length) return { argv: [...deno, 'task', 'start'], path };
  // Deno has no --cpu-prof: the start task's command, with a module that profiles through the inspector.
  const task = (JSON.parse(readFileSync(join(root, 'deno.json'), 'utf8')) as { tasks: { start: string } }).tasks.start;
  const [, subcommand, ...args] = task
    .replace('runtimes/deno.ts', server === 'floor' ? 'bench/floor-server.ts' : 'runtimes/deno.ts')
    .split(/\s+/);
  const profiler = profile.length
    ? [`--preload=${join(ROOT, 'bench/deno-cpu-prof.ts')}`, `--allow-write=${process.env.BENCH_CPU_PROF}`]
    : [];
  return { argv: [...deno, subcommand!, ...profiler, ...args], path };
}

/** The floor server for Node, bundled (packages left to node_modules), relative to the checkout. */
const FLOOR_BUNDLE = 'node_modules/.cache/atomic-crm-mcp-bench/floor-server.mjs';
let floorBundle: Promise<unknown> | undefined;
function bundleFloorServer(): Promise<unknown> {
  floorBundle ??= import('esbuild').then(({ build }) =>
    build({
      entryPoints: [join(ROOT, 'bench/floor-server.ts')],
      outfile: join(ROOT, FLOOR_BUNDLE),
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'es2022',
      logLevel: 'error',
    }),
  );
  return floorBundle;
}

/** The newest modification time of the files under `dir`, ms. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/** `npm run build` in `root`, once per bench process, unless dist/ is newer than every source. */
const builds = new Map<string, Promise<void>>();
function build(root: string): Promise<void> {
  let done = builds.get(root);
  const built = join(root, 'dist/runtimes/node.js');
  if (!done && existsSync(built)) {
    const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'runtimes/node.ts')).mtimeMs);
    if (statSync(built).mtimeMs > sources) builds.set(root, (done = Promise.resolve()));
  }
  if (!done) {
    done = new Promise((resolve, reject) => {
      const child = spawn('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let errors = '';
      child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`npm run build failed in ${root} (${code}): ${errors}`)),
      );
    });
    builds.set(root, done);
  }
  return done;
}

/**
 * A spawned server driven by one MCP SDK client per token: ours (from `root`), the original, or
 * the floor server (bench/floor-server.ts, this checkout's).
 */
export async function serverDriver(
  runtime: Runtime,
  context: {
    databaseUrl: string;
    auth: CountingAuth;
    tokens: string[] /** taskset's CPU list for the server. */;
    cpus?: string;
    /** More environment for the server (the floor server's tool list). */
    env?: Record<string, string>;
  },
  root = ROOT,
  kind: 'ours' | 'original' | 'floor' = 'ours',
): Promise<Driver> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  // The original: its own start script's command, its only tool, and no /healthz (its metadata answers instead).
  const original = kind === 'original';
  const { argv, path } = original
    ? { argv: [process.execPath, 'dist/index.js'], path: process.env.PATH ?? '' }
    : command(runtime, root, kind === 'floor' ? 'floor' : 'ours');
  if (runtime === 'node' && kind === 'ours') await build(root);
  if (runtime === 'node' && kind === 'floor') await bundleFloorServer();
  const healthPath = original ? '/.well-known/oauth-protected-resource' : '/healthz';
  const toolOf = (op: Operation) => (original ? 'query' : op.tool);
  const output: string[] = [];
  const pinned = context.cpus ? ['taskset', '-c', context.cpus, ...argv] : argv;
  const child = spawn(pinned[0]!, pinned.slice(1), {
    cwd: root,
    // Own process group, so stop() can end the runtime and anything npx started under it.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PATH: path,
      SUPABASE_URL: context.auth.projectUrl,
      DATABASE_URL: context.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      MCP_SERVER_URL: baseUrl,
      // The default level: a deployed server writes its audit line for every call, and so does this one.
      LOG_LEVEL: 'info',
      DB_POOL_SIZE: '10',
      ...context.env,
    },
  });
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {}
      }, 8_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the ${runtime} server exited (${child.exitCode}):\n${output.join('')}`);
    try {
      if ((await fetch(`${baseUrl}${healthPath}`)).ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the ${runtime} server did not answer ${healthPath} within 60 s:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const clients: Client[] = [];
  try {
    for (const token of context.tokens) {
      const client = new Client({ name: 'atomic-crm-mcp-bench', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), {
          requestInit: { headers: { Authorization: `Bearer ${token}` } },
        }),
      );
      clients.push(client);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    mode: original ? 'original' : kind === 'floor' ? `${runtime}@floor` : root === ROOT ? runtime : `${runtime}@before`,
    url: `${baseUrl}/mcp`,
    async call(client, op) {
      const result = (await clients[client]!.callTool({
        name: toolOf(op),
        arguments: { sql: op.sql },
      })) as CallToolResult;
      if (!result.isError) return null;
      const first = result.content[0];
      return first?.type === 'text' ? first.text : 'tool error';
    },
    async list(client) {
      const { tools } = await clients[client]!.listTools();
      return tools.length ? null : 'tools/list returned no tools';
    },
    rssMb: () => serverRssMb(child.pid!),
    cpuMs: () => serverCpuMs(child.pid!),
    sockets: () => serverSockets(child.pid!),
    exited: () =>
      child.exitCode === null && child.signalCode === null
        ? undefined
        : `exited (${child.exitCode ?? child.signalCode}): ${output.join('').slice(-2000)}`,
    async stop() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await stop();
    },
  };
}

/**
 * The server process: the process of the spawned tree with the largest RSS. `deno task` runs the
 * server as its child, and tsx (node) keeps an esbuild helper process as a child of the server, so
 * neither the root nor a leaf is reliably the server.
 */
function serverPid(rootPid: number): number | undefined {
  const tree: number[] = [];
  const walk = (pid: number) => {
    tree.push(pid);
    for (const c of childrenOf(pid)) walk(c);
  };
  walk(rootPid);
  let best: number | undefined;
  for (const pid of tree) if (best === undefined || (rssKb(pid) ?? 0) > (rssKb(best) ?? 0)) best = pid;
  return best;
}

/** utime and stime of the server process (see serverPid), ms. */
function serverCpuMs(rootPid: number): CpuMs | undefined {
  const pid = serverPid(rootPid);
  return pid === undefined ? undefined : processCpuMs(pid);
}

/**
 * A process' CPU time from /proc, ms (clock ticks are 100 Hz on Linux): its own user and system
 * time, and what its children that have ended and been waited for used.
 */
export function processCpuMs(pid: number): (CpuMs & { children: number; total: number }) | undefined {
  try {
    // "pid (comm) state ppid …": comm may contain spaces, so the fields are counted after ") ".
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const [user, system, children] = [
      Number(fields[11]) * 10,
      Number(fields[12]) * 10,
      (Number(fields[13]) + Number(fields[14])) * 10,
    ];
    return { user, system, children, total: user + system };
  } catch {
    return undefined;
  }
}

/** The PostgreSQL cluster's postmaster: the parent of one of its backends. */
async function postmasterPid(sql: postgres.Sql): Promise<number | undefined> {
  const [row] = await sql`select pg_backend_pid() as pid`;
  try {
    return Number(readFileSync(`/proc/${row!.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * CPU the PostgreSQL cluster has used, ms: the postmaster, every process it runs now (backends,
 * WAL writer, checkpointer, autovacuum), and those that have ended (its children's time).
 */
function clusterCpuMs(postmaster: number): number | undefined {
  const own = processCpuMs(postmaster);
  if (!own) return undefined;
  let total = own.total + own.children;
  for (const pid of childrenOf(postmaster)) total += processCpuMs(pid)?.total ?? 0;
  return total;
}

/** A server's tools/list result as JSON, asked as one stateless 2025-era request. */
async function toolsListOf(url: string, token: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json, text/event-stream',
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  const body = (await response.json()) as { result?: unknown };
  if (!response.ok || body.result === undefined) throw new Error(`tools/list answered ${response.status}`);
  return JSON.stringify(body.result);
}

/** RSS of the server process (see serverPid), MB. */
export function serverRssMb(rootPid: number): number | undefined {
  const pid = serverPid(rootPid);
  const kb = pid === undefined ? undefined : rssKb(pid);
  return kb === undefined ? undefined : round(kb / 1024, 1);
}

/** Open sockets of the server process (see serverPid): its file descriptors that are sockets. */
function serverSockets(rootPid: number): number | undefined {
  const pid = serverPid(rootPid);
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {}
    }
    return n;
  } catch {
    return undefined;
  }
}

/** The process' direct children, from /proc (none once it has ended). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {}
  return out;
}

function rssKb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The verified-claims stand-in for the in-process modes: the token's payload as signed. */
function claimsOf(token: string): BenchIdentity {
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { sub: String(claims.sub), claims };
}

function inProcess(proxy: DelayProxy): ProxyProcess {
  return {
    port: proxy.port,
    host: proxy.host,
    setDelay: async (ms) => void (proxy.delayMs = ms),
    stats: async () => proxy.stats(),
    reset: async () => proxy.reset(),
    close: () => proxy.close(),
  };
}

/** The first protocol message of a client chunk, for BENCH_TRACE: type letter and a little text. */
function describeMessage(data: Buffer): string {
  const type = String.fromCharCode(data[0] ?? 0);
  const text = data
    .subarray(5, 45)
    .toString('utf8')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim();
  return `${type} ${text.slice(0, 30)}`;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The report as a markdown table (plus ratios and soak figures). */
export function renderMarkdown(report: BenchReport): string {
  const lines: string[] = [];
  const m = report.machine;
  lines.push(
    `Benchmark ${report.date} — ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb} GB RAM, Node ${m.node}, ${m.platform}`,
  );
  lines.push(
    `${report.options.clients} concurrent clients; ${report.options.calls} measured calls per row (4 reads : 1 write); round-trip time simulated by the proxy.`,
    (report.options.serverWarmup
      ? `Each driver warmed up once first with ${report.options.serverWarmup} calls and a fifth as many tools/list. `
      : "No warm-up but each row's own few calls per client: CPU figures include the JIT's start. ") +
      'CPU is ms per call of each process: the server (user + system), the load generator (the bench process: ' +
      'the MCP SDK clients, or postgres.js for b and c), the PostgreSQL cluster, the delay proxy, and all of them.',
  );
  lines.push('');
  lines.push(
    '| RTT ms | mode | p50 ms | p95 ms | calls/s | DB round trips/call | new conns / errors | CPU: server (user + sys) | load gen. | PostgreSQL | proxy | all | server RSS MB before → after |',
  );
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const label: Record<string, string> = {
    floor: '(b) floor: raw postgres.js, 1 pipelined tx',
    naive: '(c) naive: 5 awaited steps',
    original: '(e) the original Express server on node (marmelab/atomic-crm-mcp)',
  };
  const cell = (x: number | undefined) => (x === undefined ? '—' : String(x));
  for (const p of [...report.phases].sort(
    (a, b) => a.rttMs - b.rttMs || Number(a.request === 'tools/list') - Number(b.request === 'tools/list'),
  )) {
    const rss = p.rssBeforeMb !== undefined ? `${p.rssBeforeMb} → ${p.rssAfterMb}` : '—';
    const mode =
      p.request === 'tools/list'
        ? `(d) baseline on ${p.mode}: tools/list, no database`
        : (label[p.mode] ??
          (p.mode.endsWith('@floor')
            ? `(f) floor server on ${p.mode.split('@')[0]}: Hono, no checks, no SDK`
            : `(a) server on ${p.mode}`));
    const server =
      p.serverCpuMsPerCall === undefined
        ? '—'
        : `${p.serverCpuMsPerCall} (${p.serverUserMsPerCall} + ${p.serverSystemMsPerCall})`;
    lines.push(
      `| ${p.rttMs} | ${mode} | ${p.p50} | ${p.p95} | ${p.callsPerSecond} | ${p.roundTripsPerCall} | ${p.newConnections} / ${p.errors} | ${server} | ${p.loadCpuMsPerCall} | ${cell(p.postgresCpuMsPerCall)} | ${cell(p.proxyCpuMsPerCall)} | ${p.totalCpuMsPerCall} | ${rss} |`,
    );
  }
  if (report.ratios.length) {
    lines.push(
      '',
      '| RTT ms | runtime | p50 / (b) floor | p50 / (c) naive | p50 / (f) floor server | server CPU / (f) floor server |',
      '|---:|---|---:|---:|---:|---:|',
    );
    for (const r of report.ratios)
      lines.push(
        `| ${r.rttMs} | ${r.runtime} | ${r.vsFloor} | ${r.vsNaive} | ${cell(r.vsFloorServer)} | ${cell(r.serverCpuVsFloorServer)} |`,
      );
  }
  if (report.soak.length) {
    lines.push(
      '',
      '| soak runtime | RTT ms | calls | errors | RSS MB after warm-up … every 10% | growth MB | ok |',
      '|---|---:|---:|---:|---|---:|---|',
    );
    for (const s of report.soak) {
      lines.push(
        `| ${s.runtime} | ${s.rttMs} | ${s.calls} | ${s.errors} | ${s.rssMb.join(' → ')} | ${s.growthMb} | ${s.ok ? 'yes' : 'NO'} |`,
      );
    }
  }
  return lines.join('\n');
}
