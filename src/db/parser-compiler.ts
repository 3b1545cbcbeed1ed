/**
 * Compiles the statement parser's WebAssembly (libpg-query) with V8's baseline compiler only.
 *
 * By default V8 compiles WebAssembly with Liftoff, then recompiles the functions that run often
 * with TurboFan on background threads. For this parser that second tier holds 25–80 MB of resident
 * memory on Node (optimised code and the compilers' working memory, kept by the allocator after
 * they finish), costs about 0.5 ms of CPU per call over the first few hundred calls, and buys
 * little: the WebAssembly is a third of a statement check (~30 µs), the rest is JavaScript
 * reading the tree. docs/performance.md (Memory) has the figures.
 *
 * The flag is read when a function is compiled, so this module must be evaluated before
 * libpg-query is imported: the Node entrypoint (runtimes/node.ts) imports it first. Deno ignores
 * flags set at run time, so its start task passes the same flag with --v8-flags; Bun runs
 * JavaScriptCore, where the question does not arise.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
