/**
 * Everything a server offers besides tools, registered on each request's server in one call:
 * resources (resources.ts), prompts (prompts.ts) and the completion of their arguments
 * (completion.ts).
 */
import type { McpServer } from '@modelcontextprotocol/server';
import { registerCompletion } from './completion.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import type { CallContext, McpDeps } from './server.js';

export function registerResourcesAndPrompts(server: McpServer, deps: McpDeps, call: CallContext): void {
  // Declared before registering, so the SDK keeps these bits instead of defaulting listChanged to
  // true: both lists are fixed for the life of the process, and a stateless server has no stream to
  // announce a change on. Nothing can be subscribed to either.
  server.server.registerCapabilities({
    resources: { listChanged: false, subscribe: false },
    prompts: { listChanged: false },
    completions: {},
  });
  registerResources(server, deps, call);
  registerPrompts(server, deps, call);
  registerCompletion(server, deps, call);
}
