/**
 * The Web-standard MCP endpoint: Request in, Response out, on any runtime, for both protocol eras.
 * Stateless: every request gets a fresh server, so any number of instances can serve one client
 * with no sticky sessions.
 *
 * - 2026-07-28 (every request carries its version and capabilities in `_meta`): the SDK's
 *   `createMcpHandler`, strict (`legacy: 'reject'`). Its default response mode answers in JSON
 *   unless a tool sends a message before its result, which ours never do (no progress, no logs).
 *   A single `tools/call` or `tools/list` is answered by the lean exchange instead when it can be.
 * - 2025-11-25 and older (`initialize` first): the SDK's stateless Streamable HTTP transport with
 *   JSON responses. The SDK's own stateless fallback answers these over SSE and its `close()`
 *   cannot reach them, so this leg is wired here, routed by the SDK's own classifier
 *   (`isLegacyRequest`) so the two never disagree on which era a request belongs to. A single
 *   `tools/call`, `tools/list` or `ping` is answered by the lean exchange (lean-exchange.ts)
 *   instead when it can be, without a server and a transport per request.
 */
import {
  createMcpHandler as createModernHandler,
  DEFAULT_MAX_REQUEST_BODY_SIZE,
  isLegacyRequest,
  readRequestBody,
  WebStandardStreamableHTTPServerTransport,
  type AuthInfo,
  type McpRequestContext,
} from '@modelcontextprotocol/server';
import type { Principal } from '../auth/verify.js';
import { createLeanExchange } from './lean-exchange.js';
import { createMcpServer, type CallContext, type McpDeps } from './server.js';

export interface McpRequest {
  request: Request;
  principal: Principal;
  token: string;
  requestId: string;
}

export interface HandlerDeps extends McpDeps {
  /** Aborted when a shutdown stops waiting: running calls are then cancelled. */
  shutdownSignal?: AbortSignal;
  /**
   * Serve every request through the SDK, without the lean exchange: what the differential test
   * (test/mcp/lean-exchange.test.ts) and the measurements compare it with.
   */
  sdkOnly?: boolean;
}

/** What the SDK hands back to the factory: the call's identity rides in `authInfo.extra`. */
function callOf(
  authInfo: AuthInfo | undefined,
  request: Request | undefined,
  shutdownSignal?: AbortSignal,
): CallContext {
  const extra = authInfo?.extra as { principal: Principal; requestId: string; tool?: string } | undefined;
  if (!extra || !request) throw new Error('an MCP request reached the server without its principal');
  return {
    principal: extra.principal,
    requestId: extra.requestId,
    tool: extra.tool,
    endings: endingsOf(request, shutdownSignal),
  };
}

/** The tool a body's single tools/call request names (a batch or any other method: none). */
function calledTool(body: unknown): string | undefined {
  const message = body as { method?: unknown; params?: { name?: unknown } } | null;
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const name = message.method === 'tools/call' ? message.params?.name : undefined;
  return typeof name === 'string' ? name : undefined;
}

/** A client that goes away or a shutdown that stops waiting: either cancels the running statement. */
function endingsOf(request: Request, shutdownSignal?: AbortSignal): AbortSignal[] {
  return shutdownSignal ? [request.signal, shutdownSignal] : [request.signal];
}

export function createMcpHandler({
  shutdownSignal,
  sdkOnly = false,
  ...deps
}: HandlerDeps): (call: McpRequest) => Promise<Response> {
  const modern = createModernHandler(
    ({ authInfo, requestInfo }: McpRequestContext) =>
      createMcpServer(deps, callOf(authInfo, requestInfo, shutdownSignal)),
    { legacy: 'reject', onerror: (error) => deps.log.debug('mcp_rejected', { error: error.message }) },
  );
  const lean = sdkOnly ? undefined : createLeanExchange(deps);

  async function legacy(
    request: Request,
    parsedBody: unknown,
    authInfo: AuthInfo,
    call: CallContext,
  ): Promise<Response> {
    const server = createMcpServer(deps, call);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    // The statement is cancelled through the tool's signal (see server.ts); the transport then
    // never answers, so the response is settled here (nobody will read it), or the request would
    // count as in flight forever.
    let onAbort = () => {};
    const abandoned = new Promise<Response>((resolve) => {
      onAbort = () => {
        void transport.close();
        resolve(new Response(null, { status: 499 }));
      };
    });
    if (call.endings.some((s) => s.aborted)) onAbort();
    for (const s of call.endings) s.addEventListener('abort', onAbort, { once: true });
    try {
      await server.connect(transport);
      return await Promise.race([transport.handleRequest(request, { authInfo, parsedBody }), abandoned]);
    } finally {
      for (const s of call.endings) s.removeEventListener('abort', onAbort);
      await server.close();
    }
  }

  return async ({ request, principal, token, requestId }) => {
    const body = await readJson(request);
    if (body instanceof Response) return body;
    const authInfo: AuthInfo = {
      token,
      clientId: principal.clientId ?? '',
      scopes: principal.scopes,
      expiresAt: principal.expiresAt,
      extra: { principal, requestId, tool: calledTool(body.parsedBody) },
    };
    const call = callOf(authInfo, request, shutdownSignal);
    const sdk = {
      legacy: () => legacy(body.request, body.parsedBody, authInfo, call),
      modern: () => modern.fetch(body.request, { authInfo, parsedBody: body.parsedBody }),
    };
    // Before the classifier, whose zod checks cost more than the lean exchange's own: it takes only
    // requests the classifier routes to the leg it answers for (lean-exchange.ts says why).
    const answered = await lean?.(body.request, body.parsedBody, call, sdk);
    if (answered) return answered;
    if (await isLegacyRequest(body.request, body.parsedBody)) return sdk.legacy();
    return sdk.modern();
  };
}

/** A JSON-RPC error answer, as the SDK gives for a body it cannot take. */
function rpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status });
}

/**
 * The body read and parsed once, under the SDK's size limit, then handed to the classifier and the
 * handler (otherwise the classifier clones the request and both read it). A body that is not JSON
 * goes on as text in a fresh request, so the SDK answers it as it always does.
 */
async function readJson(request: Request): Promise<{ request: Request; parsedBody?: unknown } | Response> {
  let text: string;
  const tooLarge = () =>
    rpcError(413, -32000, `Payload Too Large: Request body must not exceed ${DEFAULT_MAX_REQUEST_BODY_SIZE} bytes`);
  try {
    // A declared length is enforced by every runtime's HTTP parser, so text() is safe under the
    // limit, and the Node adapter reads it straight from the socket, without a web stream.
    const declared = Number(request.headers.get('content-length') ?? Number.NaN);
    if (Number.isSafeInteger(declared)) {
      if (declared > DEFAULT_MAX_REQUEST_BODY_SIZE) return tooLarge();
      text = await request.text();
    } else {
      const read = await readRequestBody(request, DEFAULT_MAX_REQUEST_BODY_SIZE);
      if (read.tooLarge) return tooLarge();
      text = read.text;
    }
  } catch {
    return rpcError(400, -32700, 'Parse error: the request body could not be read');
  }
  try {
    if (text) return { request, parsedBody: JSON.parse(text) };
  } catch {}
  return {
    request: new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: text,
      signal: request.signal,
    }),
  };
}
