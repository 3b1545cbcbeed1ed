/**
 * Horizontal scaling without sticky sessions: two server processes started the same way with the
 * same environment (as two replicas behind a load balancer), one MCP client whose requests
 * alternate between them. Every call must succeed, and losing a replica loses nothing.
 * Run: node --import tsx test/run.ts test/deploy/stateless.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { DEMO_USERS } from '../../dev/seed.js';
import { asMintUser, connectModern, rows, text } from '../support/stack.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerProcess, type ServerProcess } from '../support/runtimes.js';
import { TOOL_NAMES } from '../support/tool-names.js';

/** The public URL both replicas advertise, as behind one load balancer. */
const PUBLIC_URL = 'http://mcp.lb.test';

let db: TestDatabase;
let auth: RunningAuthServer;
const replicas: ServerProcess[] = [];

async function startReplica(): Promise<ServerProcess> {
  const replica = await startServerProcess('node', {
    SUPABASE_URL: auth.projectUrl,
    DATABASE_URL: db.loginUrl,
    MCP_SERVER_URL: PUBLIC_URL,
    LOG_LEVEL: 'warn',
  });
  replicas.push(replica);
  return replica;
}

before(async () => {
  db = await createTestDatabase('stateless');
  auth = await startAuthServer({ sql: db.admin });
});

after(async () => {
  for (const r of replicas) r.kill();
  await auth?.stop();
  await db?.drop();
});

test('two replicas, one client, requests alternate between them: every call succeeds', async () => {
  const [a, b] = await Promise.all([startReplica(), startReplica()]);
  const backends = [a!.baseUrl, b!.baseUrl];
  let live = [...backends];
  let next = 0;
  const served: string[] = [];
  // The "load balancer": round robin over the live replicas, no affinity of any kind.
  const balance: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const backend = live[next++ % live.length]!;
    served.push(backend);
    return fetch(`${backend}${url.pathname}${url.search}`, init);
  };
  const token = await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!));
  const client = new Client({ name: 'lb-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${PUBLIC_URL}/mcp`), {
      fetch: balance,
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  assert.equal(client.getServerVersion()?.name, 'atomic-crm-mcp');

  const tools = await client.listTools();
  assert.deepEqual(tools.tools.map((t) => t.name).sort(), TOOL_NAMES);

  for (let i = 1; i <= 10; i++) {
    const result = await client.callTool({
      name: 'query',
      arguments: { sql: `select ${i} as i, count(*)::int as n from companies` },
    });
    assert.deepEqual(rows(result), [{ i, n: 55 }]);
  }
  // A write on one replica is seen by a read on the other: state lives in the database only.
  const write = await client.callTool({
    name: 'mutate',
    arguments: { sql: "update companies set city = 'Replicaville' where id = 3 returning id" },
  });
  assert.deepEqual(rows(write), [{ id: 3 }]);
  const read = await client.callTool({ name: 'query', arguments: { sql: 'select city from companies where id = 3' } });
  assert.deepEqual(rows(read), [{ city: 'Replicaville' }]);

  assert.ok(served.filter((s) => s === backends[0]).length >= 6, `replica A served ${served.length}`);
  assert.ok(served.filter((s) => s === backends[1]).length >= 6, `replica B served ${served.length}`);

  // Losing a replica mid-conversation loses nothing: no session lived on it.
  a!.child.kill('SIGTERM');
  assert.deepEqual(await a!.exited, { code: 0, signal: null }, a!.output());
  live = [backends[1]!];
  const after = await client.callTool({ name: 'query', arguments: { sql: 'select 1 as still_here' } });
  assert.deepEqual(rows(after), [{ still_here: 1 }]);

  await client.close();
  b!.child.kill('SIGTERM');
  assert.deepEqual(await b!.exited, { code: 0, signal: null }, b!.output());
});

test('a write confirmation asked by one replica is finished by the other', async () => {
  const [a, b] = await Promise.all([startReplica(), startReplica()]);
  const backends = [a!.baseUrl, b!.baseUrl];
  let next = 0;
  const calls: string[] = [];
  const balance: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const backend = backends[next++ % backends.length]!;
    if (String(init?.body ?? '').includes('"tools/call"')) calls.push(backend);
    return fetch(`${backend}${url.pathname}${url.search}`, init);
  };
  const token = await auth.mintAccessToken(asMintUser(DEMO_USERS[1]!));
  const client = await connectModern(`${PUBLIC_URL}/mcp`, token, {
    fetch: balance,
    capabilities: { elicitation: { form: {} } },
  });
  client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { confirm: true } }));
  const [{ id }] = (await db.admin`select id from sales where user_id = ${DEMO_USERS[1]!.id}`) as unknown as [
    { id: number },
  ];
  await db.admin`insert into private_notes (text, sales_id) select 'replica note ' || g, ${id} from generate_series(1, 3) g`;
  const sql = "delete from private_notes where text like 'replica note%'";
  const n = 3;
  const result = await client.callTool({ name: 'mutate', arguments: { sql } });
  assert.match(text(result), new RegExp(`^DELETE: ${n} rows? affected`));
  assert.equal(calls.length, 2, 'the question and the answer');
  assert.notEqual(calls[0], calls[1], 'answered on the other replica');
  const [{ left }] =
    (await db.admin`select count(*)::int as left from private_notes where text like 'replica note%'`) as unknown as [
      { left: number },
    ];
  assert.equal(left, 0);
  await client.close();
  for (const r of [a!, b!]) {
    r.child.kill('SIGTERM');
    await r.exited;
  }
});
