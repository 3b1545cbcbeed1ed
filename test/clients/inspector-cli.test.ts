/**
 * The MCP Inspector's CLI mode (`npx @modelcontextprotocol/inspector --cli <url> --transport http
 * --method …`) against the server, as a developer would run it.
 *
 * Inspector 2.x takes the bearer token as `--header "Authorization: Bearer …"` and negotiates
 * either era (`--protocol-era legacy|auto|modern`, legacy by default for an ad-hoc URL).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../support/stack.js';
import { freePort } from '../../dev/ports.js';
import { TOOL_NAMES } from '../support/tool-names.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_TIMEOUT_MS = 60_000;
const OPENER = path.join(ROOT, 'test/support/oauth-client.ts');

describe('MCP Inspector CLI', () => {
  let stack: Stack;
  let dir: string;
  before(async () => {
    stack = await startStack();
    dir = await mkdtemp(path.join(tmpdir(), 'inspector-cli-'));
  });
  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function inspector(token: string | undefined, ...args: string[]) {
    return inspectorWith({}, token ? ['--header', `Authorization: Bearer ${token}`] : ['--stored-auth-only'], ...args);
  }

  async function inspectorWith(extraEnv: Record<string, string>, auth: string[], ...args: string[]) {
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...extraEnv,
      // Its OAuth state lives here, not in the developer's home.
      HOME: dir,
      // The devDependency, never a download (`--no` on the command line would make npm eat the CLI's flags).
      npm_config_yes: 'false',
    };
    return run(
      'npx',
      ['@modelcontextprotocol/inspector', '--cli', stack.url, '--transport', 'http', ...auth, ...args],
      {
        cwd: ROOT,
        env,
        timeout: CLI_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 10 * 1024 * 1024,
      },
    );
  }

  for (const era of ['legacy', 'modern'] as const) {
    test(`${era} era: tools/list shows every tool`, async () => {
      const { stdout } = await inspector(
        await stack.token(stack.users.alice),
        '--protocol-era',
        era,
        '--method',
        'tools/list',
      );
      const { tools } = JSON.parse(stdout) as { tools: { name: string; inputSchema: unknown }[] };
      assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
    });

    test(`${era} era: tools/call query runs as the token’s user`, async () => {
      const user = stack.users.bob;
      const { stdout } = await inspector(
        await stack.token(user),
        '--protocol-era',
        era,
        '--method',
        'tools/call',
        '--tool-name',
        'query',
        '--tool-arg',
        'sql=select email from sales where user_id = auth.uid()',
      );
      const result = JSON.parse(stdout) as { isError?: boolean; structuredContent?: { rows: unknown[] } };
      assert.notEqual(result.isError, true, stdout);
      assert.deepEqual(result.structuredContent?.rows, [{ email: user.email }]);
    });
  }

  test('signs in through OAuth on its own (browser → consent → callback) and calls a tool on 2026-07-28', async () => {
    const user = stack.users.alice;
    // `open` runs xdg-open, which runs $BROWSER when no desktop is detected: our stand-in browser.
    const browser = path.join(dir, 'browser.sh');
    const consentLog = path.join(dir, 'browser.log');
    await writeFile(browser, `#!/bin/sh\nexec "${process.execPath}" --import tsx "${OPENER}" "$1"\n`);
    await chmod(browser, 0o755);
    const env: Record<string, string> = {
      MCP_AUTO_OPEN_ENABLED: 'true',
      BROWSER: browser,
      CONSENT_EMAIL: user.email,
      CONSENT_PASSWORD: user.password,
      CONSENT_LOG: consentLog,
      DISPLAY: '',
      WAYLAND_DISPLAY: '',
      XDG_CURRENT_DESKTOP: '',
    };
    const callback = `http://127.0.0.1:${await freePort()}/oauth/callback`;
    stack.requests.length = 0;
    const { stdout } = await inspectorWith(
      env,
      ['--callback-url', callback],
      '--protocol-era',
      'modern',
      '--method',
      'tools/call',
      '--tool-name',
      'query',
      '--tool-arg',
      'sql=select email from sales where user_id = auth.uid()',
    ).catch(async (error: { stdout?: string; stderr?: string }) => {
      throw new Error(
        `${error.stderr}${error.stdout}\n--- browser log ---\n${await readFile(consentLog, 'utf8').catch(() => '(none)')}`,
      );
    });
    const result = JSON.parse(stdout) as { structuredContent?: { rows: unknown[] } };
    assert.deepEqual(result.structuredContent?.rows, [{ email: user.email }]);
    assert.match(await readFile(consentLog, 'utf8'), /consent done/);
    const seen = [...stack.requests];
    assert.ok(seen.includes('POST /mcp tools/call → 200'), seen.join('\n'));
    console.log(
      `# Inspector CLI (OAuth, modern): ${seen.length} requests to the MCP server from connect to first tool result: ${seen.join(', ')}`,
    );
  });

  test('without a token (and no stored sign-in) the CLI fails with auth_required instead of printing results', async () => {
    await assert.rejects(
      inspector(undefined, '--method', 'tools/list'),
      (error: { code?: number; stdout?: string; stderr?: string }) => {
        assert.notEqual(error.code, 0);
        assert.match(`${error.stderr}${error.stdout}`, /auth_required/);
        return true;
      },
    );
  });
});
