/**
 * Known values at the tool level: the user's effective CRM configuration, read as the user and
 * cached for a few seconds, and how an unknown value reaches the agent (a refused write, a notice
 * beside a read's rows).
 */
import type { Principal } from '../auth/verify.js';
import { ATOMIC_CRM_DEFAULTS, effectiveConfiguration, type CrmConfiguration } from '../crm/configuration.js';
import type { UnknownValue, ValueUse } from '../crm/known-values.js';
import { TtlCache } from '../crm/ttl-cache.js';
import { EXTENDED, type Sql } from '../db/pool.js';
import { asUser, DbError, type Limits } from '../db/run.js';
import { errorResult } from './results.js';
import type { ToolOutcome } from './tools/tool.js';

/**
 * Short enough that an administrator's change of the lists reaches agents within a minute (the web
 * app itself keeps the configuration fresh for five), long enough that an agent's session of
 * writes reads the row about once: each read is a database round trip of its own.
 */
export const CONFIGURATION_TTL_MS = 60_000;
const MAX_CACHED_USERS = 1_000;

/** One cache per pool: per database, then per user (RLS may show users different rows). */
const caches = new WeakMap<Sql, TtlCache<CrmConfiguration>>();

function cacheOf(sql: Sql): TtlCache<CrmConfiguration> {
  let cache = caches.get(sql);
  if (!cache) caches.set(sql, (cache = new TtlCache(CONFIGURATION_TTL_MS, MAX_CACHED_USERS)));
  return cache;
}

/**
 * The configuration a read's notice is judged against, without a database round trip in the
 * common case: the cached one, else (when every literal is one of Atomic CRM's defaults, the
 * usual read) none at all; only a literal outside the defaults is worth reading the row for.
 */
export function configurationForFilters(
  deps: { sql: Sql; limits: Limits },
  principal: Principal,
  signal: AbortSignal,
  filters: readonly ValueUse[],
): Promise<CrmConfiguration> | null {
  const cached = cacheOf(deps.sql).peek(principal.sub);
  if (cached) return cached;
  if (filters.every((f) => ATOMIC_CRM_DEFAULTS[f.list].includes(f.value))) return null;
  return configurationFor(deps, principal, signal);
}

export function configurationFor(
  deps: { sql: Sql; limits: Limits },
  principal: Principal,
  signal: AbortSignal,
): Promise<CrmConfiguration> {
  return cacheOf(deps.sql).get(principal.sub, async () => {
    try {
      const rows = await asUser(deps.sql, principal, { access: 'read', limits: deps.limits, signal }, (c) =>
        c.unsafe('select config from public.configuration where id = 1', [], EXTENDED),
      );
      return effectiveConfiguration(rows[0]?.config ?? null);
    } catch (error) {
      // A database without Atomic CRM's configuration table runs on the app's defaults.
      if (error instanceof DbError && error.pg?.sqlstate === '42P01') return effectiveConfiguration(null);
      throw error;
    }
  });
}

const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** A write storing a value the web app does not know: refused before anything runs. */
export function unknownValueOutcome(unknown: UnknownValue[]): ToolOutcome {
  const [first] = unknown as [UnknownValue];
  const others =
    unknown.length > 1 ? ` (and ${unknown.length - 1} more unknown value${unknown.length > 2 ? 's' : ''})` : '';
  return {
    result: errorResult({
      code: 'UNKNOWN_VALUE',
      message:
        `${first.table}.${first.column} cannot be '${first.value}'${others}: the web app only knows the configured ` +
        `${first.list} (${quoted(first.allowed)}) and would not show such a row. Did you mean '${first.nearest}'? Nothing was changed.`,
      table: first.table,
      column: first.column,
      value: first.value,
      allowed: first.allowed,
      nearest: first.nearest,
      position: first.position,
    }),
    outcome: 'UNKNOWN_VALUE',
  };
}

/** A read comparing a column with a value no row can hold in the app: said beside the rows. */
export function unknownFilterNotices(unknown: UnknownValue[]): string[] {
  return unknown.map(
    (u) =>
      `Notice: ${u.table}.${u.column} is compared with '${u.value}', which is not one of the configured ${u.list} ` +
      `(${quoted(u.allowed)}); nearest: '${u.nearest}'.`,
  );
}
