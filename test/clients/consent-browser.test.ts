/**
 * The consent page in a real browser (Debian's Chromium via playwright-core), as a person uses it:
 * an authorization starts, the page asks them to sign in, shows which application asks for what,
 * they click Approve and land on the application's redirect URI with a code, which the application
 * exchanges (PKCE) for a token the MCP server accepts. A screenshot of the consent screen is saved
 * to .test-artifacts/consent.png.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { rows, startStack, type Stack } from '../support/stack.js';

const ARTIFACTS = fileURLToPath(new URL('../../.test-artifacts/', import.meta.url));
const UI_TIMEOUT_MS = 15_000;
const CLIENT_NAME = 'Consent Browser Test App';

let stack: Stack;
let browser: Browser | undefined;
let callback: Server;
let callbackUrl: string;

before(async () => {
  // Fail first (with install instructions) if Chromium is missing, before starting anything else.
  browser = await launchChromium();
  stack = await startStack();
  // The application's redirect URI: a page that just says it received the code.
  callback = createServer((_, res) =>
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('Signed in. You can close this tab.'),
  );
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
});
after(async () => {
  await browser?.close();
  if (callback) await new Promise<void>((resolve) => callback.close(() => resolve()));
  await stack?.stop();
});

test('a person signs in on the consent page, sees the client, approves, and the code buys a working token', async () => {
  const user = stack.users.alice;
  const registered = await stack.auth.registerClient({
    redirect_uris: [callbackUrl],
    token_endpoint_auth_method: 'none',
    client_name: CLIENT_NAME,
  });
  const clientId = String(registered.client_id);
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(`${stack.auth.issuer}/oauth/authorize`);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: callbackUrl,
    response_type: 'code',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    scope: 'email',
    resource: stack.url,
  }).toString();

  const context = await browser!.newContext({ viewport: { width: 900, height: 700 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  try {
    await page.goto(authorize.href);
    assert.match(
      page.url(),
      /\/#\/oauth\/consent\?authorization_id=/,
      'the authorize endpoint sends the browser to the consent page',
    );

    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    const heading = page.getByRole('heading', { name: `${CLIENT_NAME} wants to access your account` });
    await heading.waitFor();
    assert.equal(await page.locator('#user-email').textContent(), user.email);
    assert.deepEqual(
      await page.getByRole('list', { name: 'Requested scopes' }).getByRole('listitem').allTextContents(),
      ['email'],
    );
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}consent.png`, fullPage: true });

    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${callbackUrl}?`));
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('state'), state);
    assert.equal(landed.searchParams.get('error'), null);
    const code = landed.searchParams.get('code');
    assert.ok(code, `no code in ${landed.href}`);
    assert.match(await page.locator('body').innerText(), /Signed in/);

    // The application exchanges the code (public client + PKCE) …
    const tokenResponse = await fetch(`${stack.auth.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: callbackUrl,
        client_id: clientId,
        code_verifier: verifier,
        resource: stack.url,
      }),
      signal: AbortSignal.timeout(UI_TIMEOUT_MS),
    });
    const tokens = (await tokenResponse.json()) as {
      access_token?: string;
      refresh_token?: string;
      token_type?: string;
    };
    assert.equal(tokenResponse.status, 200, JSON.stringify(tokens));
    assert.equal(tokens.token_type, 'bearer');
    assert.ok(tokens.access_token && tokens.refresh_token);

    // … and the MCP server accepts the token as that person.
    const client = new Client({ name: 'consent-browser-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.url), {
        requestInit: { headers: { Authorization: `Bearer ${tokens.access_token}` } },
      }),
    );
    try {
      const result = await client.callTool({
        name: 'query',
        arguments: { sql: 'select email from sales where user_id = auth.uid()' },
      });
      assert.deepEqual(rows(result), [{ email: user.email }]);
    } finally {
      await client.close();
    }
  } finally {
    await context.close();
  }
});
