/**
 * What the lean exchange (lean-exchange.ts) needs to know of the 2026-07-28 exchange: which
 * requests it may answer itself, and how the SDK's 2026 leg writes a tool's result. A 2026-07-28
 * client sends every call with its version, capabilities and identity in `params._meta` and no
 * session, so without this each of its calls builds an McpServer and runs the SDK's zod checks at
 * each layer.
 *
 * A request is taken only when the SDK would serve it with no refusal on the way: its own
 * classifier (`classifyInboundRequest`, which validates the envelope) routes it modern, naming
 * 2026-07-28; the standard headers the SDK's entry then checks are present and agree with the body
 * exactly; nothing else rides in `_meta` (a progress token, a log level, trace context) or in the
 * params (a cursor, a request state, input responses). `ping` is not a 2026-07-28 method. The rest,
 * and every refusal, is the SDK's to answer and word (test/mcp/lean-exchange.test.ts).
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  classifyInboundRequest,
  isJsonContentType,
  PROTOCOL_VERSION_META_KEY,
  SERVER_INFO_META_KEY,
  type CallToolResult,
} from '@modelcontextprotocol/server';
import { SERVER_INFO, TOOLS } from './server.js';

export const MODERN_VERSION = '2026-07-28';

const ENVELOPE_KEYS = new Set([PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY]);

/** The params each hot method may carry on this era. */
const HOT_PARAMS = new Map<string, readonly string[]>([
  ['tools/call', ['name', 'arguments', '_meta']],
  ['tools/list', ['_meta']],
]);

/**
 * The tools the SDK's 2026 entry checks nothing more for before they run: none declares a scope
 * challenge or an `x-mcp-header` argument (whose `Mcp-Param-*` headers the entry compares with the
 * arguments). A tool that ever does is left to the SDK.
 */
const PLAIN_TOOLS = new Set(
  TOOLS.filter(
    ({ config }) =>
      !('scopeChallenge' in config) &&
      !JSON.stringify(config.inputSchema['~standard'].jsonSchema.input({ target: 'draft-2020-12' })).includes(
        '"x-mcp-header"',
      ),
  ).map(({ tool }) => tool.name),
);

export interface ModernHotRequest {
  method: string;
  params: Record<string, unknown>;
  /** The client declared elicitation: a write that needs consent asks the human (confirm.ts). */
  canElicit: boolean;
}

/** A JSON object, not an array or null: what a message, its params or _meta must be. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A 2026-07-28 request the lean exchange may answer, or undefined. The JSON-RPC envelope itself
 * (jsonrpc, id, no other key) is checked by the caller, as for the 2025 era.
 */
export function modernHotRequest(request: Request, body: Record<string, unknown>): ModernHotRequest | undefined {
  const method = typeof body.method === 'string' ? body.method : undefined;
  const allowed = method === undefined ? undefined : HOT_PARAMS.get(method);
  if (!allowed || !isPlainObject(body.params)) return undefined;
  const params = body.params;
  for (const key in params) if (!allowed.includes(key)) return undefined;
  const meta = params._meta;
  if (!isPlainObject(meta) || meta[PROTOCOL_VERSION_META_KEY] !== MODERN_VERSION) return undefined;
  for (const key in meta) if (!ENVELOPE_KEYS.has(key)) return undefined;

  const headers = request.headers;
  if (!isJsonContentType(headers.get('content-type'))) return undefined;
  const versionHeader = headers.get('mcp-protocol-version');
  const methodHeader = headers.get('mcp-method');
  const nameHeader = headers.get('mcp-name');
  if (versionHeader !== MODERN_VERSION || methodHeader !== method) return undefined;
  // The SDK decodes and compares Mcp-Name only where the method mirrors params.name.
  if (method === 'tools/call' ? typeof params.name !== 'string' || nameHeader !== params.name : nameHeader !== null) {
    return undefined;
  }
  if (method === 'tools/call' && !PLAIN_TOOLS.has(params.name as string)) return undefined;
  const route = classifyInboundRequest({
    httpMethod: 'POST',
    protocolVersionHeader: versionHeader,
    mcpMethodHeader: methodHeader,
    ...(nameHeader !== null && { mcpNameHeader: nameHeader }),
    body,
  });
  if (route.kind !== 'modern' || route.messageKind !== 'request' || route.classification.revision !== MODERN_VERSION) {
    return undefined;
  }
  const capabilities = meta[CLIENT_CAPABILITIES_META_KEY] as { elicitation?: unknown };
  return { method, params, canElicit: capabilities.elicitation !== undefined };
}

/**
 * A tool's result, already in the wire schema's order, as the SDK's 2026 leg then writes it: the
 * text fallback it appends for structured content that is not an object, then the `resultType`
 * and the server's identity in `_meta` that its encoder stamps, each after the fields already
 * there (a `_meta` already present keeps its place).
 */
export function modernResult(ordered: CallToolResult): Record<string, unknown> {
  const { content, structuredContent: structured } = ordered;
  const nonObject =
    structured !== undefined && (typeof structured !== 'object' || structured === null || Array.isArray(structured));
  const wire: Record<string, unknown> =
    nonObject && !content.some((block) => block.type === 'text')
      ? { ...ordered, content: [...content, { type: 'text', text: JSON.stringify(structured) }] }
      : { ...ordered };
  if (wire.resultType === undefined) wire.resultType = 'complete';
  const meta = wire._meta as Record<string, unknown> | undefined;
  if (meta?.[SERVER_INFO_META_KEY] === undefined) wire._meta = { ...meta, [SERVER_INFO_META_KEY]: SERVER_INFO };
  return wire;
}
