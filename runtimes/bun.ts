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

/**
 * A full collection whenever the resident set has grown 32 MB past what the last one left. Under
 * ten times the sustainable rate (calls served beside a stream of 503s) Bun's own collector let
 * collectable garbage pile up: RSS rose about 1.5 MB a second for as long as the surge lasted
 * (126 → 346 MB in 150 s), with `--smol` too and with an eager `Bun.gc(false)` every second, while
 * a full `Bun.gc(true)` each second held it at 107–122 MB with the same throughput. Under ordinary
 * load this rarely fires (the soak's RSS rises and falls within about 45 MB).
 */
const COLLECT_AFTER_GROWTH_BYTES = 32 * 1024 * 1024;
/** Bun reads it from /proc: out of file descriptors it throws, and the tick is skipped. */
const rss = () => {
  try {
    return process.memoryUsage.rss();
  } catch {
    return undefined;
  }
};
let collectedAt = rss() ?? 0;
setInterval(() => {
  const now = rss();
  if (now === undefined || now - collectedAt < COLLECT_AFTER_GROWTH_BYTES) return;
  Bun.gc(true);
  collectedAt = rss() ?? now;
}, 1_000).unref();

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
