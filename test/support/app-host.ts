/**
 * The host side of the MCP Apps browser tests: an HTTP server standing for a chat client's web
 * app. It serves the host page (test/apps/host/host.ts, bundled with esbuild on start) and, on
 * /mcp, forwards to the real MCP endpoint adding the user's bearer token, as a host's backend
 * does: the page and the view never hold the token, and everything the browser loads comes from
 * this one origin.
 *
 * @example
 *   const host = await startAppHost({ mcpUrl: stack.url, token: await stack.token(stack.users.alice) });
 *   await page.goto(host.url);
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Frame, Page } from 'playwright-core';
import type {} from '../apps/host/host.js';

const HOST_ENTRY = fileURLToPath(new URL('../apps/host/host.ts', import.meta.url));
const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'origin', 'referer']);

export interface AppHost {
  url: string;
  origin: string;
  /** Replaces the token the backend adds (another user signs in). */
  signIn(token: string): void;
  close(): Promise<void>;
}

let bundled: Promise<string> | undefined;
function hostScript(): Promise<string> {
  bundled ??= build({
    entryPoints: [HOST_ENTRY],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0]!.text);
  return bundled;
}

const PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Apps test host</title>' +
  '<style>body{margin:0;padding:16px;font-family:sans-serif}body[data-theme=dark]{background:#111}' +
  '#frame{max-width:1240px;border:1px solid #8884;border-radius:8px;overflow:hidden}</style></head>' +
  '<body><div id="frame"></div><script src="/host.js"></script></body></html>';

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startAppHost(options: { mcpUrl: string; token: string }): Promise<AppHost> {
  const script = await hostScript();
  let token = options.token;
  const server = createServer(async (request, response) => {
    try {
      const path = new URL(request.url ?? '/', 'http://host').pathname;
      if (path === '/' && request.method === 'GET') {
        return void response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE);
      }
      if (path === '/host.js' && request.method === 'GET') {
        return void response.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
      }
      if (path !== '/mcp') return void response.writeHead(404).end();
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (!HOP_BY_HOP.has(name) && typeof value === 'string') headers.set(name, value);
      }
      headers.set('authorization', `Bearer ${token}`);
      const forwarded = await fetch(options.mcpUrl, {
        method: request.method,
        headers,
        body: request.method === 'GET' || request.method === 'HEAD' ? undefined : new Uint8Array(await body(request)),
        signal: AbortSignal.timeout(30_000),
      });
      const out: Record<string, string> = {};
      forwarded.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name) && name !== 'content-encoding') out[name] = value;
      });
      response.writeHead(forwarded.status, out);
      if (forwarded.body) Readable.fromWeb(forwarded.body as never).pipe(response);
      else response.end();
    } catch (error) {
      response.writeHead(502).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/`,
    origin,
    signIn: (next) => void (token = next),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Has the host page (already at host.url) run `tool` and draw its view; resolves with the view's
 * frame once `heading` shows.
 */
export async function showInHost(
  page: Page,
  tool: string,
  args: Record<string, unknown>,
  heading: RegExp,
  theme: 'light' | 'dark' = 'light',
): Promise<Frame> {
  await page.evaluate(([name, a, t]) => window.showTool(name as string, a as Record<string, unknown>, t as 'light'), [
    tool,
    args,
    theme,
  ] as const);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  if (!frame) throw new Error('the view is not in an iframe');
  await frame.getByRole('heading', { name: heading }).waitFor();
  return frame;
}

/** The audit lines (`tool_call`) the server logged for `tool`. */
export function auditLines(logs: readonly string[], tool: string): Record<string, unknown>[] {
  return logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.event === 'tool_call' && l.tool === tool);
}
