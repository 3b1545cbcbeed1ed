/**
 * The official conformance suite's 2026-07-28 requirement set (`@modelcontextprotocol/conformance`
 * 0.2.0-alpha, installed as `conformance-2026`) against the server: one run of the whole set, then
 * one test per scenario over its recorded checks. The 2025-11-25 set runs in conformance.test.ts.
 *
 * A scenario that applies must pass every check, except the checks listed below that need the
 * reference server's diagnostic tools or features this server does not offer (each with why).
 * Credentials are injected as in conformance.test.ts; it runs under Bun on Node < 22.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../support/stack.js';
import { writeBearerPreload } from '../support/oauth-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SUITE = path.join(ROOT, 'node_modules/@modelcontextprotocol/conformance-2026/dist/index.js');
const BUN = path.join(ROOT, 'node_modules/.bin/bun');
const RUN_TIMEOUT_MS = 100_000;

/** Scenarios that apply to any 2026-07-28 server offering tools over HTTP. */
const APPLICABLE = [
  'server-stateless',
  'tools-list',
  'caching',
  'dns-rebinding-protection',
  'http-header-validation',
  'server-sse-multiple-streams',
  'input-required-result-unsupported-methods',
  'input-required-result-validate-input',
  'resources-list',
  'prompts-list',
  'sep-2164-resource-not-found',
] as const;

/** Checks inside applicable scenarios that need what this server does not have. */
const CHECKS_NOT_APPLICABLE: Record<string, string> = {
  'sep-2575-server-rejects-undeclared-capability': "needs the reference server's test_missing_capability tool",
  'sep-2575-missing-capability-http-400': "needs the reference server's test_missing_capability tool",
  'sep-2575-http-server-no-independent-requests-on-stream':
    "needs the reference server's test_streaming_elicitation tool",
  'sep-2575-server-no-log-without-loglevel':
    "needs the reference server's test_logging_tool (this server sends no log notifications)",
};

const REFERENCE_TOOLS = "expects the reference 'everything' server's test_* tools";
const REFERENCE_PROMPT = (name: string) => `expects the reference server's ${name} prompt`;
const REFERENCE_RESOURCE = (uri: string) => `expects the reference server's ${uri} resource`;

/** Every other scenario the 2026-07-28 set runs, and why it does not apply here. */
export const NOT_APPLICABLE: Record<string, string> = {
  'completion-complete':
    "asks about the reference server's test_prompt_with_arguments; an unknown prompt is -32602, as the spec says",
  'tools-call-simple-text': REFERENCE_TOOLS,
  'tools-call-image': REFERENCE_TOOLS,
  'tools-call-audio': REFERENCE_TOOLS,
  'tools-call-embedded-resource': REFERENCE_TOOLS,
  'tools-call-mixed-content': REFERENCE_TOOLS,
  'tools-call-error': `${REFERENCE_TOOLS} (our tool errors are covered by our own tests)`,
  'tools-call-with-progress': `${REFERENCE_TOOLS}; our tools report no progress`,
  'json-schema-2020-12': "expects the reference server's json_schema_2020_12_tool (pending in the suite)",
  'http-custom-header-server-validation': 'no tool declares x-mcp-header parameters (pending in the suite)',
  'resources-read-text': REFERENCE_RESOURCE('test://static-text'),
  'resources-read-binary': REFERENCE_RESOURCE('test://static-binary'),
  'resources-templates-read': REFERENCE_RESOURCE('test://template/{id}/data'),
  'prompts-get-simple': REFERENCE_PROMPT('test_simple_prompt'),
  'prompts-get-with-args': REFERENCE_PROMPT('test_prompt_with_arguments'),
  'prompts-get-embedded-resource': REFERENCE_PROMPT('test_prompt_with_embedded_resource'),
  'prompts-get-with-image': REFERENCE_PROMPT('test_prompt_with_image'),
  'input-required-result-basic-elicitation': `${REFERENCE_TOOLS} (mutate's confirmation is tested in test/mcp/confirm.test.ts)`,
  'input-required-result-basic-sampling': `${REFERENCE_TOOLS}; the server never samples`,
  'input-required-result-basic-list-roots': `${REFERENCE_TOOLS}; the server never asks for roots`,
  'input-required-result-request-state': REFERENCE_TOOLS,
  'input-required-result-multiple-input-requests': REFERENCE_TOOLS,
  'input-required-result-multi-round': REFERENCE_TOOLS,
  'input-required-result-missing-input-response': REFERENCE_TOOLS,
  'input-required-result-non-tool-request': REFERENCE_PROMPT('test_input_required_result_prompt'),
  'input-required-result-result-type': REFERENCE_TOOLS,
  'input-required-result-tampered-state': `${REFERENCE_TOOLS} (tampered confirmations are tested in test/mcp/confirm.test.ts)`,
  'input-required-result-capability-check': REFERENCE_TOOLS,
  'input-required-result-ignore-extra-params': REFERENCE_TOOLS,
  'tasks-lifecycle': 'tasks extension (not scored for 2026-07-28): the server declares no tasks',
  'tasks-capability-negotiation': 'tasks extension (not scored): no tasks',
  'tasks-wire-fields': 'tasks extension (not scored): no tasks',
  'tasks-request-state-removal': 'tasks extension (not scored): no tasks',
  'tasks-mrtr-input': 'tasks extension (not scored): no tasks',
  'tasks-request-headers': 'tasks extension (not scored): no tasks',
  'tasks-dispatch-and-envelope': 'tasks extension (not scored): no tasks',
  'tasks-status-notifications': 'tasks extension (not scored): no tasks',
  'tasks-required-task-error': 'tasks extension (not scored): no tasks',
  'tasks-mrtr-composition': 'tasks extension (not scored): no tasks',
};

interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  description?: string;
  errorMessage?: string;
}

const onNode = typeof (fs as { globSync?: unknown }).globSync === 'function';

describe(`MCP conformance suite, 2026-07-28 requirement set (under ${onNode ? `Node ${process.version}` : 'Bun'})`, () => {
  let stack: Stack;
  let dir: string;
  const checks = new Map<string, Check[]>();
  let output = '';

  before(async () => {
    stack = await startStack();
    dir = await mkdtemp(path.join(tmpdir(), 'conformance-2026-'));
    const preload = await writeBearerPreload(dir);
    const env = { INJECT_BEARER_TOKEN: await stack.token(stack.users.alice), INJECT_BEARER_ORIGIN: stack.baseUrl };
    const args = [SUITE, 'server', '--url', stack.url, '--requirements', '2026-07-28', '-o', path.join(dir, 'out')];
    output = onNode
      ? await run(process.execPath, args, {
          ...env,
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim(),
        })
      : await run(BUN, ['--preload', preload, ...args], env);
    for (const entry of await readdir(path.join(dir, 'out'))) {
      const scenario = /^server-(.+)-\d{4}-\d\d-\d\dT/.exec(entry)?.[1];
      if (scenario)
        checks.set(scenario, JSON.parse(await readFile(path.join(dir, 'out', entry, 'checks.json'), 'utf8')));
    }
  });
  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('every scenario of the set is either judged here or listed as not applicable, with a reason', () => {
    assert.ok(checks.size > 0, `the suite recorded no scenario:\n${output.slice(-3000)}`);
    const unknown = [...checks.keys()].filter(
      (s) => !(APPLICABLE as readonly string[]).includes(s) && !(s in NOT_APPLICABLE),
    );
    assert.deepEqual(unknown, [], 'new scenarios in the suite: decide whether they apply');
    for (const [scenario, why] of Object.entries(NOT_APPLICABLE)) console.log(`# not applicable: ${scenario}: ${why}`);
    for (const [check, why] of Object.entries(CHECKS_NOT_APPLICABLE))
      console.log(`# check not applicable: ${check}: ${why}`);
  });

  for (const scenario of APPLICABLE) {
    test(scenario, () => {
      const recorded = checks.get(scenario);
      assert.ok(recorded, `scenario ${scenario} did not run:\n${output.slice(-3000)}`);
      const failed = recorded.filter((c) => c.status === 'FAILURE' && !(c.id in CHECKS_NOT_APPLICABLE));
      assert.deepEqual(
        failed.map((c) => `${c.id}: ${c.errorMessage ?? c.description}`),
        [],
      );
      const passed = recorded.filter((c) => c.status === 'SUCCESS').length;
      assert.ok(passed > 0, `${scenario}: no check passed`);
      console.log(`# ${scenario}: ${passed}/${recorded.length} checks passed`);
    });
  }
});

function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        timeout: RUN_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 50 * 1024 * 1024,
      },
      // The suite exits 1 when any scenario fails, applicable or not: the checks decide.
      (_error, stdout, stderr) => resolve(`${stdout}\n${stderr}`),
    );
  });
}
