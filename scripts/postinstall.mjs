// npm's `deno` package links node_modules/.bin/deno to the native binary, and `deno task` runs
// anything it finds in node_modules/.bin as a JavaScript file (denoland/deno#27114): with the link
// in place, `deno task start` fails with "Invalid or unexpected token". Removing the link makes
// `deno` inside tasks resolve to the Deno that runs the task; the binary itself stays at
// node_modules/deno/deno for the tests (test/support/runtimes.ts).
import { rmSync } from 'node:fs';

rmSync(new URL('../node_modules/.bin/deno', import.meta.url), { force: true });
