/**
 * The lean exchange (src/mcp/lean-exchange.ts) against the SDK: a corpus of 2025-era and
 * 2026-07-28 requests, valid and not, sent to two MCP handlers, one as served (lean exchange on) and one with every
 * request through the SDK (`sdkOnly`), each over its own clone of the seeded database so writes
 * get the same ids. Status, headers and body must be the same byte for byte (the random fence
 * tokens and the clock aside), and so must the audit lines. Counting the SDK servers each side
 * connects proves which requests the lean exchange answered itself; the SDK's classifier must
 * route each of those to the leg of its era, since the handler asks the lean exchange first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  DEFAULT_MAX_REQUEST_BODY_SIZE,
  isLegacyRequest,
  McpServer,
  PROTOCOL_VERSION_META_KEY,
} from '@modelcontextprotocol/server';
import { startAuthServer, type RunningAuthServer } from '../../dev/auth/server.js';
import { asMintUser, DEMO_USERS } from '../../dev/seed.js';
import { createTokenVerifier } from '../../src/auth/verify.js';
import type { Principal } from '../../src/auth/verify.js';
import { loadConfig } from '../../src/config.js';
import { loadPolicy } from '../../src/db/policy.js';
import { openPool, type Sql } from '../../src/db/pool.js';
import { loadTypeNames } from '../../src/db/run.js';
import { createLogger } from '../../src/log.js';
import { confirmCodec } from '../../src/mcp/confirm.js';
import { createMcpHandler, type McpRequest } from '../../src/mcp/handler.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** Servers the SDK connected: none means the lean exchange answered. */
let connected = 0;
const connect = McpServer.prototype.connect;
McpServer.prototype.connect = function (this: McpServer, ...args: Parameters<McpServer['connect']>) {
  connected++;
  return connect.apply(this, args);
};

interface Side {
  db: TestDatabase;
  sql: Sql;
  lines: Record<string, unknown>[];
  handle: (call: McpRequest) => Promise<Response>;
}

let auth: RunningAuthServer;
let lean: Side;
let sdk: Side;
let principal: Principal;
let token: string;
const shutdown = new AbortController();

async function side(sdkOnly: boolean, authServer?: RunningAuthServer): Promise<Side> {
  const db = await createTestDatabase(sdkOnly ? 'sdk' : 'lean');
  const config = loadConfig({
    SUPABASE_URL: authServer?.projectUrl ?? 'http://127.0.0.1:1',
    DATABASE_URL: db.loginUrl,
    MCP_SERVER_URL: 'http://127.0.0.1:1',
  });
  const sql = openPool(db.loginUrl, { max: 2 });
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (line) => lines.push(JSON.parse(line)) });
  const handle = createMcpHandler({
    sql,
    log,
    typeNames: await loadTypeNames(sql),
    limits: config.limits,
    confirmWriteRows: config.confirmWriteRows,
    logStatements: false,
    confirmCodec: confirmCodec('lean-exchange-test: a key of at least 32 bytes'),
    shutdownSignal: shutdown.signal,
    sdkOnly,
  });
  return { db, sql, lines, handle };
}

before(async () => {
  await loadPolicy();
  sdk = await side(true);
  auth = await startAuthServer({ sql: sdk.db.admin });
  lean = await side(false, auth);
  const config = loadConfig({
    SUPABASE_URL: auth.projectUrl,
    DATABASE_URL: sdk.db.loginUrl,
    MCP_SERVER_URL: 'http://x',
  });
  const alice = DEMO_USERS.find((u) => !u.administrator && !u.disabled)!;
  token = await auth.mintAccessToken(asMintUser(alice));
  principal = await createTokenVerifier({ issuer: config.auth.issuer, jwksUrl: config.auth.jwksUrl }).verify(token);
});
after(async () => {
  shutdown.abort();
  for (const s of [lean, sdk]) await s?.sql.end({ timeout: 5 });
  await auth?.stop();
  for (const s of [lean, sdk]) await s?.db.drop();
});

const HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-11-25',
};

/** Fresh random fence tokens and the clock are the only parts of an answer that may differ. */
function deterministic(text: string): string {
  return text
    .replace(/untrusted-data-[0-9a-f]{16}/g, 'untrusted-data-TOKEN')
    .replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d(:\d\d)?)?/g, 'TIMESTAMP');
}

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
  /** SDK servers connected to answer it. */
  servers: number;
  /** The log lines it wrote, less their time and duration. */
  lines: Record<string, unknown>[];
}

async function send(s: Side, body: string, headers: Record<string, string>): Promise<Answer> {
  const request = new Request('http://127.0.0.1/mcp', { method: 'POST', headers, body });
  const before = { servers: connected, lines: s.lines.length };
  const response = await s.handle({ request, principal, token, requestId: 'request-1' });
  return {
    status: response.status,
    headers: [...response.headers],
    body: deterministic(await response.text()),
    servers: connected - before.servers,
    lines: s.lines.slice(before.lines).map(({ time: _time, durationMs: _duration, ...line }) => line),
  };
}

interface Case {
  name: string;
  /** A JSON-RPC message, or raw text sent as it is. */
  body: unknown;
  headers?: Record<string, string | null>;
  /** Whether the lean exchange answers it itself (else it goes to the SDK leg). */
  lean: boolean;
  /** Sent as a 2026-07-28 client sends it: MODERN_HEADERS, with Mcp-Method and Mcp-Name from the body. */
  modern?: boolean;
}

const call = (name: string, args?: unknown, extra: Record<string, unknown> = {}, id: unknown = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, ...(args === undefined ? {} : { arguments: args }), ...extra },
});
const rpc = (method: string, params?: unknown, id: unknown = 1) => ({
  jsonrpc: '2.0',
  id,
  method,
  ...(params === undefined ? {} : { params }),
});

const VERSION = PROTOCOL_VERSION_META_KEY;
const INFO = CLIENT_INFO_META_KEY;
const CAPABILITIES = CLIENT_CAPABILITIES_META_KEY;
/** The envelope the v2 SDK client sends on every 2026-07-28 request. */
const MODERN_META = { [VERSION]: '2026-07-28', [INFO]: { name: 'raw', version: '1.0.0' }, [CAPABILITIES]: {} };
const MODERN_HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2026-07-28',
};

/** A 2026-07-28 request; `meta` changes the envelope (undefined removes a key). */
const modern = (method: string, params: Record<string, unknown> = {}, id: unknown = 1, meta = {}) => ({
  jsonrpc: '2.0',
  id,
  method,
  params: { ...params, _meta: JSON.parse(JSON.stringify({ ...MODERN_META, ...meta })) },
});
const modernCall = (name: string, args?: unknown, id: unknown = 1, meta = {}) =>
  modern('tools/call', { name, ...(args === undefined ? {} : { arguments: args }) }, id, meta);

/** The standard headers a 2026-07-28 client derives from the body. */
function modernHeaders(body: unknown): Record<string, string> {
  const message = body as { method?: unknown; params?: { name?: unknown } };
  return {
    ...MODERN_HEADERS,
    ...(typeof message?.method === 'string' && { 'Mcp-Method': message.method }),
    ...(typeof message?.params?.name === 'string' && { 'Mcp-Name': message.params.name }),
  };
}

const CORPUS: Case[] = [
  // The constant answers: the first of each is learnt from the SDK leg, then replayed.
  { name: 'tools/list, learnt', body: rpc('tools/list'), lean: false },
  { name: 'tools/list, replayed', body: rpc('tools/list', {}, 'list-2'), lean: true },
  { name: 'tools/list with a progress token', body: rpc('tools/list', { _meta: { progressToken: 7 } }), lean: true },
  { name: 'ping, learnt', body: rpc('ping'), lean: false },
  { name: 'ping, replayed', body: rpc('ping', {}, 0), lean: true },

  // Tool calls the lean exchange runs.
  {
    name: 'query with rows',
    body: call('query', { sql: 'select id, name from companies order by id limit 3' }),
    lean: true,
  },
  { name: 'query with no row', body: call('query', { sql: 'select 1 as one where false' }), lean: true },
  { name: 'query, a string id', body: call('query', { sql: 'select 2 as two' }, {}, 'abc'), lean: true },
  { name: 'query, a large id', body: call('query', { sql: 'select 3' }, {}, Number.MAX_SAFE_INTEGER), lean: true },
  {
    name: 'query with a progress token',
    body: call('query', { sql: 'select 4' }, { _meta: { progressToken: 'p' } }),
    lean: true,
  },
  { name: 'query refused by the policy', body: call('query', { sql: 'drop table tasks' }), lean: true },
  { name: 'query the database refuses', body: call('query', { sql: 'select * from no_such_table' }), lean: true },
  { name: 'query, unknown arguments dropped', body: call('query', { sql: 'select 5', extra: true }), lean: true },
  {
    name: 'query, a __proto__ argument',
    body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query","arguments":{"sql":"select 6","__proto__":{"sql":"select 7"}}}}',
    lean: true,
  },
  { name: 'get_schema, no arguments', body: call('get_schema'), lean: true },
  { name: 'get_schema of a table', body: call('get_schema', { table: 'deals' }), lean: true },
  { name: 'mutate: one row', body: call('mutate', { sql: "update tasks set text = 'x' where id = 1" }), lean: true },
  { name: 'mutate: a delete asks first', body: call('mutate', { sql: 'delete from tasks where id = 2' }), lean: true },
  {
    name: 'mutate: the delete confirmed',
    body: call('mutate', { sql: 'delete from tasks where id = 2', confirm_rows: 1 }),
    lean: true,
  },
  { name: 'create_task', body: call('create_task', { contact_id: 1, text: 'Call back' }), lean: true },
  { name: 'search', body: call('search', { query: 'a' }), lean: true },
  { name: 'show_tasks (an app tool)', body: call('show_tasks', {}), lean: true },
  {
    name: 'no MCP-Protocol-Version header',
    body: call('query', { sql: 'select 8' }),
    headers: { 'MCP-Protocol-Version': null },
    lean: true,
  },
  {
    name: 'an older protocol version',
    body: call('query', { sql: 'select 9' }),
    headers: { 'MCP-Protocol-Version': '2024-11-05' },
    lean: true,
  },
  {
    name: 'a charset on the Content-Type',
    body: call('query', { sql: 'select 10' }),
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    lean: true,
  },

  // Everything else is the SDK's to answer.
  { name: 'an unknown tool', body: call('drop_everything', {}), lean: false },
  { name: 'bad arguments', body: call('query', { sql: 42 }), lean: false },
  { name: 'a missing argument', body: call('query', {}), lean: false },
  { name: 'a tool name that is not a string', body: call(7 as unknown as string, {}), lean: false },
  { name: 'arguments that are an array', body: call('query', ['select 1']), lean: false },
  { name: 'tools/call without params', body: rpc('tools/call'), lean: false },
  { name: 'a task-augmented call', body: call('query', { sql: 'select 1' }, { task: { ttl: 1000 } }), lean: false },
  { name: 'an unknown param', body: call('query', { sql: 'select 1' }, { other: 1 }), lean: false },
  { name: 'other _meta', body: call('query', { sql: 'select 1' }, { _meta: { other: 1 } }), lean: false },
  {
    name: 'a null progress token',
    body: call('query', { sql: 'select 1' }, { _meta: { progressToken: null } }),
    lean: false,
  },
  { name: 'a float id', body: call('query', { sql: 'select 1' }, {}, 1.5), lean: false },
  { name: 'a null id', body: call('query', { sql: 'select 1' }, {}, null), lean: false },
  { name: 'jsonrpc 1.0', body: { ...call('query', { sql: 'select 1' }), jsonrpc: '1.0' }, lean: false },
  { name: 'an extra top-level field', body: { ...call('query', { sql: 'select 1' }), extra: 1 }, lean: false },
  { name: 'params that are an array', body: rpc('tools/list', []), lean: false },
  { name: 'tools/list with a cursor', body: rpc('tools/list', { cursor: 'x' }), lean: false },
  {
    name: 'Accept without text/event-stream',
    body: call('query', { sql: 'select 1' }),
    headers: { Accept: 'application/json' },
    lean: false,
  },
  { name: 'no Accept', body: rpc('tools/list'), headers: { Accept: null }, lean: false },
  { name: 'a text Content-Type', body: rpc('ping'), headers: { 'Content-Type': 'text/plain' }, lean: false },
  {
    name: 'an unknown protocol version',
    body: call('query', { sql: 'select 1' }),
    headers: { 'MCP-Protocol-Version': '1999-01-01' },
    lean: false,
  },
  {
    name: 'a 2026-07-28 header without the envelope',
    body: call('query', { sql: 'select 1' }),
    headers: { 'MCP-Protocol-Version': '2026-07-28' },
    lean: false,
  },
  {
    name: 'a 2026-07-28 envelope',
    body: call('query', { sql: 'select 1' }, { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } }),
    headers: { 'MCP-Protocol-Version': '2026-07-28' },
    lean: false,
  },
  { name: 'a batch', body: [rpc('tools/list'), rpc('ping', undefined, 2)], lean: false },
  { name: 'a notification', body: { jsonrpc: '2.0', method: 'notifications/initialized' }, lean: false },
  {
    name: 'initialize',
    body: rpc('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 't', version: '1' },
    }),
    lean: false,
  },
  { name: 'resources/list', body: rpc('resources/list'), lean: false },
  { name: 'a method nobody has', body: rpc('tools/destroy'), lean: false },
  { name: 'a body that is not JSON', body: '{"jsonrpc":', lean: false },

  // 2026-07-28: the constant answer is learnt from the SDK's modern leg, then replayed.
  { name: '2026: tools/list, learnt', modern: true, body: modern('tools/list'), lean: false },
  { name: '2026: tools/list, replayed', modern: true, body: modern('tools/list', {}, 'list-2'), lean: true },
  {
    name: '2026: tools/list without clientInfo',
    modern: true,
    body: modern('tools/list', {}, 3, { [INFO]: undefined }),
    lean: true,
  },
  {
    name: '2026: tools/list from a client that can be asked',
    modern: true,
    body: modern('tools/list', {}, 4, { [CAPABILITIES]: { elicitation: {} } }),
    lean: true,
  },

  // 2026-07-28 tool calls the lean exchange runs.
  {
    name: '2026: query with rows',
    modern: true,
    body: modernCall('query', { sql: 'select id, name from companies order by id limit 3' }),
    lean: true,
  },
  {
    name: '2026: query with no row',
    modern: true,
    body: modernCall('query', { sql: 'select 1 where false' }),
    lean: true,
  },
  {
    name: '2026: query, a string id',
    modern: true,
    body: modernCall('query', { sql: 'select 2 as two' }, 'abc'),
    lean: true,
  },
  {
    name: '2026: query, a large id',
    modern: true,
    body: modernCall('query', { sql: 'select 3' }, Number.MAX_SAFE_INTEGER),
    lean: true,
  },
  {
    name: '2026: query refused by the policy',
    modern: true,
    body: modernCall('query', { sql: 'drop table tasks' }),
    lean: true,
  },
  {
    name: '2026: query the database refuses',
    modern: true,
    body: modernCall('query', { sql: 'select * from no_such_table' }),
    lean: true,
  },
  {
    name: '2026: query, unknown arguments dropped',
    modern: true,
    body: modernCall('query', { sql: 'select 5', extra: true }),
    lean: true,
  },
  {
    name: '2026: query, a __proto__ argument',
    modern: true,
    body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query","arguments":{"sql":"select 6","__proto__":{"sql":"select 7"}},"_meta":${JSON.stringify(MODERN_META)}}}`,
    headers: { 'Mcp-Method': 'tools/call', 'Mcp-Name': 'query' },
    lean: true,
  },
  { name: '2026: get_schema, no arguments', modern: true, body: modernCall('get_schema'), lean: true },
  { name: '2026: get_schema of a table', modern: true, body: modernCall('get_schema', { table: 'deals' }), lean: true },
  {
    name: '2026: mutate: one row',
    modern: true,
    body: modernCall('mutate', { sql: "update tasks set text = 'y' where id = 3" }),
    lean: true,
  },
  {
    name: '2026: mutate: a delete asks the agent first',
    modern: true,
    body: modernCall('mutate', { sql: 'delete from tasks where id = 4' }),
    lean: true,
  },
  {
    name: '2026: mutate: the delete confirmed',
    modern: true,
    body: modernCall('mutate', { sql: 'delete from tasks where id = 4', confirm_rows: 1 }),
    lean: true,
  },
  {
    name: '2026: create_task',
    modern: true,
    body: modernCall('create_task', { contact_id: 1, text: 'Call back' }),
    lean: true,
  },
  { name: '2026: search', modern: true, body: modernCall('search', { query: 'a' }), lean: true },
  { name: '2026: show_tasks (an app tool)', modern: true, body: modernCall('show_tasks', {}), lean: true },
  {
    name: '2026: query from a client that can be asked',
    modern: true,
    body: modernCall('query', { sql: 'select 11' }, 1, { [CAPABILITIES]: { elicitation: { form: {} }, roots: {} } }),
    lean: true,
  },
  {
    name: '2026: a client with more identity',
    modern: true,
    body: modernCall('query', { sql: 'select 12' }, 1, {
      [INFO]: { name: 'raw', title: 'Raw', version: '2.0.0', websiteUrl: 'https://example.com' },
    }),
    lean: true,
  },
  {
    name: '2026: a charset on the Content-Type',
    modern: true,
    body: modernCall('query', { sql: 'select 13' }),
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    lean: true,
  },

  // Everything else on 2026-07-28 is the SDK's to answer.
  {
    name: '2026: mutate from a client that can be asked',
    modern: true,
    body: modernCall('mutate', { sql: 'delete from tasks where id = 5' }, 1, { [CAPABILITIES]: { elicitation: {} } }),
    lean: false,
  },
  { name: '2026: an unknown tool', modern: true, body: modernCall('drop_everything', {}), lean: false },
  { name: '2026: bad arguments', modern: true, body: modernCall('query', { sql: 42 }), lean: false },
  { name: '2026: a missing argument', modern: true, body: modernCall('query', {}), lean: false },
  { name: '2026: arguments that are an array', modern: true, body: modernCall('query', ['select 1']), lean: false },
  {
    name: '2026: a tool name that is not a string',
    modern: true,
    body: { ...modernCall('query', {}), params: { name: 7, arguments: {}, _meta: MODERN_META } },
    lean: false,
  },
  {
    name: '2026: an unknown param',
    modern: true,
    body: {
      ...modernCall('query', {}),
      params: { name: 'query', arguments: { sql: 'select 1' }, other: 1, _meta: MODERN_META },
    },
    lean: false,
  },
  {
    name: '2026: a request state',
    modern: true,
    body: {
      ...modernCall('query', {}),
      params: { name: 'query', arguments: { sql: 'select 1' }, requestState: 'x', _meta: MODERN_META },
    },
    lean: false,
  },
  {
    name: '2026: input responses',
    modern: true,
    body: {
      ...modernCall('query', {}),
      params: { name: 'query', arguments: { sql: 'select 1' }, inputResponses: {}, _meta: MODERN_META },
    },
    lean: false,
  },
  { name: '2026: tools/list with a cursor', modern: true, body: modern('tools/list', { cursor: 'x' }), lean: false },
  {
    name: '2026: a progress token',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { progressToken: 'p' }),
    lean: false,
  },
  {
    name: '2026: a log level',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { 'io.modelcontextprotocol/logLevel': 'debug' }),
    lean: false,
  },
  {
    name: '2026: no protocol version in _meta',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { [VERSION]: undefined }),
    lean: false,
  },
  {
    name: '2026: another version in _meta',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { [VERSION]: '2027-01-01' }),
    lean: false,
  },
  {
    name: '2026: no client capabilities',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { [CAPABILITIES]: undefined }),
    lean: false,
  },
  {
    name: '2026: client capabilities the schema refuses',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { [CAPABILITIES]: { elicitation: 'yes' } }),
    lean: false,
  },
  {
    name: '2026: a clientInfo the schema refuses',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { [INFO]: { name: 1 } }),
    lean: false,
  },
  {
    name: '2026: _meta that is not an object',
    modern: true,
    body: { ...modernCall('query', {}), params: { name: 'query', arguments: { sql: 'select 1' }, _meta: 'x' } },
    lean: false,
  },
  {
    name: '2026: no MCP-Protocol-Version header',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }),
    headers: { 'MCP-Protocol-Version': null },
    lean: false,
  },
  {
    name: '2026: a 2025 header on a 2026 envelope',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }),
    headers: { 'MCP-Protocol-Version': '2025-11-25' },
    lean: false,
  },
  {
    name: '2026: an unknown version in both',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }, 1, { [VERSION]: '2099-01-01' }),
    headers: { 'MCP-Protocol-Version': '2099-01-01' },
    lean: false,
  },
  {
    name: '2026: no Mcp-Method',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }),
    headers: { 'Mcp-Method': null },
    lean: false,
  },
  {
    name: '2026: an Mcp-Method that disagrees',
    modern: true,
    body: modern('tools/list'),
    headers: { 'Mcp-Method': 'tools/call' },
    lean: false,
  },
  {
    name: '2026: no Mcp-Name',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }),
    headers: { 'Mcp-Name': null },
    lean: false,
  },
  {
    name: '2026: an Mcp-Name that disagrees',
    modern: true,
    body: modernCall('mutate', { sql: 'delete from tasks where id = 6' }),
    headers: { 'Mcp-Name': 'query' },
    lean: false,
  },
  {
    name: '2026: an Mcp-Name in Base64',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }),
    headers: { 'Mcp-Name': `=?base64?${Buffer.from('query').toString('base64')}?=` },
    lean: false,
  },
  {
    name: '2026: an Mcp-Name on tools/list',
    modern: true,
    body: modern('tools/list', {}, 5),
    headers: { 'Mcp-Name': 'query' },
    lean: false,
  },
  { name: '2026: ping (not a method of this era)', modern: true, body: modern('ping'), lean: false },
  { name: '2026: server/discover', modern: true, body: modern('server/discover'), lean: false },
  { name: '2026: resources/list', modern: true, body: modern('resources/list'), lean: false },
  { name: '2026: a float id', modern: true, body: modernCall('query', { sql: 'select 1' }, 1.5), lean: false },
  { name: '2026: a null id', modern: true, body: modernCall('query', { sql: 'select 1' }, null), lean: false },
  {
    name: '2026: an extra top-level field',
    modern: true,
    body: { ...modernCall('query', { sql: 'select 1' }), extra: 1 },
    lean: false,
  },
  {
    name: '2026: a batch',
    modern: true,
    body: [modern('tools/list'), modernCall('query', { sql: 'select 1' }, 2)],
    lean: false,
  },
  {
    name: '2026: a notification',
    modern: true,
    body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: MODERN_META } },
    lean: false,
  },
  {
    name: '2026: a text Content-Type',
    modern: true,
    body: modern('tools/list'),
    headers: { 'Content-Type': 'text/plain' },
    lean: false,
  },
  { name: '2026: no Accept', modern: true, body: modern('tools/list'), headers: { Accept: null }, lean: false },
  {
    name: '2026: Accept without text/event-stream',
    modern: true,
    body: modernCall('query', { sql: 'select 1' }),
    headers: { Accept: 'application/json' },
    lean: false,
  },
  { name: '2026: a body that is not JSON', modern: true, body: '{"jsonrpc":', lean: false },
  {
    name: '2026: a body over the size limit',
    modern: true,
    body: modernCall('query', { sql: `select '${'x'.repeat(DEFAULT_MAX_REQUEST_BODY_SIZE)}'` }),
    lean: false,
  },
];

describe('the lean exchange answers as the SDK does', () => {
  for (const c of CORPUS) {
    test(c.name, async () => {
      const body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
      const headers: Record<string, string> = c.modern ? modernHeaders(c.body) : { ...HEADERS };
      for (const [name, value] of Object.entries(c.headers ?? {})) {
        if (value === null) delete headers[name];
        else headers[name] = value;
      }
      if (c.lean) {
        const request = new Request('http://127.0.0.1/mcp', { method: 'POST', headers, body });
        const legacy = await isLegacyRequest(request, JSON.parse(body));
        assert.equal(legacy, !c.modern, `the SDK classifies it ${c.modern ? '2026-07-28' : '2025-era'}`);
      }
      const fromSdk = await send(sdk, body, headers);
      const fromLean = await send(lean, body, headers);
      // Some are refused by the SDK's classifier before any server is built.
      if (c.lean) {
        assert.equal(fromSdk.servers, 1, 'the SDK leg built a server for it');
        assert.equal(fromLean.servers, 0, 'the lean exchange answered it');
      } else assert.equal(fromLean.servers, fromSdk.servers, 'it went to the SDK');
      assert.deepEqual(
        { status: fromLean.status, headers: fromLean.headers, body: fromLean.body, lines: fromLean.lines },
        { status: fromSdk.status, headers: fromSdk.headers, body: fromSdk.body, lines: fromSdk.lines },
      );
    });
  }
});

describe('a lean call that ends early', () => {
  const SLOW = 'select count(*) from generate_series(1, 30000) a, generate_series(1, 30000) b';

  test('a client that goes away cancels its statement, and the call is audited', async () => {
    const controller = new AbortController();
    const request = new Request('http://127.0.0.1/mcp', {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify(call('query', { sql: SLOW })),
      signal: controller.signal,
    });
    const from = lean.lines.length;
    const servers = connected;
    const answer = lean.handle({ request, principal, token, requestId: 'gone' });
    const deadline = Date.now() + 10_000;
    while (!(await running(lean.db))) {
      assert.ok(Date.now() < deadline, 'the statement started');
      await new Promise((r) => setTimeout(r, 20));
    }
    controller.abort();
    const { result } = await (await answer).json();
    assert.equal(connected, servers, 'no SDK server was built');
    assert.equal(result.isError, true);
    assert.equal(await running(lean.db), false, 'the statement is no longer running');
    const audit = lean.lines.slice(from).filter((l) => l.event === 'tool_call');
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.requestId, 'gone');
    assert.notEqual(audit[0]!.outcome, 'ok');
  });
  test('on 2026-07-28 both answer 499 at once, and the cancelled call is audited', async () => {
    for (const s of [sdk, lean]) {
      const controller = new AbortController();
      const body = modernCall('query', { sql: SLOW });
      const request = new Request('http://127.0.0.1/mcp', {
        method: 'POST',
        headers: modernHeaders(body),
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      const from = s.lines.length;
      const servers = connected;
      const answer = s.handle({ request, principal, token, requestId: 'gone-2026' });
      const deadline = Date.now() + 10_000;
      while (!(await running(s.db))) {
        assert.ok(Date.now() < deadline, 'the statement started');
        await new Promise((r) => setTimeout(r, 20));
      }
      controller.abort();
      assert.equal((await answer).status, 499);
      assert.equal(connected - servers, s === lean ? 0 : 1, 'only the SDK built a server');
      while (s.lines.slice(from).every((l) => l.event !== 'tool_call')) {
        assert.ok(Date.now() < deadline, 'the call was audited');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await running(s.db), false, 'the statement is no longer running');
      const audit = s.lines.slice(from).filter((l) => l.event === 'tool_call');
      assert.equal(audit.length, 1);
      assert.notEqual(audit[0]!.outcome, 'ok');
    }
  });
});

async function running(db: TestDatabase): Promise<boolean> {
  const rows = await db.admin.unsafe(
    `select 1 from pg_stat_activity where query like '%generate_series(1, 30000)%' and state = 'active' and pid <> pg_backend_pid()`,
  );
  return rows.length > 0;
}
