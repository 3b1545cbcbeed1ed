/**
 * How each runtime starts the server, as users do, with the binaries npm installed. The binaries
 * are spawned directly (not through npx or a shell) so a signal reaches the runtime itself.
 *
 * @example
 *   const [command, args] = SERVER_COMMANDS.bun;
 *   spawn(command, args, { cwd: REPO_ROOT, env });
 */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Bun and Deno from the npm devDependencies. */
export const BUN = fileURLToPath(new URL('../../node_modules/bun/bin/bun.exe', import.meta.url));
export const DENO = fileURLToPath(new URL('../../node_modules/deno/deno', import.meta.url));

export type Runtime = 'node' | 'bun' | 'deno';

export const SERVER_COMMANDS: Record<Runtime, [string, string[]]> = {
  node: [process.execPath, ['--import', 'tsx', 'runtimes/node.ts']],
  bun: [BUN, ['run', 'runtimes/bun.ts']],
  deno: [DENO, ['task', 'start']],
};
