/**
 * The postgres.js pool every tool call borrows a connection from. Runtimes open it; the app only
 * receives it, so `src/` never decides how or where to connect.
 *
 * @example
 *   const sql = openPool(config.databaseUrl, { max: config.poolSize });
 */
import postgres from 'postgres';

export type Sql = postgres.Sql;

export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
}

/** Dates, times and bytea come back as PostgreSQL prints them: exact, and free of the host's time zone. */
const asText = (x: string) => x;

export function openPool(databaseUrl: string, options: PoolOptions = {}): Sql {
  return postgres(databaseUrl, {
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
    types: {
      date: { to: 1184, from: [1082, 1083, 1114, 1184, 1266], serialize: (x: unknown) => String(x), parse: asText },
      bytea: { to: 17, from: [17], serialize: (x: unknown) => String(x), parse: asText },
    },
  });
}
