/**
 * The server as users start it on each runtime, as a child process: `node runtimes/node.ts`
 * (via tsx), `bun run runtimes/bun.ts` and `deno task start`, with the binaries npm installed,
 * spawned directly (not through npx or a shell) so a signal reaches the runtime itself.
 *
 * @example
 *   const server = await startServerProcess('bun', { SUPABASE_URL, DATABASE_URL });
 *   server.child.kill('SIGTERM');
 *   assert.deepEqual(await server.exited, { code: 0, signal: null });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../dev/ports.js';

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

export const RUNTIMES = Object.keys(SERVER_COMMANDS) as Runtime[];

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to its whole process group (`deno task` runs the server as its child). */
  kill(): void;
}

/** Another start command and folder than the repository's, e.g. a production build elsewhere. */
export interface ServerLocation {
  cwd: string;
  command: [string, string[]];
}

/**
 * Starts the server on `runtime` with only `env` (plus PATH and HOME) and waits, at most 30 s, for
 * /readyz. PORT, HOST and MCP_SERVER_URL default to a free loopback port.
 */
export async function startServerProcess(
  runtime: Runtime,
  env: Record<string, string>,
  at?: ServerLocation,
): Promise<ServerProcess> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const [command, args] = at?.command ?? SERVER_COMMANDS[runtime];
  let output = '';
  const child = spawn(command, args, {
    cwd: at?.cwd ?? REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MCP_SERVER_URL: baseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so kill() reaches `deno task`'s child too. Signals sent with
    // child.kill() still go to the runtime's own pid only, as a process manager sends them.
    detached: true,
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${runtime} exited early:\n${output}`);
    if (
      await fetch(`${baseUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      return { child, port, baseUrl, output: () => output, exited, kill };
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  kill();
  throw new Error(`${runtime} did not become ready within 30 s:\n${output}`);
}
