/**
 * The Web-standard MCP endpoint: Request in, Response out, on any runtime. Stateless: every POST
 * gets a fresh server and transport (a stateless transport cannot be reused), so any number of
 * instances can serve one client with no sticky sessions.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Principal } from '../auth/verify.js';
import { createMcpServer, type McpDeps } from './server.js';

export interface McpRequest {
  request: Request;
  principal: Principal;
  token: string;
  requestId: string;
}

export interface HandlerDeps extends McpDeps {
  /** Aborted when a shutdown stops waiting: running calls are then cancelled. */
  shutdownSignal?: AbortSignal;
}

export function createMcpHandler({ shutdownSignal, ...deps }: HandlerDeps): (call: McpRequest) => Promise<Response> {
  // Listeners rather than AbortSignal.any: a composite signal per request hanging off the
  // long-lived shutdown signal is what some runtimes keep alive.
  const endings = (request: Request) => (shutdownSignal ? [request.signal, shutdownSignal] : [request.signal]);
  return async ({ request, principal, token, requestId }) => {
    const server = createMcpServer(deps, { principal, requestId });
    // JSON responses: tools report no progress, and a plain response ends with the call.
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    // A client that goes away (or a shutdown that stops waiting): closing the transport aborts the
    // tool's signal, which cancels its statement in PostgreSQL. The transport then never answers,
    // so the response is settled here (nobody will read it); otherwise the request would count as
    // in flight forever.
    let onAbort = () => {};
    const abandoned = new Promise<Response>((resolve) => {
      onAbort = () => {
        void transport.close();
        resolve(new Response(null, { status: 499 }));
      };
    });
    const signals = endings(request);
    if (signals.some((s) => s.aborted)) onAbort();
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
    try {
      await server.connect(transport);
      const authInfo: AuthInfo = {
        token,
        clientId: principal.clientId ?? '',
        scopes: principal.scopes,
        expiresAt: principal.expiresAt,
        extra: { sub: principal.sub },
      };
      return await Promise.race([transport.handleRequest(request, { authInfo }), abandoned]);
    } finally {
      for (const s of signals) s.removeEventListener('abort', onAbort);
      await server.close();
    }
  };
}
