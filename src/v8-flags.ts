/**
 * V8 flags that keep the Node server's resident memory near its live data, set by the Node
 * entrypoint (runtimes/node.ts) before anything else loads. docs/performance.md (Memory) has the
 * measurements behind each.
 *
 * - `--liftoff-only`: the statement parser's WebAssembly (libpg-query) stays on V8's baseline
 *   compiler. By default V8 recompiles the functions that run often with TurboFan on background
 *   threads; for this parser that held 25–80 MB of RSS (optimised code and the compilers' working
 *   memory, kept by the allocator afterwards) and cost CPU over the first few hundred calls, for
 *   no measurable gain: the WebAssembly is a third of a ~100 µs statement check. The flag is read
 *   when a function is compiled, so it must be set before libpg-query is imported.
 * - `--heap-growing-percent=30`: after a full collection the old generation may grow by 30 % of
 *   what survived before the next one (V8 otherwise picks up to 4×). A call's short-lived objects
 *   are promoted while it waits on the database; with the default factor they piled up to ≈ 65 MB
 *   of old space over a live set of ≈ 20 MB. Collections stay cheap because the live set is small.
 *
 * Deno ignores flags set at run time: its start task (deno.json) passes the same two with
 * --v8-flags. Bun runs JavaScriptCore, where neither applies.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
setFlagsFromString('--heap-growing-percent=30');
