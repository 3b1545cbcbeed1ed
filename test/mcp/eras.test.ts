/**
 * One endpoint, both protocol eras: a 2026-07-28 client (the v2 SDK, pinned and probing) and a
 * 2025-11-25 client (the 1.32 SDK) see the same tools; both get JSON answers; the 2026 headers
 * are checked against the body and allowed by CORS; a client that goes away cancels its statement.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectModern, rows, runningStatements, startStack, type Stack, until } from '../support/stack.js';
import { TOOL_NAMES } from '../support/tool-names.js';

let stack: Stack;
let token: string;
before(async () => {
  stack = await startStack({ env: { STATEMENT_TIMEOUT_MS: '20000' } });
  token = await stack.token(stack.users.alice);
});
after(async () => {
  await stack?.stop();
});

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A raw 2026-07-28 request, headers as the spec requires them unless `headers` overrides. */
function modern(
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) {
  const name: Record<string, string> = typeof params.name === 'string' ? { 'Mcp-Name': params.name } : {};
  return fetch(stack.url, {
    method: 'POST',
    signal,
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2026-07-28',
      'Mcp-Method': method,
      ...name,
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: MODERN_META } }),
  });
}

/** A raw 2025-era request (no envelope, no initialize: the server is stateless). */
function legacy(method: string, params: Record<string, unknown>, signal?: AbortSignal) {
  return fetch(stack.url, {
    method: 'POST',
    signal,
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
}

describe('a 2026-07-28 client', () => {
  test('pinned: discovers, lists and calls tools on 2026-07-28', async () => {
    const client = await connectModern(stack.url, token);
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.equal(client.getProtocolEra(), 'modern');
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
      const result = await client.callTool({ name: 'query', arguments: { sql: 'select 1 as one' } });
      assert.deepEqual(rows(result), [{ one: 1 }]);
    } finally {
      await client.close();
    }
  });

  test('probing (auto): lands on 2026-07-28', async () => {
    const client = await connectModern(stack.url, token, { mode: 'auto' });
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
    } finally {
      await client.close();
    }
  });

  test('server/discover offers both eras and no listChanged it could never send', async () => {
    const response = await modern('server/discover', {});
    assert.equal(response.status, 200);
    assert.match(response.headers.get('Content-Type') ?? '', /^application\/json/);
    const { result } = await response.json();
    assert.ok(result.supportedVersions.includes('2026-07-28'), JSON.stringify(result.supportedVersions));
    assert.equal(result.capabilities.tools.listChanged, false);
    assert.equal(result.ttlMs, 3_600_000);
    assert.equal(result.cacheScope, 'public');
  });

  test('tools/list carries cache hints: an hour, shareable (the list is the same for every user)', async () => {
    const { result } = await (await modern('tools/list', {})).json();
    assert.ok(
      result.tools.some((t: { name: string }) => t.name === 'query'),
      'the tools are listed',
    );
    assert.equal(result.ttlMs, 3_600_000);
    assert.equal(result.cacheScope, 'public');
  });

  test('a tools/call answer is plain JSON', async () => {
    const response = await modern('tools/call', { name: 'query', arguments: { sql: 'select 2 as two' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('Content-Type') ?? '', /^application\/json/);
    const { result } = await response.json();
    assert.deepEqual(result.structuredContent.rows, [{ two: 2 }]);
  });

  test('an Mcp-Name that disagrees with the body is refused before anything runs', async () => {
    const response = await modern(
      'tools/call',
      { name: 'mutate', arguments: { sql: 'delete from tasks' } },
      { 'Mcp-Name': 'query' },
    );
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.ok(body.error, JSON.stringify(body));
    const [{ n }] = (await stack.db.admin`select count(*)::int as n from tasks`) as unknown as [{ n: number }];
    assert.ok(n > 0, 'nothing was deleted');
  });

  test('an unknown tool is a JSON-RPC error naming it (the spec makes it a protocol error)', async () => {
    const { error } = await (await modern('tools/call', { name: 'drop_everything', arguments: {} })).json();
    assert.equal(error.code, -32602);
    assert.match(error.message, /drop_everything/);
  });

  test('bad arguments are an isError result the agent can act on', async () => {
    const { result } = await (await modern('tools/call', { name: 'query', arguments: { sql: 42 } })).json();
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, /sql/);
  });
});

describe('a 2025-11-25 client', () => {
  test('the 1.32 SDK client initializes on 2025-11-25 and calls tools', async () => {
    const client = await stack.connect(stack.users.alice);
    const transport = client.transport as { protocolVersion?: string } | undefined;
    assert.equal(transport?.protocolVersion, '2025-11-25');
    assert.deepEqual(rows(await client.callTool({ name: 'query', arguments: { sql: 'select 3 as three' } })), [
      { three: 3 },
    ]);
  });

  test('initialize advertises tools without listChanged; answers are plain JSON', async () => {
    const init = await legacy('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    });
    assert.match(init.headers.get('Content-Type') ?? '', /^application\/json/);
    const { result } = await init.json();
    assert.equal(result.protocolVersion, '2025-11-25');
    assert.deepEqual(result.capabilities.tools, { listChanged: false });
    const call = await legacy('tools/call', { name: 'query', arguments: { sql: 'select 4 as four' } });
    assert.match(call.headers.get('Content-Type') ?? '', /^application\/json/);
    assert.deepEqual((await call.json()).result.structuredContent.rows, [{ four: 4 }]);
  });

  for (const version of ['2025-06-18', '2025-03-26', '2024-11-05']) {
    test(`an older revision (${version}) is served too`, async () => {
      const init = await legacy('initialize', {
        protocolVersion: version,
        capabilities: {},
        clientInfo: { name: 'raw', version: '1' },
      });
      assert.equal((await init.json()).result.protocolVersion, version);
    });
  }
});

describe('CORS', () => {
  test('a browser client on an allowed origin may send the 2026 headers', async () => {
    const response = await fetch(stack.url, {
      method: 'OPTIONS',
      headers: {
        Origin: stack.baseUrl,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'mcp-method, mcp-name, mcp-protocol-version',
      },
    });
    const allowed = (response.headers.get('Access-Control-Allow-Headers') ?? '').toLowerCase();
    for (const header of ['mcp-method', 'mcp-name', 'mcp-protocol-version'])
      assert.ok(allowed.includes(header), allowed);
  });
});

describe('a client that goes away', () => {
  const SLOW = `select count(*) from generate_series(1, 30000) a, generate_series(1, 30000) b`;
  const running = () => runningStatements(stack.db.admin, 'generate_series(1, 30000)');

  for (const [era, send] of [
    [
      '2026-07-28',
      (signal: AbortSignal) => modern('tools/call', { name: 'query', arguments: { sql: SLOW } }, {}, signal),
    ],
    ['2025-11-25', (signal: AbortSignal) => legacy('tools/call', { name: 'query', arguments: { sql: SLOW } }, signal)],
  ] as const) {
    test(`${era}: its statement is cancelled in PostgreSQL`, async () => {
      const controller = new AbortController();
      const call = send(controller.signal).catch(() => 'aborted');
      await until('the statement to run', async () => (await running()) === 1);
      controller.abort();
      assert.equal(await call, 'aborted');
      await until('the statement to be cancelled', async () => (await running()) === 0);
    });
  }
});
