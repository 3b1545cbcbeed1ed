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
  const options_: postgres.Options<Record<string, postgres.PostgresType>> & { socket: ReturnType<typeof noDelaySocket> } = {
    max: options.max ?? 10,
    // Named prepared statements break behind transaction-mode poolers (Supavisor :6543, PgBouncer),
    // and every statement here is either ours (tiny) or the agent's (seen once): never prepare.
    prepare: false,
    connect_timeout: 10,
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
  connect_timeout?: number;
}

/**
 * TCP sockets with Nagle's algorithm off. postgres.js leaves it on, and it writes a pipeline in
 * several socket writes (it flushes whenever its buffer passes 1 KiB, which the claims alone can
 * do): Nagle then holds every write after the first until the server acknowledges the first, i.e.
 * the pipelined transaction silently costs two network round trips instead of one. Connecting
 * ourselves is the only way postgres.js offers to set TCP_NODELAY. Hosts are tried in turn as
 * postgres.js does (a multi-host URL rotates on each new connection); TLS still wraps this socket.
 */
function noDelaySocket(): (options: SocketOptions) => Promise<net.Socket> {
  let next = 0;
  return (options) =>
    new Promise((resolve, reject) => {
      const i = next++ % Math.max(1, options.port.length);
      const socket = options.path
        ? net.connect(options.path)
        : net.connect({ host: options.host[i] ?? options.host[0], port: options.port[i] ?? options.port[0]! });
      socket.setNoDelay(true);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(Object.assign(new Error(`connect timeout after ${options.connect_timeout} s`), { code: 'CONNECT_TIMEOUT' })),
        (options.connect_timeout ?? 30) * 1000,
      );
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', fail);
        resolve(socket);
      });
    });
}
