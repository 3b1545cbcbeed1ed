/**
 * The benchmark's own world: a fresh embedded PostgreSQL with the Atomic CRM fixture, the seed and
 * the least-privilege login role; the local Supabase Auth stand-in; and helpers shared by the
 * benchmark and the round-trip tests (token minting, a free port, an HTTP request counter).
 */
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { startAuthServer, type RunningAuthServer } from '../dev/auth/server.js';
import { createLoginRole } from '../dev/login-role.js';
import { startPostgres } from '../dev/postgres.js';
import { applySchema, seed, DEMO_USERS, type DemoUser } from '../dev/seed.js';
import { freePort } from '../dev/ports.js';

export const LOGIN_ROLE = 'mcp_bench_login';
export const LOGIN_PASSWORD = 'bench-login-password';

export interface BenchDatabase {
  host: string;
  port: number;
  database: string;
  /** Superuser URL of the benchmark database. */
  adminUrl: string;
  loginRole: string;
  loginPassword: string;
  /** A URL for the login role on `host:port` (e.g. a proxy's). */
  loginUrlVia(host: string, port: number): string;
  admin: postgres.Sql;
  stop(): Promise<void>;
}

/** Starts PostgreSQL, loads supabase.sql + atomic-crm.sql, seeds, creates the login role. */
export async function startBenchDatabase(): Promise<BenchDatabase> {
  const pg = await startPostgres();
  try {
    const maintenance = postgres(pg.adminUrl, { max: 1, onnotice: () => {} });
    await maintenance`create database crm`;
    await maintenance.end({ timeout: 5 });
    const adminUrl = pg.urlFor('postgres', 'postgres', 'crm');
    const admin = postgres(adminUrl, { max: 4, onnotice: () => {} });
    await applySchema(admin);
    await seed(admin);
    await createLoginRole(admin, LOGIN_ROLE, LOGIN_PASSWORD);
    return {
      host: '127.0.0.1',
      port: pg.port,
      database: 'crm',
      adminUrl,
      loginRole: LOGIN_ROLE,
      loginPassword: LOGIN_PASSWORD,
      loginUrlVia: (host, port) =>
        `postgres://${encodeURIComponent(LOGIN_ROLE)}:${encodeURIComponent(LOGIN_PASSWORD)}@${host}:${port}/crm`,
      admin,
      async stop() {
        await admin.end({ timeout: 5 });
        await pg.stop();
      },
    };
  } catch (error) {
    await pg.stop();
    throw error;
  }
}

/** Demo users that can sign in (the disabled one cannot). */
export const ACTIVE_USERS: readonly DemoUser[] = DEMO_USERS.filter((u) => !u.disabled);

export interface CountingAuth {
  auth: RunningAuthServer;
  /** The project URL clients and the server use: the counter in front of the auth server. */
  projectUrl: string;
  /** Requests seen per path since start. */
  count(path: string): number;
  stop(): Promise<void>;
}

/**
 * The auth stand-in behind a small HTTP relay that counts requests per path, so a test can prove
 * how often the server fetches the JWKS. The stand-in advertises the relay's URL as its issuer.
 */
export async function startCountingAuth(sql: postgres.Sql): Promise<CountingAuth> {
  const counts = new Map<string, number>();
  const target = await freePort();
  const relay = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', () => resolve()));
  const projectUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const auth = await startAuthServer({ sql, issuerBase: projectUrl, port: target });
  return {
    auth,
    projectUrl,
    count: (path) => counts.get(path) ?? 0,
    async stop() {
      relay.closeAllConnections();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await auth.stop();
    },
  };
}
