/**
 * The 2025-era stateless exchange of the hot methods, answered without the SDK's per-request
 * server: a single `tools/call`, `tools/list` or `ping` request, which is nearly all the traffic of
 * a 2025-era client after its `initialize`. Building an McpServer and a transport per request, and
 * the SDK checking the same message with zod at each of its layers, cost more CPU than the rest of
 * such a call (docs/performance.md).
 *
 * It answers only what it can show the SDK would answer the same way, and declines everything
 * else (`undefined`), which the SDK leg then answers as it always does: another method, a batch, a
 * notification, a header the SDK's transport refuses, any field it does not know, a tool we do not
 * have, arguments the tool's schema refuses (the SDK re-checks them and words the error). What it
 * answers, it answers as the SDK does, byte for byte (test/mcp/lean-exchange.test.ts):
 *
 * - `tools/list` and `ping` never vary by user or request: the first one goes through the SDK leg
 *   and its result is replayed from then on with each request's id, so it cannot drift from the
 *   SDK's.
 * - `tools/call` checks the arguments once against the tool's input schema and runs the tool
 *   through runToolCall (tool-call.ts), as the SDK's server does. The SDK's checks of our own
 *   result against the output and result schemas are not repeated (the tests prove the results
 *   right, as frozen-schema.ts already decided for the output schema); the result is written with
 *   its fields in the order the SDK's re-parse would put them.
 */
import {
  isInputRequiredResult,
  isJsonContentType,
  SUPPORTED_PROTOCOL_VERSIONS,
  type CallToolResult,
} from '@modelcontextprotocol/server';
import type { Asking } from './confirm.js';
import { TOOLS, type CallContext, type McpDeps } from './server.js';
import { runToolCall } from './tool-call.js';

type Id = string | number;
type Params = Record<string, unknown>;

/** The params each hot method may carry: anything else goes to the SDK. */
const HOT_METHODS = new Map<string, readonly string[]>([
  ['tools/call', ['name', 'arguments', '_meta']],
  ['tools/list', ['_meta']],
  ['ping', ['_meta']],
]);
/** Methods whose result is the same for every user and request. */
const CONSTANT = new Set(['tools/list', 'ping']);
/** The strict JSON-RPC request envelope of the SDK's message schema. */
const ENVELOPE = new Set(['jsonrpc', 'id', 'method', 'params']);

/**
 * A stateless 2025-era request can carry no answer from the user and no server-to-client question:
 * a write that needs consent asks the agent for `confirm_rows` instead (confirm.ts).
 */
const CANNOT_ASK: Asking = {
  canElicit: false,
  answer: { kind: 'none' },
  ask: () => Promise.reject(new Error('a 2025-era stateless request cannot ask the user')),
};

const TOOL_BY_NAME = new Map(TOOLS.map((entry) => [entry.tool.name, entry]));

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isId = (value: unknown): value is Id => typeof value === 'string' || Number.isSafeInteger(value);

/** `_meta` as clients send it on these methods: at most a progress token (we send no progress). */
function isPlainMeta(meta: unknown): boolean {
  if (!isPlainObject(meta)) return false;
  for (const key in meta) if (key !== 'progressToken') return false;
  return !('progressToken' in meta) || isId(meta.progressToken);
}

/**
 * A request the lean exchange may answer, or undefined: the checks the SDK's transport makes
 * first. Whatever passes is one the SDK's classifier routes to its 2025 leg (`isLegacyRequest`),
 * so the handler asks this before it: a plain JSON-RPC request that is not `initialize`, with no
 * `_meta` envelope claim (no `_meta` key but a progress token) and no modern protocol version in
 * its header (only the SDK's 2025-era versions pass).
 */
function hotRequest(request: Request, body: unknown): { id: Id; method: string; params: Params } | undefined {
  if (request.method !== 'POST') return undefined;
  const accept = request.headers.get('accept');
  if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
  if (!isJsonContentType(request.headers.get('content-type'))) return undefined;
  const version = request.headers.get('mcp-protocol-version');
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined;
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || !isId(body.id)) return undefined;
  for (const key in body) if (!ENVELOPE.has(key)) return undefined;
  const allowed = typeof body.method === 'string' ? HOT_METHODS.get(body.method) : undefined;
  if (!allowed) return undefined;
  const params = body.params ?? (body.method === 'tools/call' ? undefined : {});
  if (!isPlainObject(params)) return undefined;
  for (const key in params) if (!allowed.includes(key)) return undefined;
  if (params._meta !== undefined && !isPlainMeta(params._meta)) return undefined;
  return { id: body.id, method: body.method as string, params };
}

function json(body: string): Response {
  return new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } });
}

/** The result as the SDK's wire schema hands it on: its known fields first, in the schema's order. */
function inWireOrder({ _meta, content, structuredContent, isError, ...rest }: CallToolResult): CallToolResult {
  return {
    _meta,
    content: (content ?? []).map((block) =>
      block.type === 'text'
        ? { type: block.type, text: block.text, annotations: block.annotations, _meta: block._meta }
        : block,
    ),
    structuredContent,
    isError,
    ...rest,
  };
}

export type LeanExchange = (
  request: Request,
  body: unknown,
  call: CallContext,
  /** The SDK leg for this very request: what a constant answer is learnt from. */
  sdk: () => Promise<Response>,
) => Promise<Response | undefined>;

export function createLeanExchange(deps: McpDeps): LeanExchange {
  /** The SDK's result for each constant method, serialised, once it has answered one. */
  const constants = new Map<string, string>();

  async function learn(method: string, id: Id, sdk: () => Promise<Response>): Promise<Response> {
    const response = await sdk();
    if (response.status !== 200) return response;
    const text = await response.text();
    const answer = JSON.parse(text) as { result?: unknown; id?: unknown };
    if (answer.result !== undefined && answer.id === id) constants.set(method, JSON.stringify(answer.result));
    return new Response(text, { status: response.status, headers: response.headers });
  }

  return async (request, body, call, sdk) => {
    const hot = hotRequest(request, body);
    if (!hot) return undefined;
    const { id, method, params } = hot;
    if (CONSTANT.has(method)) {
      const result = constants.get(method);
      if (result === undefined) return learn(method, id, sdk);
      return json(`{"result":${result},"jsonrpc":"2.0","id":${JSON.stringify(id)}}`);
    }
    const entry = typeof params.name === 'string' ? TOOL_BY_NAME.get(params.name) : undefined;
    const args = params.arguments ?? {};
    if (!entry || !isPlainObject(args)) return undefined;
    const checked = await entry.config.inputSchema['~standard'].validate(args);
    if (checked.issues) return undefined;
    const result = await runToolCall(entry.tool, checked.value as Params, { deps, call, asking: CANNOT_ASK });
    return json(
      JSON.stringify({ result: isInputRequiredResult(result) ? result : inWireOrder(result), jsonrpc: '2.0', id }),
    );
  };
}
