/**
 * One user cannot starve the rest. Through the real HTTP endpoint, a greedy user fires 20
 * concurrent slow (allowed) statements while 4 other users run short queries; the pool has 4
 * connections, so without a per-user cap the greedy user takes all of them. Asserted on codes and
 * on ordering measured in the same run, never on absolute timings: the others get no error and
 * each of their calls finishes faster than one of the greedy statements; the greedy user's excess
 * is refused at once with USER_BUSY. A user whose statements run long is held to one at a time
 * (DB_USER_HEAVY_MS), counted in pg_stat_activity. Also: overload as a whole is shed with 503 +
 * Retry-After.
 * Run: node --import tsx test/run.ts test/faults/fairness.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startStack, text, type Stack } from '../support/stack.js';

/** A few hundred ms of CPU in PostgreSQL, allowed by the statement policy. */
const SLOW = 'select count(*)::int as n from generate_series(1, 4000) a, generate_series(1, 1000) b';
const QUICK = 'select count(*)::int as n from contacts';
const GREEDY_CALLS = 20;
const NORMAL_CALLS = 6;

let stack: Stack;
let greedy: Client;
let normal: Client[];

before(async () => {
  // Pool of 4: the default cap is then 1 statement per user.
  stack = await startStack({ env: { DB_POOL_SIZE: '4', STATEMENT_TIMEOUT_MS: '30000', DB_POOL_WAIT_MS: '20000' } });
  const users = stack.users.all.filter((u) => !u.disabled);
  greedy = await stack.connect(users[0]!);
  normal = await Promise.all(users.slice(1, 5).map((u) => stack.connect(u)));
});
after(async () => {
  await stack?.stop();
});

async function timed(client: Client, sql: string): Promise<{ ms: number; code: string }> {
  const started = performance.now();
  const result = (await client.callTool({ name: 'query', arguments: { sql } }, undefined, {
    timeout: 60_000,
  })) as CallToolResult;
  return { ms: performance.now() - started, code: result.isError ? String(JSON.parse(text(result)).error.code) : 'ok' };
}

async function normalUsers(): Promise<{ ms: number; code: string }[]> {
  const runs = await Promise.all(
    normal.map(async (client) => {
      const out = [];
      for (let i = 0; i < NORMAL_CALLS; i++) out.push(await timed(client, QUICK));
      return out;
    }),
  );
  return runs.flat();
}

const p = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

test('a greedy user with 20 concurrent slow statements does not starve 4 other users', async () => {
  await normalUsers(); // warm-up: connections opened
  const baseline = await normalUsers();
  const greedyCalls = Promise.all(Array.from({ length: GREEDY_CALLS }, () => timed(greedy, SLOW)));
  await new Promise((r) => setTimeout(r, 50));
  const contended = await normalUsers();
  const greedyResults = await greedyCalls;

  const ms = (xs: { ms: number }[]) => xs.map((x) => Math.round(x.ms));
  const greedyOk = greedyResults.filter((r) => r.code === 'ok');
  console.log(
    JSON.stringify({
      baseline: { p50: p(ms(baseline), 0.5), p95: p(ms(baseline), 0.95) },
      withGreedy: { p50: p(ms(contended), 0.5), p95: p(ms(contended), 0.95) },
      greedy: {
        ok: greedyOk.length,
        userBusy: greedyResults.filter((r) => r.code === 'USER_BUSY').length,
        slowStatementMs: p(ms(greedyOk), 0.5),
      },
    }),
  );

  assert.deepEqual([...new Set(contended.map((r) => r.code))], ['ok'], 'the other users get no error');
  assert.ok(
    greedyResults.every((r) => r.code === 'ok' || r.code === 'USER_BUSY'),
    JSON.stringify(greedyResults),
  );
  assert.ok(
    greedyResults.some((r) => r.code === 'USER_BUSY'),
    'the greedy excess is refused with USER_BUSY',
  );
  assert.ok(greedyOk.length >= 1, 'the greedy user still gets its share');
  // Without the cap the others wait for a greedy statement to free a connection; with it they never do.
  assert.ok(p(ms(contended), 0.95) < p(ms(greedyOk), 0.5), 'the others never wait for a greedy statement to finish');
});

test('USER_BUSY says what the limit is and when to retry', async () => {
  // Cap 1: one runs, four wait, the rest are refused at once.
  const results = await Promise.all(
    Array.from({ length: 8 }, () => greedy.callTool({ name: 'query', arguments: { sql: SLOW } })),
  );
  const busy = results.find((r) => r.isError);
  assert.ok(busy, 'a burst over the cap is refused');
  const error = JSON.parse(text(busy)).error;
  assert.equal(error.code, 'USER_BUSY');
  assert.equal(error.limit, 1);
  assert.equal(error.retryAfterSeconds, 1);
  assert.match(error.message, /DB_USER_CONCURRENCY/);
});

test('a user whose statements run long runs one at a time; a user with quick ones keeps the full cap', async () => {
  // Cap 3 by connections; statements averaging over 100 ms in the database (SLOW takes a few
  // hundred, QUICK a few) bring their user down to one at a time.
  const weighed = await startStack({
    env: {
      DB_POOL_SIZE: '8',
      DB_USER_CONCURRENCY: '3',
      DB_USER_HEAVY_MS: '100',
      STATEMENT_TIMEOUT_MS: '30000',
      DB_POOL_WAIT_MS: '20000',
    },
  });
  try {
    const users = weighed.users.all.filter((u) => !u.disabled);
    const heavy = await weighed.connect(users[0]!);
    const others = await Promise.all(users.slice(1, 4).map((u) => weighed.connect(u)));
    await timed(heavy, SLOW); // its cost is known once a statement has run

    // How many of the heavy user's statements PostgreSQL runs at once, sampled while the burst lasts.
    let running = true;
    let mostAtOnce = 0;
    const sampler = (async () => {
      while (running) {
        const [row] = await weighed.db.admin`select count(*)::int as n from pg_stat_activity
          where state = 'active' and query like '%generate_series(1, 4000)%' and pid <> pg_backend_pid()`;
        mostAtOnce = Math.max(mostAtOnce, row!.n as number);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const burst = Promise.all(
      Array.from({ length: 8 }, () => heavy.callTool({ name: 'query', arguments: { sql: SLOW } })),
    );
    // Meanwhile each other user fires 6 quick statements at once: 3 run, 3 wait, none is refused.
    const quickBursts = await Promise.all(
      others.map((client) => Promise.all(Array.from({ length: 6 }, () => timed(client, QUICK)))),
    );
    const results = await burst;
    running = false;
    await sampler;

    assert.deepEqual([...new Set(quickBursts.flat().map((r) => r.code))], ['ok'], 'quick users are never refused');
    assert.equal(mostAtOnce, 1, 'the heavy user runs one statement at a time');
    const refused = results.filter((r) => r.isError).map((r) => JSON.parse(text(r)).error);
    // One runs, four (4 × its cap of 1) wait, three are refused at once.
    assert.equal(refused.length, 3, JSON.stringify(refused));
    for (const error of refused) {
      assert.equal(error.code, 'USER_BUSY');
      assert.equal(error.limit, 1);
      assert.ok(error.recentStatementMs > 100, JSON.stringify(error));
      assert.match(error.message, /one at a time/);
      assert.match(error.message, /DB_USER_HEAVY_MS/);
      assert.match(error.message, /cheaper/);
    }
  } finally {
    await weighed.stop();
  }
});

test('past MAX_IN_FLIGHT requests, new ones get 503 with Retry-After at once', async () => {
  const small = await startStack({ env: { DB_POOL_SIZE: '4', MAX_IN_FLIGHT: '2', STATEMENT_TIMEOUT_MS: '30000' } });
  try {
    const users = small.users.all.filter((u) => !u.disabled);
    const clients = await Promise.all(users.slice(0, 2).map((u) => small.connect(u)));
    const slow = clients.map((c) => c.callTool({ name: 'query', arguments: { sql: SLOW } }));
    // Both admitted (on a busy machine a fixed pause may not be enough).
    for (const until = performance.now() + 20_000; small.server.inFlight() < 2 && performance.now() < until; )
      await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    const shed = await fetch(small.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const shedMs = performance.now() - started;
    await Promise.all(slow);
    assert.equal(shed.status, 503);
    assert.equal(shed.headers.get('Retry-After'), '1');
    assert.match((await shed.json()).error_description, /MAX_IN_FLIGHT/);
    assert.equal((await fetch(`${small.baseUrl}/healthz`)).status, 200);
    const afterwards = await clients[0]!.callTool({ name: 'query', arguments: { sql: 'select 1 as one' } });
    assert.equal(afterwards.isError, undefined, 'served again once the load is gone');
    assert.ok(shedMs < 1_000);
  } finally {
    await small.stop();
  }
});

test('while the event loop runs late (the process short of CPU), new requests get 503 with Retry-After at once', async () => {
  const small = await startStack({ env: { MAX_EVENT_LOOP_LAG_MS: '200' } });
  try {
    const client = await small.connect(small.users.alice);
    const post = () =>
      fetch(small.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    // Busy for 300 ms at a time, again and again: every tick of the server's watch fires late.
    const busy = setInterval(() => {
      const until = performance.now() + 300;
      while (performance.now() < until);
    }, 5);
    let shed: Response | undefined;
    try {
      for (let i = 0; i < 20 && shed?.status !== 503; i++) shed = await post();
    } finally {
      clearInterval(busy);
    }
    assert.equal(shed?.status, 503, 'shed while the loop runs late');
    assert.equal(shed.headers.get('Retry-After'), '1');
    assert.match((await shed.json()).error_description, /MAX_EVENT_LOOP_LAG_MS/);
    // A few on-time ticks, then one long task alone: a stall, not overload, so nothing is shed for it.
    await new Promise((r) => setTimeout(r, 400));
    const until = performance.now() + 600;
    while (performance.now() < until);
    const served = await client.callTool({ name: 'query', arguments: { sql: 'select 1 as one' } });
    assert.equal(served.isError, undefined, 'served right after a single stall');
  } finally {
    await small.stop();
  }
});
