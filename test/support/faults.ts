/**
 * Helpers for the fault tests: the server's database URL rewritten to go through the
 * fault-injection proxy (bench/proxy.ts), and the bytes that identify the server's COMMIT on the
 * wire (src/db/run.ts pads it with spaces, which no agent statement reaching the proxy carries).
 */
export const COMMIT_MARKER = 'commit' + ' '.repeat(32);

/** `url` with its host and port replaced by the proxy's. */
export function via(url: string, proxy: { host: string; port: number }): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}
