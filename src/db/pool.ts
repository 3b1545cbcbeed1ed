/**
 * The postgres.js pool every tool call borrows a connection from. Runtimes open it; the app only
 * receives it, so `src/` never decides how or where to connect.
 *
 * @example
 *   const sql = openPool(config.databaseUrl, { max: config.poolSize });
 */
import net from 'node:net';
import postgres from 'postgres';

export type Sql = postgres.Sql;

/**
 * Options for every `unsafe` query: the extended protocol, unnamed statements. With no bind
 * parameters postgres.js would otherwise use the simple protocol, which runs every `;`-separated
 * statement of a string (how "read-only" SQL tools were escaped with `select 1; commit; …`); over
 * the extended protocol a second statement is a syntax error (42601) in PostgreSQL itself.
 */
export const EXTENDED = { prepare: false, simple: false } as const;

export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
}

/** Dates, times and bytea come back as PostgreSQL prints them: exact, and free of the host's time zone. */
const asText = (x: string) => x;

export function openPool(databaseUrl: string, options: PoolOptions = {}): Sql {
  const options_: postgres.Options<Record<string, postgres.PostgresType>> & {
    socket: ReturnType<typeof noDelaySocket>;
  } = {
    max: options.max ?? 10,
    // Named prepared statements break behind transaction-mode poolers (Supavisor :6543, PgBouncer),
    // and every statement here is either ours (tiny) or the agent's (seen once): never prepare.
    prepare: false,
    connect_timeout: 10,
    // Reconnect delay after a lost connection. postgres.js's default grows to 20 s over a few
    // failed attempts, so calls would keep failing that long after the database is back; capped at
    // 1 s, the pool is whole again within a second of it returning (at most `max` connects a second).
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    // NOTICEs can carry row data raised by functions; they never reach a log.
    onnotice: () => {},
    connection: { application_name: 'atomic-crm-mcp' },
    socket: noDelaySocket(),
    types: {
      date: { to: 1184, from: [1082, 1083, 1114, 1184, 1266], serialize: (x: unknown) => String(x), parse: asText },
      bytea: { to: 17, from: [17], serialize: (x: unknown) => String(x), parse: asText },
    },
  };
  // `socket` is a documented postgres.js option missing from its type definitions.
  return postgres(databaseUrl, options_ as postgres.Options<Record<string, postgres.PostgresType>>);
}

interface SocketOptions {
  host: string[];
  port: number[];
  path?: string | false;
}

/**
 * TCP sockets with Nagle's algorithm off. postgres.js leaves it on. A pipeline leaves in one socket
 * write (patches/postgres+3.4.9.patch), but on a real network that write is several TCP segments,
 * and Nagle holds the last, partial one until the database acknowledges the others: the pipelined
 * transaction would silently cost two network round trips instead of one. Connecting ourselves is
 * the only way postgres.js offers to set TCP_NODELAY. Hosts are tried in turn as
 * postgres.js does (a multi-host URL rotates on each new connection); TLS still wraps this socket.
 *
 * The socket is handed over while still connecting (writes wait in it until it is connected), so
 * a refused or failed connect reaches postgres.js as the socket's own error and close events and
 * its pool reconnects later. Rejecting instead would leave that pool slot marked as connecting
 * forever: postgres.js never retries a connection whose socket factory failed. Its own
 * connect_timeout bounds a connect that hangs.
 */
function noDelaySocket(): (options: SocketOptions) => net.Socket {
  let next = 0;
  return (options) => {
    const i = next++ % Math.max(1, options.port.length);
    const socket = options.path
      ? net.connect(options.path)
      : net.connect({ host: options.host[i] ?? options.host[0], port: options.port[i] ?? options.port[0]! });
    // A connect that fails at once (out of file descriptors: EMFILE) emits 'error' on the next
    // tick, before postgres.js has awaited this factory and added its own listener; an 'error'
    // with no listener ends the process. postgres.js still learns of the dead socket: writing its
    // start-up message to it fails under its listener, and connect_timeout bounds the rest.
    socket.on('error', () => {});
    // Set again once connected: not every runtime keeps a setting made before the handle exists.
    socket.setNoDelay(true);
    socket.once('connect', () => socket.setNoDelay(true));
    return socket;
  };
}
