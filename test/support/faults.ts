/**
 * Helpers for the fault tests: the server's database URL rewritten to go through the
 * fault-injection proxy (bench/proxy.ts), and the bytes that identify protocol messages on the wire.
 */
/**
 * The Parse message of the server's COMMIT: 'P', its length, the unnamed statement, the text
 * `commit` and its NUL. No agent statement is exactly `commit` (the policy refuses transaction
 * control), so it marks the server's own.
 */
export const COMMIT_PARSE = Buffer.concat([
  Buffer.from('P'),
  int32(4 + 1 + ('commit'.length + 1) + 2),
  Buffer.from('\0commit\0'),
]);

/** PostgreSQL's CommandComplete for a command tag, e.g. `COMMIT` or `INSERT 0 1`. */
export function commandComplete(tag: string): Buffer {
  return Buffer.concat([Buffer.from('C'), int32(4 + tag.length + 1), Buffer.from(`${tag}\0`)]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** `url` with its host and port replaced by the proxy's. */
export function via(url: string, proxy: { host: string; port: number }): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}
