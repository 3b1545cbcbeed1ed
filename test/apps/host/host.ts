/**
 * A minimal MCP Apps host page, built on @modelcontextprotocol/ext-apps' AppBridge the way Claude
 * or VS Code host a view: an MCP client (to this page's own origin, whose backend forwards to the
 * MCP server with the user's token), the tool called, its `ui://` resource read and loaded into a
 * sandboxed iframe (scripts only, opaque origin) under the CSP the resource declares, the tool's
 * input and result delivered, and the view's tool calls and link requests served.
 */
import { AppBridge, getToolUiResourceUri, PostMessageTransport } from '@modelcontextprotocol/ext-apps/app-bridge';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

interface HostLog {
  /** Every tools/call the view made through the host, in order. */
  viewCalls: { name: string; arguments: unknown; isError: boolean }[];
  openedLinks: string[];
  /** The `ui/initialize` handshake completed. */
  initialized: boolean;
}

declare global {
  interface Window {
    hostLog: HostLog;
    showTool(name: string, args: Record<string, unknown>, theme: 'light' | 'dark'): Promise<string>;
  }
}

window.hostLog = { viewCalls: [], openedLinks: [], initialized: false };

/** The CSP a host derives from `_meta.ui.csp`: nothing from the network unless declared. */
function contentSecurityPolicy(csp: { connectDomains?: string[]; resourceDomains?: string[] } | undefined): string {
  const connect = csp?.connectDomains?.length ? csp.connectDomains.join(' ') : "'none'";
  const resources = csp?.resourceDomains?.length ? ` ${csp.resourceDomains.join(' ')}` : '';
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline'${resources}`,
    `style-src 'unsafe-inline'${resources}`,
    `img-src data:${resources}`,
    `font-src data:${resources}`,
    `connect-src ${connect}`,
    "frame-src 'none'",
  ].join('; ');
}

let client: Client | undefined;
async function connected(): Promise<Client> {
  if (client) return client;
  const next = new Client({ name: 'apps-test-host', version: '1.0.0' });
  await next.connect(new StreamableHTTPClientTransport(new URL('/mcp', location.href)));
  return (client = next);
}

window.showTool = async (name, args, theme) => {
  const mcp = await connected();
  const { tools } = await mcp.listTools();
  const tool = tools.find((t) => t.name === name);
  if (!tool) throw new Error(`no tool ${name}`);
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(`${name} names no ui:// resource`);
  const result = await mcp.callTool({ name, arguments: args });
  const resource = await mcp.readResource({ uri });
  const content = resource.contents[0] as { text?: string; mimeType?: string; _meta?: { ui?: { csp?: object } } };
  if (!content?.text) throw new Error(`${uri} has no HTML`);

  const iframe = document.createElement('iframe');
  iframe.title = tool.title ?? name;
  iframe.setAttribute('sandbox', 'allow-scripts');
  iframe.style.cssText = 'width:100%;border:0;height:200px;display:block';
  document.getElementById('frame')!.replaceChildren(iframe);
  document.body.dataset.theme = theme;

  // No client handed to the bridge: it would forward the view's calls itself; this host forwards
  // them in oncalltool below so the test can see each one.
  const bridge = new AppBridge(
    null,
    { name: 'Apps test host', version: '1.0.0' },
    { openLinks: {}, serverTools: {}, logging: {} },
    {
      hostContext: {
        theme,
        toolInfo: { tool },
        displayMode: 'inline',
        availableDisplayModes: ['inline'],
        locale: 'en-US',
        timeZone: 'UTC',
        platform: 'web',
      },
    },
  );
  bridge.onopenlink = async ({ url }) => {
    window.hostLog.openedLinks.push(url);
    return {};
  };
  bridge.onsizechange = ({ height }) => {
    if (height) iframe.style.height = `${Math.ceil(height)}px`;
  };
  bridge.oncalltool = async (params) => {
    const answer = await mcp.callTool(params);
    window.hostLog.viewCalls.push({ name: params.name, arguments: params.arguments, isError: answer.isError === true });
    return answer as never;
  };
  const initialized = new Promise<void>((resolve) => {
    bridge.oninitialized = () => {
      window.hostLog.initialized = true;
      resolve();
    };
  });
  await bridge.connect(new PostMessageTransport(iframe.contentWindow!, iframe.contentWindow!));
  const csp = contentSecurityPolicy(content._meta?.ui?.csp);
  iframe.srcdoc = content.text.replace('<head>', `<head><meta http-equiv="Content-Security-Policy" content="${csp}">`);
  await initialized;
  await bridge.sendToolInput({ arguments: args });
  await bridge.sendToolResult(result as never);
  return content.mimeType ?? '';
};
