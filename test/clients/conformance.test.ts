/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance server`) against the
 * server, scenario by scenario, for the scenarios that apply to a server like ours.
 *
 * - The suite sends no credentials: a preloaded module adds `Authorization: Bearer <token>` to its
 *   requests to our origin (global fetch, and undici's request() used by dns-rebinding-protection).
 * - It needs Node ≥ 22 (`fs.globSync`). On older Node it runs under Bun (the `bun` devDependency).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../support/stack.js';
import { writeBearerPreload } from '../support/oauth-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SUITE = path.join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const BUN = path.join(ROOT, 'node_modules/.bin/bun');
const SCENARIO_TIMEOUT_MS = 60_000;

/** Scenarios that apply to any MCP server offering tools, resources and prompts. */
const APPLICABLE = [
  'server-initialize',
  'ping',
  'tools-list',
  'resources-list',
  'prompts-list',
  'dns-rebinding-protection',
] as const;

/** Every other server scenario of conformance 0.1.16, and why it does not apply here. */
export const NOT_APPLICABLE: Record<string, string> = {
  'logging-set-level':
    'the server does not declare the logging capability (stateless JSON-RPC over POST; log notifications would need a stream per request)',
  'completion-complete':
    "asks about the reference server's test_prompt_with_arguments; an unknown prompt is -32602, as the spec says",
  'tools-call-simple-text': "expects the reference 'everything' server's test_* tools",
  'tools-call-image': "expects the reference server's test_image_content tool",
  'tools-call-audio': "expects the reference server's test_audio_content tool",
  'tools-call-embedded-resource': "expects the reference server's test_embedded_resource tool",
  'tools-call-mixed-content': "expects the reference server's test_multiple_content_types tool",
  'tools-call-with-logging': "expects the reference server's test_tool_with_logging tool and logging",
  'tools-call-error':
    "expects the reference server's test_error_handling tool (our tool errors are covered by our own tests)",
  'tools-call-with-progress': "expects the reference server's test_tool_with_progress tool",
  'tools-call-sampling': 'sampling needs a server-to-client request: impossible in stateless mode',
  'tools-call-elicitation': 'elicitation needs a server-to-client request: impossible in stateless mode',
  'json-schema-2020-12': "expects the reference server's json_schema_2020_12_tool",
  'elicitation-sep1034-defaults': 'elicitation: impossible in stateless mode',
  'elicitation-sep1330-enums': 'elicitation: impossible in stateless mode',
  'server-sse-polling': 'needs a session and a GET event stream; the server is stateless (GET → 405)',
  'server-sse-multiple-streams': 'needs a session and GET event streams; the server is stateless (GET → 405)',
  'resources-read-text': "expects the reference server's test://static-text resource",
  'resources-read-binary': "expects the reference server's test://static-binary resource",
  'resources-templates-read': "expects the reference server's test://template/{id}/data template",
  'resources-subscribe': 'the server declares no resource subscriptions (stateless: no stream to notify on)',
  'resources-unsubscribe': 'the server declares no resource subscriptions (stateless: no stream to notify on)',
  'prompts-get-simple': "expects the reference server's test_simple_prompt",
  'prompts-get-with-args': "expects the reference server's test_prompt_with_arguments",
  'prompts-get-embedded-resource': "expects the reference server's test_prompt_with_embedded_resource",
  'prompts-get-with-image': "expects the reference server's test_prompt_with_image",
};

const onNode = typeof (fs as { globSync?: unknown }).globSync === 'function';

describe(`MCP conformance suite (server scenarios, under ${onNode ? `Node ${process.version}` : 'Bun: Node < 22 lacks fs.globSync'})`, () => {
  let stack: Stack;
  let dir: string;
  let preload: string;
  let token: string;
  before(async () => {
    stack = await startStack();
    dir = await mkdtemp(path.join(tmpdir(), 'conformance-'));
    preload = await writeBearerPreload(dir);
    token = await stack.token(stack.users.alice);
  });
  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('every server scenario of the suite is either run here or listed as not applicable, with a reason', async () => {
    const command = onNode ? process.execPath : BUN;
    const { stdout } = await run(command, [SUITE, 'list'], {});
    const listed = [
      ...stdout
        .slice(stdout.indexOf('Server scenarios'), stdout.indexOf('Client scenarios'))
        .matchAll(/^\s*- ([\w-]+)/gm),
    ].map((m) => m[1]!);
    assert.ok(listed.length > 0, `could not read the scenario list:\n${stdout}`);
    const unknown = listed.filter((s) => !(APPLICABLE as readonly string[]).includes(s) && !(s in NOT_APPLICABLE));
    assert.deepEqual(unknown, [], 'new scenarios in the suite: decide whether they apply');
    for (const [scenario, why] of Object.entries(NOT_APPLICABLE)) console.log(`# not applicable: ${scenario}: ${why}`);
  });

  for (const scenario of APPLICABLE) {
    test(scenario, async () => {
      const env = { INJECT_BEARER_TOKEN: token, INJECT_BEARER_ORIGIN: stack.baseUrl };
      const args = [SUITE, 'server', '--url', stack.url, '--scenario', scenario, '-o', path.join(dir, scenario)];
      const result = onNode
        ? await run(process.execPath, args, {
            ...env,
            NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim(),
          })
        : await run(BUN, ['--preload', preload, ...args], env);
      assert.equal(
        result.code,
        0,
        `conformance ${scenario} exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
      );
      assert.match(result.stdout.replace(/\x1b\[[0-9;]*m/g, ''), /Passed: (\d+)\/\1, 0 failed/, result.stdout);
    });
  }
});

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        timeout: SCENARIO_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 10 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
