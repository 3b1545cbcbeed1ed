/**
 * A TCP port nobody listens on right now, chosen by the OS. Shared machines run other servers on
 * the usual ports, so everything the tests, the demo and the bench start listens on one of these.
 * (Another process may still take it before we bind: callers that can retry do.)
 *
 * @example
 *   const port = await freePort();
 */
import { createServer } from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not obtain a free port'))));
    });
  });
}
