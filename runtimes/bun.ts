/**
 * Bun entrypoint: `bun run runtimes/bun.ts`. Bun reads .env itself; Bun.serve binds the app and
 * stops gracefully on SIGINT/SIGTERM.
 */
import { ConfigError } from '../src/config.js';
import { startServer, StartupError } from '../src/main.js';

const server = await startServer(process.env, Bun.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StartupError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
});

let http: ReturnType<typeof Bun.serve>;
try {
  http = Bun.serve({ fetch: server.fetch, port: server.config.port, hostname: server.config.host, idleTimeout: 60 });
} catch (error) {
  console.error(
    `Cannot listen on ${server.config.host}:${server.config.port}: ${(error as Error).message}. Set PORT to a free port.`,
  );
  process.exit(1);
}
server.log.info('listening', {
  runtime: `bun ${Bun.version}`,
  address: http.hostname,
  port: http.port,
  mcp: server.config.resourceUrl,
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    void http.stop();
    await server.close();
    process.exit(0);
  });
}
