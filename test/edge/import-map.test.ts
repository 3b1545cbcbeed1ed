/**
 * The Edge Function's import map (supabase/functions/atomic-crm-mcp/deno.json) is derived from
 * package.json by `npm run build:edge`: a dependency added, removed or bumped in package.json
 * without rebuilding would deploy a function that resolves other packages than the tests ran.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  buildEdgeFunction,
  edgeDenoConfig,
  FUNCTION_DIR,
  patchedPackages,
  readDependencies,
} from '../../scripts/build-edge.js';

test('deno.json maps exactly the dependencies of package.json, at the same ranges', () => {
  const committed = JSON.parse(readFileSync(path.join(FUNCTION_DIR, 'deno.json'), 'utf8'));
  assert.deepEqual(
    committed,
    edgeDenoConfig(readDependencies(), patchedPackages()),
    'run `npm run build:edge` and commit deno.json',
  );
});

test('every entry is an npm: specifier, with a subpath entry beside it; nothing reads node_modules', () => {
  const config = edgeDenoConfig({ hono: '^4.13.19', '@modelcontextprotocol/server': '^2.0.0' }, new Set());
  assert.deepEqual(config.imports, {
    '@modelcontextprotocol/server': 'npm:@modelcontextprotocol/server@^2.0.0',
    '@modelcontextprotocol/server/': 'npm:/@modelcontextprotocol/server@^2.0.0/',
    hono: 'npm:hono@^4.13.19',
    'hono/': 'npm:/hono@^4.13.19/',
  });
  assert.equal(config.nodeModulesDir, 'none');
});

test('a package patched at install is left to the bundle (npm would serve it unpatched)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'patches-'));
  mkdirSync(path.join(dir, 'patches'));
  writeFileSync(path.join(dir, 'patches', 'postgres+3.4.9.patch'), '');
  writeFileSync(path.join(dir, 'patches', '@scope+pkg+1.0.0.patch'), '');
  const patched = patchedPackages(path.join(dir, 'patches'));
  assert.deepEqual([...patched].sort(), ['@scope/pkg', 'postgres']);
  const { imports } = edgeDenoConfig({ postgres: '^3.4.9', zod: '^4.6.7' }, patched);
  assert.deepEqual(Object.keys(imports), ['zod', 'zod/']);
});

test('supabase/config.toml deploys the function with verify_jwt off, from its folder and its deno.json', () => {
  const toml = readFileSync(path.join(FUNCTION_DIR, '..', '..', 'config.toml'), 'utf8');
  const section = toml.split(/^\[/m).find((s) => s.startsWith(`functions.${path.basename(FUNCTION_DIR)}]`));
  assert.ok(section, 'a [functions.atomic-crm-mcp] section');
  assert.match(section, /^verify_jwt = false$/m);
  assert.match(section, /^entrypoint = "\.\/functions\/atomic-crm-mcp\/index\.ts"$/m);
  assert.match(section, /^import_map = "\.\/functions\/atomic-crm-mcp\/deno\.json"$/m);
});

test('every package app.js imports is resolved by deno.json: Node built-ins as node:, the rest through the map', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-build-'));
  try {
    await buildEdgeFunction(dir);
    const bundle = readFileSync(path.join(dir, 'app.js'), 'utf8');
    const { imports } = JSON.parse(readFileSync(path.join(dir, 'deno.json'), 'utf8')) as {
      imports: Record<string, string>;
    };
    const specifiers = new Set(
      [
        ...bundle.matchAll(/^(?:import|export)\b[^'"]*?from\s*"([^"]+)"/gm),
        ...bundle.matchAll(/^import\s*"([^"]+)"/gm),
      ].map((m) => m[1]!),
    );
    assert.ok(specifiers.has('hono'), [...specifiers].join(', '));
    const unresolved = [...specifiers].filter(
      (s) =>
        !s.startsWith('node:') &&
        !(s in imports) &&
        !Object.keys(imports).some((key) => key.endsWith('/') && s.startsWith(key)),
    );
    assert.deepEqual(unresolved, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
