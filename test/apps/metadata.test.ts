/**
 * What a host reads before it draws anything: each app tool names its ui:// view the way
 * @modelcontextprotocol/ext-apps' own helper writes it (and ChatGPT's key beside it), each view is
 * an HTML resource of the MCP Apps MIME type whose metadata passes the extension's schema, with a
 * CSP that allows no network for both MCP Apps and ChatGPT. Without a UI, the same tools answer
 * with a compact text a model can use.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { McpUiResourceMetaSchema, McpUiToolMetaSchema, RESOURCE_MIME_TYPE } from '@modelcontextprotocol/ext-apps';
import { registerAppTool } from '@modelcontextprotocol/ext-apps/server';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { APP_TOOLS } from '../../src/mcp/apps/tools.js';
import { APP_MIME_TYPE } from '../../src/mcp/apps/ui.js';
import { startStack, text, type Stack } from '../support/stack.js';

let stack: Stack;
let alice: Client;

before(async () => {
  stack = await startStack({ env: { ATOMIC_CRM_URL: 'https://crm.example.com' } });
  alice = await stack.connect(stack.users.alice);
});
after(async () => {
  await stack?.stop();
});

const appToolNames = APP_TOOLS.map((t) => t.name).sort();

test('the MIME type is the extension’s', () => {
  assert.equal(APP_MIME_TYPE, RESOURCE_MIME_TYPE);
});

test('every app tool names its view as registerAppTool would, passes the schema, and gives ChatGPT the same template', async () => {
  const { tools } = await alice.listTools();
  const listed = tools.filter((t) => appToolNames.includes(t.name));
  assert.deepEqual(listed.map((t) => t.name).sort(), appToolNames);
  for (const tool of listed) {
    const meta = tool._meta as Record<string, any>;
    McpUiToolMetaSchema.parse(meta.ui);
    assert.match(meta.ui.resourceUri, /^ui:\/\/atomic-crm\/\w+\.html$/);
    assert.equal(meta['openai/outputTemplate'], meta.ui.resourceUri);
    // The library's helper, given only the preferred key, adds exactly the other keys we send.
    let normalized: Record<string, unknown> | undefined;
    registerAppTool(
      {
        registerTool: ((_name: string, config: { _meta: Record<string, unknown> }) =>
          (normalized = config._meta)) as never,
      },
      tool.name,
      { _meta: { ui: meta.ui } },
      (() => ({ content: [] })) as never,
    );
    for (const [key, value] of Object.entries(normalized!)) assert.deepEqual(meta[key], value, key);
  }
});

test('every tool a view calls is listed and callable by an app (visibility absent, or naming "app")', async () => {
  const { tools } = await alice.listTools();
  const viewCalls = [
    'complete_task',
    'postpone_task',
    'move_deal',
    'archive_deal',
    'log_contact_note',
    ...appToolNames,
  ];
  for (const name of viewCalls) {
    const tool = tools.find((t) => t.name === name);
    assert.ok(tool, `${name} is listed`);
    const visibility = (tool._meta as any)?.ui?.visibility as string[] | undefined;
    assert.ok(visibility === undefined || visibility.includes('app'), `${name} is app-visible`);
  }
});

test('every view is listed and reads as self-contained MCP App HTML with a no-network CSP', async () => {
  const { tools } = await alice.listTools();
  const uris = tools.flatMap((t) => ((t._meta as any)?.ui?.resourceUri ? [(t._meta as any).ui.resourceUri] : []));
  const { resources } = await alice.listResources();
  for (const uri of uris) {
    const listed = resources.find((r) => r.uri === uri);
    assert.ok(listed, `${uri} is listed`);
    assert.equal(listed.mimeType, RESOURCE_MIME_TYPE);
    const { contents } = await alice.readResource({ uri });
    const [content] = contents as [{ uri: string; mimeType: string; text: string; _meta: Record<string, any> }];
    assert.equal(content.mimeType, RESOURCE_MIME_TYPE);
    const ui = McpUiResourceMetaSchema.parse(content._meta.ui);
    assert.deepEqual(ui.csp, { connectDomains: [], resourceDomains: [] });
    assert.deepEqual(content._meta['openai/widgetCSP'], { connect_domains: [], resource_domains: [] });
    assert.match(content.text, /^<!doctype html>/);
    // The script's string literals may name URLs (JSON Schema dialects); the markup and CSS load none.
    const markup = content.text.replace(/<script>[\s\S]*<\/script>/, '<script></script>');
    assert.doesNotMatch(markup, /<script[^>]+src=|<link[\s>]|<img[\s>]|@import|url\(|https?:/i, 'nothing is fetched');
  }
});

test('show_tasks without a UI: one compact line per task, the data fenced as untrusted, and the next tools named', async () => {
  const result = await alice.callTool({ name: 'show_tasks', arguments: { who: 'everyone', limit: 3 } });
  const body = text(result);
  assert.match(body, /^3\+ tasks \(the first 3; narrow the filters or raise limit\)\. Complete one with complete_task/);
  const lines = body.split('\n').filter((l) => /^#\d+ /.test(l));
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^#\d+ due \d{4}-\d{2}-\d{2}( [\w-]+)?: .+ — .+/);
  assert.match(body, /<untrusted-data-[0-9a-f]{16}>/);
  const data = result.structuredContent as { tasks: { contact_url: string; contact_id: number }[] };
  assert.equal(data.tasks[0]!.contact_url, `https://crm.example.com/#/contacts/${data.tasks[0]!.contact_id}/show`);
});
