/**
 * The fixture's catalogue matches the real Atomic CRM schema: every function (language, SECURITY
 * DEFINER, who may execute it), trigger, policy and view listed in crm-catalogue.json, which
 * scripts/crm-catalogue.ts derives from marmelab/atomic-crm's supabase/schemas/. A function or
 * trigger added to or dropped from either side shows up here, so the security tests keep running
 * on the schema users deploy.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

interface Catalogue {
  fixtureAdditions: { functions: string[]; tables: string[] };
  functions: { name: string; language: string; securityDefiner: boolean; executableBy: string[] }[];
  triggers: string[];
  policies: string[];
  views: string[];
}

const expected = JSON.parse(readFileSync(new URL('./crm-catalogue.json', import.meta.url), 'utf8')) as Catalogue;

describe('the fixture is the real Atomic CRM schema', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase('crm_catalogue');
  });
  after(() => db?.drop());

  test('functions, with language, SECURITY DEFINER and the API roles that may execute them', async () => {
    const rows = await db.admin<
      { name: string; language: string; security_definer: boolean; executable_by: string[] }[]
    >`
      SELECT 'public.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name,
             l.lanname AS language, p.prosecdef AS security_definer,
             ARRAY(SELECT r FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) r
                   WHERE has_function_privilege(r, p.oid, 'EXECUTE') ORDER BY r) AS executable_by
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
      WHERE n.nspname = 'public'
      ORDER BY name`;
    const actual = rows
      .filter((r) => !expected.fixtureAdditions.functions.includes(r.name.replace(/\(.*/, '()')))
      .map((r) => ({
        name: r.name,
        language: r.language,
        securityDefiner: r.security_definer,
        executableBy: r.executable_by,
      }));
    assert.deepEqual(actual, expected.functions);
  });

  test('triggers', async () => {
    const rows = await db.admin<{ t: string }[]>`
      SELECT c.oid::regclass::text || ' ' || t.tgname || ' '
             || CASE WHEN t.tgtype & 2 <> 0 THEN 'BEFORE' ELSE 'AFTER' END || ' '
             || concat_ws(' OR ', CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END, CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END,
                          CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END)
             || CASE WHEN t.tgqual IS NOT NULL THEN ' WHEN' ELSE '' END
             || ' → ' || t.tgfoid::regproc::text AS t
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE NOT t.tgisinternal ORDER BY 1`;
    const withSchema = rows.map((r) =>
      r.t.replace(/^(?!auth\.|public\.)/, 'public.').replace(/→ (?!public\.)/, '→ public.'),
    );
    assert.deepEqual(withSchema, [...expected.triggers].sort());
  });

  test('row level security policies', async () => {
    const rows = await db.admin<{ p: string }[]>`
      SELECT schemaname || '.' || tablename || ' "' || policyname || '" ' || cmd || ' TO ' || array_to_string(roles, ', ') AS p
      FROM pg_policies
      WHERE schemaname = 'public' AND NOT (schemaname || '.' || tablename = ANY (${expected.fixtureAdditions.tables}))
      ORDER BY 1`;
    assert.deepEqual(
      rows.map((r) => r.p),
      [...expected.policies].sort(),
    );
  });

  test('views, with how they apply row level security', async () => {
    const rows = await db.admin<{ v: string }[]>`
      SELECT 'public.' || c.relname || ' ' ||
             CASE WHEN 'security_invoker=on' = ANY (coalesce(c.reloptions, '{}')) OR 'security_invoker=true' = ANY (coalesce(c.reloptions, '{}'))
                  THEN 'security_invoker' ELSE 'definer' END AS v
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'v' ORDER BY 1`;
    assert.deepEqual(
      rows.map((r) => r.v),
      expected.views,
    );
  });
});
