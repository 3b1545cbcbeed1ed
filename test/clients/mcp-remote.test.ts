/**
 * mcp-remote, the stdio↔remote bridge desktop apps (Claude Desktop, Cursor…) use for remote servers,
 * run as a real subprocess: it discovers, registers and opens "the browser" on the authorize URL.
 * The browser is ours (BROWSER → test/support/oauth-client.ts as a command): it signs in on the
 * consent API, approves, and follows the redirect to mcp-remote's callback, as a person would.
 * We then speak MCP to mcp-remote over stdio.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { rows, startStack, type Stack } from '../support/stack.js';
import { freePort } from '../../dev/ports.js';
import { TOOL_NAMES } from '../support/tool-names.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROXY = path.join(ROOT, 'node_modules/mcp-remote/dist/proxy.js');
const OPENER = path.join(ROOT, 'test/support/oauth-client.ts');
const REQUEST_TIMEOUT_MS = 45_000;

let stack: Stack;
let dir: string;
before(async () => {
  stack = await startStack();
  dir = await mkdtemp(path.join(tmpdir(), 'mcp-remote-test-'));
});
after(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('mcp-remote signs in through the consent page and bridges tools, resources, prompts and completion over stdio', async () => {
  const user = stack.users.alice;
  const consentLog = path.join(dir, 'browser.log');
  // xdg-open (bundled with mcp-remote's `open`) runs $BROWSER with the URL when no desktop is detected.
  const browser = path.join(dir, 'browser.sh');
  await writeFile(browser, `#!/bin/sh\nexec "${process.execPath}" --import tsx "${OPENER}" "$1"\n`);
  await chmod(browser, 0o755);

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value !== undefined &&
      !/^(DISPLAY|WAYLAND_DISPLAY|XDG_CURRENT_DESKTOP|DESKTOP_SESSION|KDE_FULL_SESSION|GNOME_DESKTOP_SESSION_ID)$/.test(
        key,
      )
    ) {
      env[key] = value;
    }
  }
  Object.assign(env, {
    MCP_REMOTE_CONFIG_DIR: path.join(dir, 'mcp-auth'),
    BROWSER: browser,
    CONSENT_EMAIL: user.email,
    CONSENT_PASSWORD: user.password,
    CONSENT_LOG: consentLog,
  });

  const callbackPort = await freePort();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      PROXY,
      stack.url,
      String(callbackPort),
      '--host',
      '127.0.0.1',
      '--transport',
      'http-only',
      '--auth-timeout',
      '30',
    ],
    env,
    cwd: ROOT,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const diagnostics = async () =>
    `\n--- mcp-remote stderr ---\n${stderr.slice(-4000)}\n--- browser log ---\n${await readFile(consentLog, 'utf8').catch(() => '(none)')}`;

  const client = new Client({ name: 'mcp-remote-test', version: '1.0.0' });
  stack.requests.length = 0;
  try {
    try {
      await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    } catch (error) {
      assert.fail(`connecting through mcp-remote failed: ${(error as Error).message}${await diagnostics()}`);
    }
    const { tools } = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES, await diagnostics());

    const result = await client.callTool(
      { name: 'query', arguments: { sql: 'select email from sales where user_id = auth.uid()' } },
      undefined,
      { timeout: REQUEST_TIMEOUT_MS },
    );
    assert.deepEqual(rows(result), [{ email: user.email }]);
    // What the MCP server saw from connect to the first tool result (mcp-remote speaks 2025-11-25).
    const seen = [...stack.requests];
    assert.ok(seen.includes('POST /mcp initialize → 200'), seen.join('\n'));
    console.log(
      `# mcp-remote: ${seen.length} requests to the MCP server from connect to first tool result: ${seen.join(', ')}`,
    );

    // Resources, prompts and completion cross the bridge too, read as the same user.
    const timeout = { timeout: REQUEST_TIMEOUT_MS };
    const { resources } = await client.listResources(undefined, timeout);
    assert.deepEqual(resources.map((r) => r.uri).sort(), [
      'crm://configuration',
      'crm://schema',
      'ui://atomic-crm/pipeline.html',
      'ui://atomic-crm/record.html',
      'ui://atomic-crm/tasks.html',
    ]);
    const detail = await client.readResource({ uri: 'crm://schema/deals' }, timeout);
    assert.match(JSON.stringify(detail.contents[0]), /"text":"deals \(table, RLS on\)/);
    const { prompts } = await client.listPrompts(undefined, timeout);
    assert.ok(
      prompts.some((p) => p.name === 'meeting_prep'),
      prompts.map((p) => p.name).join(', '),
    );
    const prep = await client.getPrompt({ name: 'meeting_prep', arguments: { company: 'Acme' } }, timeout);
    assert.match(JSON.stringify(prep.messages), /company named \\"Acme\\".*search for the name, then fetch/);
    const tables = await client.complete(
      { ref: { type: 'ref/resource', uri: 'crm://schema/{table}' }, argument: { name: 'table', value: 'deal' } },
      timeout,
    );
    assert.deepEqual(tables.completion.values, ['deal_notes', 'deals']);

    // The browser really went through consent and mcp-remote kept its tokens in our temp dir.
    const browserLog = await readFile(consentLog, 'utf8');
    assert.match(browserLog, /consent done/);
    assert.match(browserLog, /callback answered 200/);
    const saved = (await readdir(path.join(dir, 'mcp-auth'), { recursive: true })).map(String);
    assert.ok(
      saved.some((f) => f.endsWith('_tokens.json')),
      `token file in MCP_REMOTE_CONFIG_DIR: ${saved.join(', ')}`,
    );
  } finally {
    await client.close();
  }
});
