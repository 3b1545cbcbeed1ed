/**
 * Deno entrypoint: `deno task start` (packages from node_modules, no network needed). Deno.serve
 * binds the app (HOST=:: for IPv6-only hosts) and shuts down gracefully on SIGINT/SIGTERM.
 *
 * deno.json's `"unstable": ["no-legacy-abort"]`: a call listens on `request.signal` to cancel its
 * statement when the client goes away. Without the option Deno also aborts that signal after every
 * answer it sent (and warns at the first), building two DOMExceptions per request and waking every
 * listener still attached; with it the signal aborts only when the client goes away
 * (test/runtimes.test.ts checks that such a statement is still cancelled).
 */
import process from 'node:process';
import { ConfigError } from '../src/config.js';
import { startServer, StartupError } from '../src/main.js';

try {
  Deno.statSync('.env');
  process.loadEnvFile('.env');
} catch {
  // No .env: the environment alone configures the server.
}

const server = await startServer(Deno.env.toObject(), Deno.args).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StartupError) {
    console.error(error.message);
    Deno.exit(1);
  }
  throw error;
});

let stopping = false;
let http: Deno.HttpServer;

/**
 * Deno.serve stops for good when accepting a connection fails (out of file descriptors under a
 * connection flood, os error 24) and rejects `finished`; left unhandled, that rejection ends the
 * process. Node and Bun keep listening through it. So the listener is opened again, a little
 * later each time it fails, while the process and its calls in flight carry on.
 */
function listen(): void {
  http = Deno.serve(
    {
      port: server.config.port,
      hostname: server.config.host,
      onListen: ({ hostname, port }) =>
        server.log.info('listening', {
          runtime: `deno ${Deno.version.deno}`,
          address: hostname,
          port,
          mcp: server.config.resourceUrl,
        }),
    },
    server.fetch,
  );
  http.finished.catch((error: unknown) => listenAgain(error, 250));
}

function listenAgain(error: unknown, afterMs: number): void {
  if (stopping) return;
  server.log.error('listener_failed', { error: String(error), retryMs: afterMs });
  setTimeout(() => {
    if (stopping) return;
    try {
      listen();
    } catch (again) {
      listenAgain(again, Math.min(afterMs * 2, 5_000));
    }
  }, afterMs);
}

try {
  listen();
} catch (error) {
  console.error(
    `Cannot listen on ${server.config.host}:${server.config.port}: ${(error as Error).message}. Set PORT to a free port.`,
  );
  Deno.exit(1);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  Deno.addSignalListener(signal, async () => {
    if (stopping) return;
    stopping = true;
    const closed = http.shutdown();
    await server.close();
    // Connections of calls cancelled at the shutdown bound may never finish draining: bound it.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    Deno.exit(0);
  });
}
