/**
 * BENCH_CPU_PROF for Deno: Deno has no `--cpu-prof`, so the bench preloads this module
 * (`deno run --preload=bench/deno-cpu-prof.ts …`, bench.ts `command`) into the server it starts. It
 * runs V8's sampling profiler through node:inspector from the first line of the server on, and
 * writes a `.cpuprofile` (the format Node's `--cpu-prof` writes, for the same tools) into
 * BENCH_CPU_PROF when the server exits: the bench's SIGTERM ends both servers with Deno.exit
 * (runtimes/deno.ts) or process.exit (bench/floor-server.ts), which calls it, so the exit waits
 * here for the profile first.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import process from 'node:process';

/** The part of Deno's global this module uses (the project's type check runs without Deno's types). */
interface DenoExit {
  pid: number;
  exit(code?: number): never;
}
const Deno = (globalThis as unknown as { Deno: DenoExit }).Deno;
const dir = process.env.BENCH_CPU_PROF!;
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');

const exit = Deno.exit;
let stopping: Promise<never> | undefined;
Deno.exit = ((code?: number) => {
  stopping ??= session
    .post('Profiler.stop')
    .then(({ profile }) =>
      writeFileSync(join(dir, `CPU.deno.${Date.now()}.${Deno.pid}.cpuprofile`), JSON.stringify(profile)),
    )
    .finally(() => exit(code)) as Promise<never>;
  return stopping;
}) as DenoExit['exit'];
