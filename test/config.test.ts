/**
 * Configuration: one clear message listing every problem, defaults that are safe, `--url=` for
 * ngrok, and no secret in any message.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, loadConfig, maskDatabaseUrl } from '../src/config.js';

const minimal = {
  SUPABASE_URL: 'https://abcd1234.supabase.co',
  DATABASE_URL: 'postgresql://mcp_login:s3cret@db.abcd1234.supabase.co:5432/postgres',
};

test('every problem is reported at once, with how to fix it, and the password masked', () => {
  assert.throws(
    () =>
      loadConfig({
        DATABASE_URL: 'mysql://root:hunter2@x/db',
        PORT: 'eighty',
        MAX_ROWS: '-1',
        ALLOWED_ORIGINS: 'not a url',
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.equal(error.problems.length, 5, error.message);
      assert.match(error.message, /SUPABASE_URL is required: your project URL/);
      assert.match(error.message, /DATABASE_URL must be a postgres:\/\/ connection string/);
      assert.match(error.message, /PORT/);
      assert.match(error.message, /MAX_ROWS/);
      assert.match(error.message, /ALLOWED_ORIGINS/);
      assert.match(error.message, /\.env\.example/);
      assert.ok(!error.message.includes('hunter2'), 'the password never appears');
      return true;
    },
  );
});

test('defaults are the safe ones', () => {
  const config = loadConfig(minimal);
  assert.equal(config.auth.issuer, 'https://abcd1234.supabase.co/auth/v1');
  assert.equal(config.auth.jwksUrl, 'https://abcd1234.supabase.co/auth/v1/.well-known/jwks.json');
  assert.equal(config.resourceUrl, 'http://localhost:3000/mcp');
  assert.equal(config.auth.allowSessionTokens, false);
  assert.equal(config.allowPrivilegedLoginRole, false);
  assert.equal(config.limits.statementTimeoutMs, 8000);
  assert.equal(config.limits.maxRows, 200);
  assert.equal(config.limits.maxBytes, 40_000);
  assert.equal(config.log.statements, false);
});

test('--url= from the command line (ngrok) wins over MCP_SERVER_URL, trailing slash dropped', () => {
  const config = loadConfig({ ...minimal, MCP_SERVER_URL: 'https://old.example' }, ['--url=https://abc.ngrok.app/']);
  assert.equal(config.publicUrl, 'https://abc.ngrok.app');
  assert.equal(config.resourceUrl, 'https://abc.ngrok.app/mcp');
  assert.equal(loadConfig(minimal, ['--url', 'https://x.ngrok.app']).resourceUrl, 'https://x.ngrok.app/mcp');
});

test("the metadata URL is RFC 9728's on a host of its own, and stays inside the base URL under a path", () => {
  assert.equal(
    loadConfig({ ...minimal, MCP_SERVER_URL: 'https://mcp.example.com' }).metadataUrl,
    'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
  );
  const edge = loadConfig({
    ...minimal,
    MCP_SERVER_URL: 'https://abcd1234.supabase.co/functions/v1/crm',
    MCP_BASE_PATH: '/crm',
  });
  assert.equal(edge.resourceUrl, 'https://abcd1234.supabase.co/functions/v1/crm/mcp');
  assert.equal(
    edge.metadataUrl,
    'https://abcd1234.supabase.co/functions/v1/crm/.well-known/oauth-protected-resource/mcp',
  );
  assert.equal(edge.basePath, '/crm');
  assert.equal(loadConfig(minimal).basePath, '');
  assert.throws(
    () => loadConfig({ ...minimal, MCP_BASE_PATH: 'crm/' }),
    /MCP_BASE_PATH must be empty or a path like \/name/,
  );
});

test('a SUPABASE_URL with a path keeps it; one with a query string is refused', () => {
  assert.equal(
    loadConfig({ ...minimal, SUPABASE_URL: 'https://auth.example.com/base/' }).auth.issuer,
    'https://auth.example.com/base/auth/v1',
  );
  assert.throws(() => loadConfig({ ...minimal, SUPABASE_URL: 'https://x.supabase.co/?a=1' }), /query string/);
});

test('empty values mean unset, flags accept true/1/yes', () => {
  const config = loadConfig({ ...minimal, PORT: '', ALLOW_SESSION_TOKENS: 'yes', LOG_STATEMENTS: '1' });
  assert.equal(config.port, 3000);
  assert.equal(config.auth.allowSessionTokens, true);
  assert.equal(config.log.statements, true);
});

test('allowed origins are normalised to origins', () => {
  assert.deepEqual(
    loadConfig({ ...minimal, ALLOWED_ORIGINS: 'http://localhost:6274/, https://app.example.com/path' }).allowedOrigins,
    ['http://localhost:6274', 'https://app.example.com'],
  );
});

test('maskDatabaseUrl hides only the password', () => {
  assert.equal(
    maskDatabaseUrl(minimal.DATABASE_URL),
    'postgresql://mcp_login:***@db.abcd1234.supabase.co:5432/postgres',
  );
});

test(".env.example and the README's configuration table list exactly the variables the schema reads", () => {
  const schema = [...CONFIG_VARIABLES].sort();
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
  const assigned = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
  assert.deepEqual([...assigned].sort(), schema, '.env.example: one VAR= line per setting');

  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = /^## Configuration\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(section, 'the README has a "## Configuration" section');
  const firstCells = [...section.matchAll(/^\|([^|\n]*)\|/gm)].map((m) => m[1]!);
  const documented = firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!));
  assert.deepEqual([...documented].sort(), schema, 'README: each setting in the first column of the table, once');
});
