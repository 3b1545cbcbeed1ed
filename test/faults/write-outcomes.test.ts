/**
 * A write's outcome is never reported wrongly when the connection dies around its COMMIT. Through
 * the real HTTP endpoint, 200 `mutate` calls each meet one fault from the fault-injection proxy
 * (bench/proxy.ts) between the server and PostgreSQL; then the database is asked what really
 * happened. Every answer must be one of: success and the row present; WRITE_ROLLED_BACK and the
 * row absent; WRITE_IN_DOUBT (either). Zero wrong reports.
 * Run: node --import tsx test/run.ts test/faults/write-outcomes.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startDelayProxy, type DelayProxy } from '../../bench/proxy.js';
import { testEnvironment } from '../support/database.js';
import { COMMIT_PARSE, commandComplete, via } from '../support/faults.js';
import { rows, startStack, text, toolError, type Stack } from '../support/stack.js';

const WRITES = Number(process.env.FAULT_WRITES ?? 200);

let proxy: DelayProxy;
let stack: Stack;
let client: Client;

before(async () => {
  proxy = await startDelayProxy({ targetPort: Number(new URL(testEnvironment().adminUrl).port) });
  stack = await startStack({ env: { DB_POOL_SIZE: '4' }, databaseUrl: (url) => via(url, proxy) });
  client = await stack.connect(stack.users.alice);
});
after(async () => {
  await stack?.stop();
  await proxy?.close();
});

type Fault = { name: string; inject(): void };
const FAULTS: Fault[] = [
  // COMMIT ran; every answer before its own reached the server: it knows its xid, asks, "committed".
  { name: 'cut before COMMIT reply', inject: () => proxy.faults.cutBeforeReply(commandComplete('COMMIT')) },
  // COMMIT ran, but the statement's own answer was lost too: committed, rows unknown.
  { name: 'cut before the statement reply', inject: () => proxy.faults.cutBeforeReply(commandComplete('INSERT 0 1')) },
  // COMMIT never arrived and PostgreSQL hears nothing (a dead network path): the session sits in
  // its transaction until the server ends it, which rolls it back.
  { name: 'partition before COMMIT', inject: () => proxy.faults.partitionAt(COMMIT_PARSE, { holdMs: 100 }) },
  // COMMIT delivered, then the client cut before any answer: no xid reached the server.
  { name: 'cut after COMMIT sent', inject: () => proxy.faults.cutAfter(COMMIT_PARSE) },
  // The write holding COMMIT dropped with the client cut: it is the whole pipeline (one write), so
  // nothing ran and no answer came back.
  { name: 'pipeline dropped', inject: () => proxy.faults.cutAfter(COMMIT_PARSE, { deliver: false }) },
  // Everything ahead of COMMIT delivered and run, COMMIT lost, the client cut before any answer: the
  // statement ran but PostgreSQL rolls it back when the session ends; the server never saw its xid.
  { name: 'COMMIT lost', inject: () => proxy.faults.cutAfter(COMMIT_PARSE, { deliver: 'before' }) },
];

test(`${WRITES} writes, each with a fault around COMMIT: zero wrong reports, checked against the database`, async () => {
  const reports: {
    name: string;
    fault: string;
    answer: 'committed' | 'rolled back' | 'in doubt';
    result: CallToolResult;
  }[] = [];
  for (let i = 0; i < WRITES; i++) {
    const fault = FAULTS[i % FAULTS.length]!;
    const name = `fault-${i}`;
    fault.inject();
    const result = (await client.callTool({
      name: 'mutate',
      arguments: { sql: `insert into tags (name, color) values ('${name}', '#000000') returning name` },
    })) as CallToolResult;
    const answer = !result.isError
      ? 'committed'
      : toolError(result).code === 'WRITE_ROLLED_BACK'
        ? 'rolled back'
        : 'in doubt';
    if (result.isError) assert.match(toolError(result).code, /^WRITE_(ROLLED_BACK|IN_DOUBT)$/, text(result));
    reports.push({ name, fault: fault.name, answer, result });
  }
  assert.equal(proxy.faults.cutCount(), WRITES, 'every write met its fault');
  proxy.faults.cutAll();

  const present = new Set(
    (await stack.db.admin<{ name: string }[]>`select name from tags where name like 'fault-%'`).map((r) => r.name),
  );
  const wrong = reports.filter(
    (r) => (r.answer === 'committed' && !present.has(r.name)) || (r.answer === 'rolled back' && present.has(r.name)),
  );
  const tally: Record<string, Record<string, number>> = {};
  for (const r of reports) {
    const row = (tally[r.fault] ??= {});
    const key = `${r.answer}${present.has(r.name) ? ' (present)' : ' (absent)'}`;
    row[key] = (row[key] ?? 0) + 1;
  }
  console.log(JSON.stringify(tally, null, 1));
  assert.deepEqual(
    wrong.map((r) => `${r.name} (${r.fault}): ${r.answer}`),
    [],
    'wrong reports',
  );

  // The answers say what the agent needs: committed rows (or why they are missing), the xid to check.
  const committedWithRows = reports.find((r) => r.fault === 'cut before COMMIT reply' && r.answer === 'committed');
  assert.ok(committedWithRows, 'a write whose COMMIT reply was lost is reported committed');
  assert.deepEqual(rows(committedWithRows.result), [{ name: committedWithRows.name }]);
  const committedBlind = reports.find((r) => r.fault === 'cut before the statement reply' && r.answer === 'committed');
  assert.ok(committedBlind, 'a write whose result was lost is still reported committed');
  assert.match(text(committedBlind.result), /could not be read/);
  const rolledBack = reports.find((r) => r.answer === 'rolled back');
  assert.ok(rolledBack, 'a partition before COMMIT is resolved as rolled back');
  assert.match(String(toolError(rolledBack.result).xid), /^\d+$/);
  const doubt = reports.find((r) => r.answer === 'in doubt');
  if (doubt) assert.match(toolError(doubt.result).message, /before running it again/i);
  // The check an in-doubt answer offers runs through the query tool and answers.
  const check = `select pg_xact_status('${toolError(rolledBack.result).xid}'::xid8) as status`;
  assert.deepEqual(rows(await client.callTool({ name: 'query', arguments: { sql: check } })), [{ status: 'aborted' }]);

  // No poisoned connection left behind: the next writes succeed.
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(
      rows(
        await client.callTool({
          name: 'mutate',
          arguments: { sql: `insert into tags (name, color) values ('after-${i}', '#000000') returning name` },
        }),
      ),
      [{ name: `after-${i}` }],
    );
  }
});
