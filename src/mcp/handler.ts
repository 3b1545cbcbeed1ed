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
  /** Aborts the call: the client went away, or the server is shutting down. */
  signal: AbortSignal;
  principal: Principal;
  token: string;
  requestId: string;
}

export function createMcpHandler(deps: McpDeps): (call: McpRequest) => Promise<Response> {
  return async ({ request, signal, principal, token, requestId }) => {
    const server = createMcpServer(deps, { principal, requestId });
    // JSON responses: tools report no progress, and a plain response ends with the call.
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    // A client that goes away: closing the transport aborts the tool's signal, which cancels its
    // statement in PostgreSQL. The transport then never answers, so the response is settled here
    // (nobody will read it); otherwise the request would count as in flight forever.
    let onAbort = () => {};
    const abandoned = new Promise<Response>((resolve) => {
      onAbort = () => {
        void transport.close();
        resolve(new Response(null, { status: 499 }));
      };
    });
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
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
      signal.removeEventListener('abort', onAbort);
      await server.close();
    }
  };
}
