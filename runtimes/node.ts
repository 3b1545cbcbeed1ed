/**
 * Node entrypoint: `npm start` (built JS) or `npm run dev` (tsx). Binds the app to a port with
 * @hono/node-server and shuts down gracefully on SIGINT/SIGTERM.
 */
// First, before anything loads libpg-query: V8 flags for a smaller resident set (src/v8-flags.ts).
import '../src/v8-flags.js';
import { existsSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { ConfigError } from '../src/config.js';
import { startServer, StartupError } from '../src/main.js';

if (existsSync('.env')) process.loadEnvFile('.env');

const server = await startServer(process.env, process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StartupError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
});

const http = serve({ fetch: server.fetch, port: server.config.port, hostname: server.config.host }, (info) =>
  server.log.info('listening', {
    runtime: `node ${process.version}`,
    address: info.address,
    port: info.port,
    mcp: server.config.resourceUrl,
  }),
);
http.on('error', (error: NodeJS.ErrnoException) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `Port ${server.config.port} on ${server.config.host} is already in use: set PORT to a free port.`
      : `Cannot listen on ${server.config.host}:${server.config.port}: ${error.message}`,
  );
  process.exit(1);
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    http.close();
    if ('closeIdleConnections' in http) http.closeIdleConnections();
    await server.close();
    process.exit(0);
  });
}
