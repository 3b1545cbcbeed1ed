/**
 * MCP Apps (the `io.modelcontextprotocol/ui` extension; docs/mcp-apps.md): each app tool names a
 * `ui://` resource, a self-contained HTML view that the host renders in a sandboxed iframe and
 * feeds the tool's result. The views are bundled at build time into views.generated.ts
 * (`npm run build:apps`), so every runtime serves them from memory with no file system. That
 * module (≈ 0.8 MB of script and source text, ≈ 1 MB of RSS) loads on the first read of a view:
 * a server whose clients never render one never holds it.
 *
 * The metadata keys are the extension's; test/apps/metadata.test.ts checks them against
 * @modelcontextprotocol/ext-apps' own schemas and helpers.
 */
import type { McpServer } from '@modelcontextprotocol/server';

/** The MIME type that marks an HTML resource as an MCP App view. */
export const APP_MIME_TYPE = 'text/html;profile=mcp-app';

export type AppView = 'tasks' | 'pipeline' | 'record';

const TITLES: Record<AppView, string> = {
  tasks: 'Atomic CRM tasks',
  pipeline: 'Atomic CRM deal pipeline',
  record: 'Atomic CRM record card',
};

export const viewUri = (view: AppView) => `ui://atomic-crm/${view}.html`;

/**
 * The tool's `_meta`: the view for MCP Apps hosts (and the older flat key some still read), and
 * the same template for ChatGPT, which reads its own key.
 */
export function appToolMeta(view: AppView): Record<string, unknown> {
  const uri = viewUri(view);
  return {
    ui: { resourceUri: uri },
    'ui/resourceUri': uri,
    'openai/outputTemplate': uri,
    'openai/widgetAccessible': true,
  };
}

/**
 * The view needs no network at all: its data arrives with the tool result and its actions go
 * through the host's tool proxy. Empty domain lists are the strictest policy both specs allow.
 */
const RESOURCE_META = {
  ui: { csp: { connectDomains: [], resourceDomains: [] }, prefersBorder: true },
  'openai/widgetCSP': { connect_domains: [], resource_domains: [] },
  'openai/widgetPrefersBorder': true,
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot' }[c]};`);
}

/** One view's document: the shared bundle, told which view to draw. */
export async function viewHtml(view: AppView): Promise<string> {
  const { VIEW_SCRIPT, VIEW_STYLE } = await import('./views.generated.js');
  return [
    '<!doctype html>',
    `<html lang="en" data-view="${view}">`,
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(TITLES[view])}</title>`,
    `<style>${VIEW_STYLE}</style></head>`,
    '<body><main id="app" aria-live="polite"><p class="muted">Loading…</p></main>',
    // A literal </script> cannot occur: the build escapes it (scripts/build-apps.ts).
    `<script>${VIEW_SCRIPT}</script></body></html>`,
  ].join('');
}

/** The views a tool draws (tools.ts); each is served as a resource. */
export const APP_VIEWS: readonly AppView[] = ['tasks', 'pipeline', 'record'];

/** The `ui://` resources, one per view, each served with its CSP. */
export function registerAppResources(server: McpServer, views: readonly AppView[] = APP_VIEWS): void {
  for (const view of views) {
    const uri = viewUri(view);
    server.registerResource(
      `${view}-view`,
      uri,
      {
        title: TITLES[view],
        description: `The HTML view of ${TITLES[view]}.`,
        mimeType: APP_MIME_TYPE,
        _meta: RESOURCE_META,
      },
      async () => ({ contents: [{ uri, mimeType: APP_MIME_TYPE, text: await viewHtml(view), _meta: RESOURCE_META }] }),
    );
  }
}
