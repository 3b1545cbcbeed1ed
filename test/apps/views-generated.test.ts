/**
 * src/mcp/apps/views.generated.ts is built from src/mcp/apps/view/ by `npm run build:apps`: a view
 * edited without rebuilding would ship the old HTML to every host.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED, generatedViews } from '../../scripts/build-apps.js';

test('the committed views module is what npm run build:apps builds from the sources', async () => {
  assert.ok(
    readFileSync(GENERATED, 'utf8') === (await generatedViews()),
    'run `npm run build:apps` and commit the result',
  );
});

test('the bundle is self-contained: no remote script, stylesheet, font or image, nothing that ends the inline script', () => {
  const text = readFileSync(GENERATED, 'utf8');
  assert.doesNotMatch(text, /<\/script/i);
  assert.doesNotMatch(text, /\b(src|href)=\\?"https?:/i);
  assert.doesNotMatch(text, /@import|url\(\s*['"]?https?:/i);
});
