/**
 * The doctor's verdicts for the server's `/readyz?details=1`: id, status and code only (no
 * hosts, roles or table names), at most one run per minute shared by concurrent callers, so an
 * anonymous caller cannot turn it into load. `npm run doctor` prints what each code means.
 *
 * @example
 *   const app = createApp({ …, doctorSummary: createDoctorSummary(config, sql) });
 */
import type { Config } from '../config.js';
import type { Sql } from '../db/pool.js';
import type { CheckStatus } from './index.js';

export interface DoctorSummary {
  checkedAt: string;
  ok: boolean;
  checks: { id: string; status: CheckStatus; code: string }[];
}

const CACHE_MS = 60_000;

export function createDoctorSummary(
  config: Pick<Config, 'supabaseUrl' | 'auth'>,
  sql: Sql,
): () => Promise<DoctorSummary> {
  let cached: { at: number; value: Promise<DoctorSummary> } | null = null;
  return () => {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
    // The doctor loads on the first request for details: a server that is never asked never holds it.
    const value = import('./index.js')
      .then(({ checkRunningServer }) => checkRunningServer(config, sql))
      .then((report) => ({
        checkedAt: new Date().toISOString(),
        ok: report.ok,
        checks: report.checks
          .filter((check) => check.status !== 'skip')
          .map(({ id, status, code }) => ({ id, status, code })),
      }))
      .catch(() => ({
        checkedAt: new Date().toISOString(),
        ok: false,
        checks: [{ id: 'doctor', status: 'fail' as const, code: 'DOCTOR_FAILED' }],
      }));
    cached = { at: Date.now(), value };
    return value;
  };
}
