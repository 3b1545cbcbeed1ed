/**
 * The views' entry point, running inside the host's sandboxed iframe. It draws whatever the tool
 * result carries (structuredContent, fetched by the server as the signed-in user), and every
 * action is a tools/call through the host: the server applies the same policy, RLS and audit as
 * for the model. After an action the view asks the server again instead of patching its copy.
 */
import {
  App,
  applyDocumentTheme,
  applyHostStyleVariables,
  type McpUiHostContext,
} from '@modelcontextprotocol/ext-apps';
import { h } from './dom.js';
import { renderPipeline } from './pipeline.js';
import { renderRecord } from './record.js';
import { renderTasks } from './tasks.js';

export interface ViewData {
  /** Which show_* tool drew this, and with which arguments: refreshing asks it again. */
  tool: string;
  args: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ViewContext {
  /** Calls a server tool; throws with the tool's own message when it answers with an error. */
  call(name: string, args: Record<string, unknown>): Promise<unknown>;
  /** Calls the tool, then redraws from a fresh read. */
  act(name: string, args: Record<string, unknown>): Promise<void>;
  /** Redraws with other arguments for the same show_* tool (filters). */
  reload(args: Record<string, unknown>): Promise<void>;
  /** Opens a web-app page through the host (the sandbox cannot navigate). */
  open(url: string): void;
}

type Renderer = (data: ViewData, context: ViewContext) => Node;
const RENDERERS: Record<string, Renderer> = { tasks: renderTasks, pipeline: renderPipeline, record: renderRecord };

const root = document.getElementById('app')!;
const view = document.documentElement.dataset.view ?? 'tasks';
const app = new App({ name: 'Atomic CRM', version: '0.1.0' });
let current: ViewData | undefined;
let busy = false;

function errorText(result: { content?: { type: string; text?: string }[] }): string {
  const text = result.content?.find((c) => c.type === 'text')?.text ?? '';
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {}
  return text || 'The server refused the action.';
}

function draw(data: ViewData, error?: string): void {
  current = data;
  const render = RENDERERS[view];
  const body = render ? render(data, context) : h('p', {}, `Unknown view ${view}.`);
  root.replaceChildren(...(error ? [h('p', { class: 'error', role: 'alert' }, error), body] : [body]));
}

function showError(message: string): void {
  if (current) draw(current, message);
  else root.replaceChildren(h('p', { class: 'error', role: 'alert' }, message));
}

async function call(name: string, args: Record<string, unknown>): Promise<unknown> {
  const result = await app.callServerTool({ name, arguments: args });
  if (result.isError) throw new Error(errorText(result));
  return result.structuredContent;
}

async function reload(args: Record<string, unknown>): Promise<void> {
  if (!current) return;
  const data = (await call(current.tool, args)) as ViewData;
  draw(data);
}

/** One action at a time: a second click while the first runs is ignored, not queued. */
async function guarded(run: () => Promise<void>): Promise<void> {
  if (busy) return;
  busy = true;
  root.setAttribute('aria-busy', 'true');
  try {
    await run();
  } catch (error) {
    showError(error instanceof Error ? error.message : String(error));
  } finally {
    busy = false;
    root.removeAttribute('aria-busy');
  }
}

const context: ViewContext = {
  call,
  act: (name, args) =>
    guarded(async () => {
      await call(name, args);
      if (current) await reload(current.args);
    }),
  reload: (args) => guarded(() => reload(args)),
  open: (url) => {
    app.openLink({ url }).catch((error: unknown) => showError(`The host did not open the link: ${String(error)}`));
  },
};

function applyHost(host: McpUiHostContext | undefined): void {
  if (host?.theme) applyDocumentTheme(host.theme);
  if (host?.styles?.variables) applyHostStyleVariables(host.styles.variables);
}

app.ontoolresult = (result) => {
  if (result.isError) return showError(errorText(result));
  const data = result.structuredContent as ViewData | undefined;
  if (!data || typeof data.tool !== 'string') return showError('The tool result carries no data to show.');
  draw(data);
};
app.onhostcontextchanged = (changed) => applyHost({ ...app.getHostContext(), ...changed });
app.onteardown = async () => ({});

app.connect().then(
  () => applyHost(app.getHostContext()),
  (error: unknown) => showError(`Could not connect to the host: ${String(error)}`),
);
