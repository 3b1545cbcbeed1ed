/**
 * PostgreSQL restarts under a steady load of 4 clients, each writing then reading in a loop through
 * the real HTTP endpoint of a server process. While it is down calls fail fast with a stable code
 * and /readyz says 503; once it is back the next calls succeed with no restart of the server; no
 * call hangs and no write reported committed is missing afterwards.
 * Its own embedded PostgreSQL (dev/postgres.ts) so stopping it touches no other test.
 * Run: node --import tsx test/run.ts test/faults/restart.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import postgres from 'postgres';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { createLoginRole } from '../../dev/login-role.js';
import { freePort } from '../../dev/ports.js';
import { startPostgres, type RunningPostgres } from '../../dev/postgres.js';
import { applySchema, DEMO_USERS, seed } from '../../dev/seed.js';
import { asMintUser, connectWithToken, text } from '../support/stack.js';
import { startServerProcess, type ServerProcess } from '../support/runtimes.js';

const CLIENTS = 4;
const DOWN_MS = 3_000;
/** Far above any answer the server should give (fail fast, outcome checks ≤ 3 s), far below a hang. */
const HUNG_MS = 15_000;
/** The role script refuses passwords under 16 characters. */
const RESTART_PASSWORD = 'restart-test-login-password';

const dataDir = mkdtempSync(path.join(tmpdir(), 'restart-pg-'));
let pg: RunningPostgres;
let port: number;
let admin: postgres.Sql;
let auth: RunningAuthServer;
let server: ServerProcess;

before(async () => {
  port = await freePort();
  pg = await startPostgres({ dataDir, port });
  admin = postgres(pg.adminUrl, { max: 2, onnotice: () => {}, idle_timeout: 1 });
  await applySchema(admin);
  await seed(admin);
  await createLoginRole(admin, 'mcp_login', RESTART_PASSWORD);
  auth = await startAuthServer({ sql: admin });
  server = await startServerProcess('node', {
    SUPABASE_URL: auth.projectUrl,
    DATABASE_URL: pg.urlFor('mcp_login', RESTART_PASSWORD, 'postgres'),
    DB_POOL_SIZE: '4',
  });
});
after(async () => {
  server?.kill();
  await auth?.stop();
  await admin?.end({ timeout: 1 });
  await pg?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Call {
  client: number;
  at: number;
  ms: number;
  tool: 'mutate' | 'query';
  code: string;
  name?: string;
}

test(`PostgreSQL stopped and started under ${CLIENTS} clients: fast failures, recovery, no hung call, no lost committed write`, async () => {
  const clients: Client[] = await Promise.all(
    DEMO_USERS.filter((u) => !u.disabled)
      .slice(0, CLIENTS)
      .map(async (u) => connectWithToken(`${server.baseUrl}/mcp`, await auth.mintAccessToken(asMintUser(u)))),
  );
  const calls: Call[] = [];
  const t0 = performance.now();
  let running = true;
  const timed = async (client: number, tool: Call['tool'], sql: string, name?: string) => {
    const at = performance.now() - t0;
    const result = (await clients[client]!.callTool({ name: tool, arguments: { sql } }, undefined, {
      timeout: HUNG_MS,
    })) as CallToolResult;
    const code = result.isError ? String(JSON.parse(text(result)).error.code) : 'ok';
    calls.push({ client, at, ms: performance.now() - at - t0, tool, code, ...(name ? { name } : {}) });
  };
  const loops = clients.map(async (_, c) => {
    for (let n = 0; running; n++) {
      const name = `load-${c}-${n}`;
      await timed(c, 'mutate', `insert into tags (name, color) values ('${name}', '#000000') returning name`, name);
      await timed(c, 'query', 'select count(*)::int as n from tags');
    }
  });

  await new Promise((r) => setTimeout(r, 1_500));
  const stoppedAt = performance.now() - t0;
  await pg.stop();
  await new Promise((r) => setTimeout(r, 500));
  const readyWhileDown = await fetch(`${server.baseUrl}/readyz`);
  const readyBody = await readyWhileDown.json();
  await new Promise((r) => setTimeout(r, DOWN_MS - 500));
  pg = await startPostgres({ dataDir, port });
  const startedAt = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 3_000));
  running = false;
  await Promise.all(loops);
  const readyAfter = await fetch(`${server.baseUrl}/readyz`);
  await Promise.all(clients.map((c) => c.close()));

  const byCode: Record<string, number> = {};
  for (const call of calls) byCode[call.code] = (byCode[call.code] ?? 0) + 1;
  const longest = Math.max(...calls.map((c) => c.ms));
  await admin.end({ timeout: 1 });
  admin = postgres(pg.adminUrl, { max: 2, onnotice: () => {}, idle_timeout: 1 });
  const present = new Set(
    (await admin<{ name: string }[]>`select name from tags where name like 'load-%'`).map((r) => r.name),
  );
  const committed = calls.filter((c) => c.tool === 'mutate' && c.code === 'ok');
  const lost = committed.filter((c) => !present.has(c.name!));
  const before = committed.filter((c) => c.at < stoppedAt).length;
  const afterRestart = committed.filter((c) => c.at > startedAt).length;
  console.log(
    JSON.stringify({
      calls: calls.length,
      byCode,
      longestMs: Math.round(longest),
      committedBefore: before,
      committedAfter: afterRestart,
      lost: lost.length,
      readyWhileDown: readyWhileDown.status,
    }),
  );

  assert.equal(server.child.exitCode, null, 'the server process lives');
  assert.equal(readyWhileDown.status, 503, JSON.stringify(readyBody));
  assert.equal((readyBody as { checks: { database: string } }).checks.database, 'unreachable');
  assert.equal(readyAfter.status, 200, 'ready again once PostgreSQL is back, without a server restart');
  assert.deepEqual(
    lost.map((c) => c.name),
    [],
    'no write reported committed is missing',
  );
  assert.ok(longest < HUNG_MS, `no hung call (longest ${Math.round(longest)} ms)`);
  for (const code of Object.keys(byCode)) {
    assert.match(code, /^(ok|DATABASE_UNAVAILABLE|WRITE_IN_DOUBT|WRITE_ROLLED_BACK)$/, `unexpected code ${code}`);
  }
  assert.ok((byCode.DATABASE_UNAVAILABLE ?? 0) > 0, 'calls during the outage failed as DATABASE_UNAVAILABLE');
  // While it is down, a call fails fast: well under the statement timeout (8 s by default); the
  // time is a reconnect attempt (at most 1 s apart) plus the wait for one of the 4 pool slots.
  const down = calls.filter(
    (c) => c.at > stoppedAt + 500 && c.at + c.ms < startedAt && c.code === 'DATABASE_UNAVAILABLE',
  );
  assert.ok(
    down.length > 0 && down.every((c) => c.ms < 4_000),
    `fast failures while down: ${down.map((c) => Math.round(c.ms)).join(', ')}`,
  );
  // Back: every client's calls succeed again, none on a poisoned connection.
  const tail = calls.filter((c) => c.at > startedAt + 1_500);
  assert.ok(tail.length >= CLIENTS, 'calls ran after the restart');
  assert.deepEqual(
    tail.filter((c) => c.code !== 'ok').map((c) => `${c.tool} ${c.code}`),
    [],
  );
  assert.ok(afterRestart > 0 && before > 0);
});
