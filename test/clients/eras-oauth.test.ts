/**
 * Clients of both protocol eras through the whole OAuth flow (401 → metadata → registration →
 * consent → token), each counted from connect to its first tool result, as the MCP server saw
 * them: the v2 SDK client pinned to 2026-07-28, the v2 client negotiating on its own ('auto'),
 * and the 1.32 SDK client (2025-11-25). mcp-remote and the Inspector CLI are counted in their
 * own files. Before the v2 server, a dual-era client needed 6 requests and landed on 2025-11-25.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rows, startStack, type Stack } from '../support/stack.js';
import { connectModernWithOAuth, connectWithOAuth, HeadlessOAuthProvider } from '../support/oauth-client.js';

const OWN_ROW = 'select email from sales where user_id = auth.uid()';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

/** The MCP server's requests during `fn`, and those after sign-in (the MCP exchange proper). */
async function counted(fn: () => Promise<void>): Promise<{ all: string[]; mcp: string[] }> {
  stack.requests.length = 0;
  await fn();
  const all = [...stack.requests];
  const signedIn = all.findIndex((line) => line.startsWith('POST /mcp') && !line.endsWith('→ 401'));
  return { all, mcp: signedIn < 0 ? [] : all.slice(signedIn) };
}

function report(name: string, { all, mcp }: { all: string[]; mcp: string[] }): void {
  console.log(
    `# ${name}: ${all.length} requests to the MCP server from connect to first tool result, ${mcp.length} of them after sign-in: ${mcp.join(', ')}`,
  );
}

describe('OAuth, then the first tool call, per client', () => {
  for (const [label, mode] of [
    ['v2 SDK client pinned to 2026-07-28', { pin: '2026-07-28' }],
    ['v2 SDK client in automatic mode', 'auto'],
  ] as const) {
    test(label, async () => {
      const user = stack.users.alice;
      const provider = new HeadlessOAuthProvider({ user, clientName: label });
      let client: Awaited<ReturnType<typeof connectModernWithOAuth>> | undefined;
      const count = await counted(async () => {
        client = await connectModernWithOAuth(stack.url, provider, mode);
        assert.deepEqual(rows(await client.callTool({ name: 'query', arguments: { sql: OWN_ROW } })), [
          { email: user.email },
        ]);
      });
      try {
        assert.equal(client!.getNegotiatedProtocolVersion(), '2026-07-28');
        assert.equal(provider.consents.length, 1, 'signed in once, through the consent page');
        assert.match(count.all[0]!, /^POST \/mcp server\/discover → 401$/);
        assert.ok(count.all.includes('GET /.well-known/oauth-protected-resource/mcp → 200'), count.all.join('\n'));
        assert.ok(count.mcp.includes('POST /mcp tools/call → 200'), count.mcp.join('\n'));
        assert.ok(!count.mcp.some((line) => / initialize /.test(line)), 'no 2025 handshake');
        assert.ok(count.mcp.length < 5, `2026 needs fewer requests than the 5–6 of before: ${count.mcp.join(', ')}`);
        report(label, count);
      } finally {
        await client?.close();
      }
    });
  }

  test('1.32 SDK client (2025-11-25)', async () => {
    const user = stack.users.bob;
    const provider = new HeadlessOAuthProvider({ user, clientName: '1.32 client' });
    let client: Awaited<ReturnType<typeof connectWithOAuth>> | undefined;
    const count = await counted(async () => {
      client = await connectWithOAuth(stack.url, provider);
      assert.deepEqual(rows(await client.callTool({ name: 'query', arguments: { sql: OWN_ROW } })), [
        { email: user.email },
      ]);
    });
    try {
      assert.equal((client!.transport as { protocolVersion?: string }).protocolVersion, '2025-11-25');
      assert.ok(
        count.mcp.some((line) => line === 'POST /mcp initialize → 200'),
        count.mcp.join('\n'),
      );
      report('1.32 SDK client', count);
    } finally {
      await client?.close();
    }
  });
});
