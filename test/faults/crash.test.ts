/**
 * Network faults between the server and PostgreSQL must never kill the server process, on every
 * runtime as users start it. A fault-injection proxy (bench/proxy.ts) sits between them and cuts a
 * connection right after COMMIT left (before its answer), cuts every connection at once, and
 * refuses connects for a while; a flood of connections also takes the process past its file
 * descriptor limit. After each fault the process is still alive and the next call through the real
 * HTTP endpoint succeeds.
 * Run: node --import tsx test/run.ts test/faults/crash.test.ts
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { DEMO_USERS } from '../../dev/seed.js';
import { childrenOf } from '../../bench/bench.js';
import { startDelayProxy, type DelayProxy } from '../../bench/proxy.js';
import { asMintUser, connectWithToken, rows, text } from '../support/stack.js';
import { RUNTIMES, startServerProcess, type ServerProcess } from '../support/runtimes.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { COMMIT_PARSE, via } from '../support/faults.js';

let db: TestDatabase;
let auth: RunningAuthServer;

before(async () => {
  db = await createTestDatabase('faults_crash');
  auth = await startAuthServer({ sql: db.admin });
});
after(async () => {
  await auth?.stop();
  await db?.drop();
});

for (const runtime of (process.env.FAULT_RUNTIMES?.split(',') ?? RUNTIMES) as typeof RUNTIMES) {
  describe(`faults on ${runtime}`, () => {
    let proxy: DelayProxy;
    let server: ServerProcess;
    let client: Client;
    before(async () => {
      proxy = await startDelayProxy({ targetPort: Number(new URL(db.loginUrl).port) });
      server = await startServerProcess(runtime, {
        SUPABASE_URL: auth.projectUrl,
        DATABASE_URL: via(db.loginUrl, proxy),
        DB_POOL_SIZE: '3',
      });
      client = await connectWithToken(`${server.baseUrl}/mcp`, await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!)));
    });
    after(async () => {
      await client?.close().catch(() => {});
      server?.kill();
      await proxy?.close();
    });

    /** A tool call; a transport failure (the server gone) fails with what the server printed. */
    const call = (name: string, sql: string) =>
      client.callTool({ name, arguments: { sql } }).catch((error: Error) => {
        throw new Error(
          `${error.message}; exit ${server.child.exitCode}; the ${runtime} server printed:\n${server.output().slice(-3000)}`,
        );
      });
    const alive = () =>
      assert.equal(server.child.exitCode, null, `the ${runtime} server died:\n${server.output().slice(-3000)}`);
    const nextCallSucceeds = async () => {
      const result = rows(await call('query', 'select count(*)::int as n from tags'));
      assert.equal(typeof result[0]!.n, 'number');
    };
    /** Gives a crash scheduled for a later tick (a setImmediate) time to happen. */
    const settle = () => new Promise((r) => setTimeout(r, 300));

    test('a connection cut right after COMMIT left, again and again: the process lives and the next call succeeds', async () => {
      for (let i = 0; i < 5; i++) {
        proxy.faults.cutAfter(COMMIT_PARSE);
        const cut = proxy.faults.cutCount();
        const result = await call('mutate', `insert into tags (name, color) values ('cut-${runtime}-${i}', '#000000')`);
        assert.equal(proxy.faults.cutCount(), cut + 1, 'the proxy cut the call');
        // The COMMIT reached PostgreSQL and committed, but its answer never came back: reported
        // committed (the server asked PostgreSQL) or in doubt, never "try again".
        // Success reads as the plain answer when the statement's reply arrived before the cut, or as
        // PostgreSQL's confirmation of the commit when it did not; either way the row must be there.
        if (result.isError) assert.match(text(result), /WRITE_IN_DOUBT/);
        else assert.match(text(result), /INSERT: (1 row affected|committed)\./);
        const [row] = await db.admin`select count(*)::int as n from tags where name = ${`cut-${runtime}-${i}`}`;
        assert.equal(row!.n, result.isError ? row!.n : 1, `reported committed but absent: ${text(result)}`);
        await settle();
        alive();
        await nextCallSucceeds();
      }
    });

    test('every connection cut at once while calls run, then connects refused: the process lives and recovers', async () => {
      const calls = Array.from({ length: 6 }, (_, i) =>
        call('mutate', `insert into tags (name, color) values ('outage-${runtime}-${i}', '#000000')`),
      );
      await new Promise((r) => setTimeout(r, 5));
      await proxy.faults.refuse(true);
      proxy.faults.cutAll();
      const answered = await Promise.all(calls);
      assert.equal(answered.length, 6);
      const during = await call('query', 'select 1');
      assert.equal(during.isError, true, 'a call while the database is unreachable fails');
      await settle();
      alive();
      await proxy.faults.refuse(false);
      await nextCallSucceeds();
      alive();
    });

    test('out of file descriptors under a connection flood: the process lives and serves again once they close', async () => {
      // The server's limit set just above what it holds, then more connections than fit.
      const pids = processTree(server.child.pid!);
      const held = Math.max(...pids.map(openFiles));
      for (const pid of pids) execFileSync('prlimit', ['--pid', String(pid), `--nofile=${held + 40}:${held + 40}`]);
      const flood = Array.from({ length: 200 }, () => connect(server.port, '127.0.0.1').on('error', () => {}));
      await new Promise((r) => setTimeout(r, 1_500));
      for (const socket of flood) socket.destroy();
      await settle();
      alive();
      const deadline = Date.now() + 10_000;
      let health: number | string = 'no answer';
      while (Date.now() < deadline && health !== 200) {
        health = await fetch(`${server.baseUrl}/healthz`).then(
          (r) => r.status,
          (e: Error) => e.message,
        );
        if (health !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(
        health,
        200,
        `/healthz after the flood; the ${runtime} server printed:\n${server.output().slice(-3000)}`,
      );
      await nextCallSucceeds();
      alive();
    });
  });
}

/** The process and its descendants (`deno task` runs the server as its child). */
function processTree(root: number): number[] {
  return [root, ...childrenOf(root).flatMap(processTree)];
}

function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
