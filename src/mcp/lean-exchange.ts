/**
 * The stateless exchange of the hot methods, answered without the SDK's per-request server: a
 * single `tools/call` or `tools/list` request of either era, or a 2025-era `ping`, which is nearly
 * all the traffic of a client after its `initialize` (2025) or its discovery (2026-07-28, where
 * every request is one of these). Building an McpServer and a transport per request, and the SDK
 * checking the same message with zod at each of its layers, cost more CPU than the rest of such a
 * call (docs/performance.md).
 *
 * It answers only what it can show the SDK would answer the same way, and declines everything
 * else (`undefined`), which the SDK then answers as it always does: another method, a batch, a
 * notification, a header the SDK's transport refuses, any field it does not know, a tool we do not
 * have, arguments the tool's schema refuses (the SDK re-checks them and words the error), a
 * 2026-07-28 envelope it cannot vouch for (lean-exchange-2026.ts). What it answers, it answers as
 * the SDK does, byte for byte (test/mcp/lean-exchange.test.ts):
 *
 * - `tools/list` and `ping` never vary by user or request: the first one of each era goes through
 *   the SDK and its result is replayed from then on with each request's id, so it cannot drift
 *   from the SDK's (the 2026 one carries the cache hints and the server's identity).
 * - `tools/call` checks the arguments once against the tool's input schema and runs the tool
 *   through runToolCall (tool-call.ts), as the SDK's server does. The SDK's checks of our own
 *   result against the output and result schemas are not repeated (the tests prove the results
 *   right, as frozen-schema.ts already decided for the output schema); the result is written with
 *   its fields in the order the SDK's re-parse would put them, plus on 2026-07-28 what the SDK's
 *   encoder adds.
 */
import { isJsonContentType, SUPPORTED_PROTOCOL_VERSIONS, type CallToolResult } from '@modelcontextprotocol/server';
import type { Asking } from './confirm.js';
import { isPlainObject, MODERN_VERSION, modernHotRequest, modernResult } from './lean-exchange-2026.js';
import { TOOLS, type CallContext, type McpDeps } from './server.js';
import { runToolCall } from './tool-call.js';
import { mutateTool } from './tools/mutate.js';

type Id = string | number;
type Params = Record<string, unknown>;
/** Which of the SDK's legs would serve the request: 2025-era (`legacy`) or 2026-07-28 (`modern`). */
export type Era = 'legacy' | 'modern';

/** The params each 2025-era hot method may carry: anything else goes to the SDK. */
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
 * A request the lean exchange answers carries no answer from the user, and its client cannot be
 * asked (a stateless 2025-era one, or a 2026-07-28 one that declares no elicitation): a write that
 * needs consent asks the agent for `confirm_rows` instead (confirm.ts).
 */
const CANNOT_ASK: Asking = {
  canElicit: false,
  answer: { kind: 'none' },
  ask: () => Promise.reject(new Error('this client cannot be asked')),
};

const TOOL_BY_NAME = new Map(TOOLS.map((entry) => [entry.tool.name, entry]));

const isId = (value: unknown): value is Id => typeof value === 'string' || Number.isSafeInteger(value);

/** `_meta` as clients send it on these methods: at most a progress token (we send no progress). */
function isPlainMeta(meta: unknown): boolean {
  if (!isPlainObject(meta)) return false;
  for (const key in meta) if (key !== 'progressToken') return false;
  return !('progressToken' in meta) || isId(meta.progressToken);
}

interface HotRequest {
  era: Era;
  id: Id;
  method: string;
  params: Params;
  canElicit: boolean;
}

/**
 * A request the lean exchange may answer, or undefined. First the checks both eras' SDK legs
 * make: a POST that takes JSON and event streams, one strict JSON-RPC request. Then a 2026-07-28
 * header sends it to lean-exchange-2026.ts; any other must be a 2025-era request the SDK's
 * classifier routes to its 2025 leg (`isLegacyRequest`), so the handler asks this before it: not
 * `initialize`, no `_meta` envelope claim (no `_meta` key but a progress token) and no modern
 * protocol version in its header (only the SDK's 2025-era versions pass).
 */
function hotRequest(request: Request, body: unknown): HotRequest | undefined {
  if (request.method !== 'POST') return undefined;
  const accept = request.headers.get('accept');
  if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || !isId(body.id)) return undefined;
  for (const key in body) if (!ENVELOPE.has(key)) return undefined;
  const version = request.headers.get('mcp-protocol-version');
  if (version === MODERN_VERSION) {
    const modern = modernHotRequest(request, body);
    return modern && { era: 'modern', id: body.id, ...modern };
  }
  if (!isJsonContentType(request.headers.get('content-type'))) return undefined;
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined;
  const allowed = typeof body.method === 'string' ? HOT_METHODS.get(body.method) : undefined;
  if (!allowed) return undefined;
  const params = body.params ?? (body.method === 'tools/call' ? undefined : {});
  if (!isPlainObject(params)) return undefined;
  for (const key in params) if (!allowed.includes(key)) return undefined;
  if (params._meta !== undefined && !isPlainMeta(params._meta)) return undefined;
  return { era: 'legacy', id: body.id, method: body.method as string, params, canElicit: false };
}

function json(body: string): Response {
  return new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } });
}

/**
 * The result as the SDK's wire schema hands it on (both eras' schemas agree): its known fields
 * first, in the schema's order, and only those present, as the parse leaves them (on 2026-07-28
 * the fields stamped after it go last).
 */
function inWireOrder({ _meta, content, structuredContent, isError, ...rest }: CallToolResult): CallToolResult {
  return {
    ...(_meta !== undefined && { _meta }),
    content: (content ?? []).map((block) =>
      block.type === 'text'
        ? { type: block.type, text: block.text, annotations: block.annotations, _meta: block._meta }
        : block,
    ),
    ...(structuredContent !== undefined && { structuredContent }),
    ...(isError !== undefined && { isError }),
    ...rest,
  };
}

/**
 * The call's result, or undefined once the client has gone away on a 2026-07-28 request: the SDK's
 * 2026 leg then answers 499 at once (its transport closes), while the tool, cancelled through the
 * call's endings, still finishes and writes its audit line.
 */
function unlessAbandoned<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    // An aborted signal does not fire 'abort' again.
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export type LeanExchange = (
  request: Request,
  body: unknown,
  call: CallContext,
  /** The SDK's legs for this very request: what a constant answer is learnt from. */
  sdk: Record<Era, () => Promise<Response>>,
) => Promise<Response | undefined>;

export function createLeanExchange(deps: McpDeps): LeanExchange {
  /** The SDK's result for each era's constant method, serialised, once it has answered one. */
  const constants = new Map<string, string>();

  async function learn(key: string, id: Id, sdk: () => Promise<Response>): Promise<Response> {
    const response = await sdk();
    if (response.status !== 200) return response;
    const text = await response.text();
    const answer = JSON.parse(text) as { result?: unknown; id?: unknown };
    if (answer.result !== undefined && answer.id === id) constants.set(key, JSON.stringify(answer.result));
    return new Response(text, { status: response.status, headers: response.headers });
  }

  return async (request, body, call, sdk) => {
    const hot = hotRequest(request, body);
    if (!hot) return undefined;
    const { era, id, method, params } = hot;
    if (CONSTANT.has(method)) {
      const key = `${era} ${method}`;
      const result = constants.get(key);
      if (result === undefined) return learn(key, id, sdk[era]);
      return json(`{"result":${result},"jsonrpc":"2.0","id":${JSON.stringify(id)}}`);
    }
    const entry = typeof params.name === 'string' ? TOOL_BY_NAME.get(params.name) : undefined;
    const args = params.arguments ?? {};
    if (!entry || !isPlainObject(args)) return undefined;
    // A client that can be asked is asked by the SDK's server (confirm.ts), and a request already
    // abandoned is the SDK's to answer (499) without running anything.
    if (hot.canElicit && entry.tool === mutateTool) return undefined;
    const checked = await entry.config.inputSchema['~standard'].validate(args);
    if (checked.issues) return undefined;
    // Checked after the (possibly asynchronous) validation, so a client gone during it is covered.
    if (era === 'modern' && request.signal.aborted) return undefined;
    const run = runToolCall(entry.tool, checked.value as Params, { deps, call, asking: CANNOT_ASK });
    if (era === 'legacy') {
      const result = await run;
      return json(JSON.stringify({ result: inWireOrder(result as CallToolResult), jsonrpc: '2.0', id }));
    }
    const result = await unlessAbandoned(run, request.signal);
    if (result === undefined) return new Response(null, { status: 499 });
    // A client that cannot be asked is never asked: the result is complete.
    return json(JSON.stringify({ result: modernResult(inWireOrder(result as CallToolResult)), jsonrpc: '2.0', id }));
  };
}
