/**
 * The policy judges a call of a function by what its body does: the real Atomic CRM functions on
 * the fixture database, and functions and views an operator adds later (picked up by the catalogue
 * watch without a restart).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  loadFunctionCatalogue,
  watchFunctionCatalogue,
  type CatalogueSummary,
  type FunctionWatch,
} from '../../src/db/functions.js';
import { checkStatement, loadPolicy, type Verdict } from '../../src/db/policy.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

function refusalMessage(verdict: Verdict): string {
  assert.equal(verdict.ok, false, 'expected a refusal');
  return verdict.ok ? '' : `${verdict.refusal.code}: ${verdict.refusal.message}`;
}

describe('function analysis on the real Atomic CRM schema', () => {
  let db: TestDatabase;
  before(async () => {
    await loadPolicy();
    db = await createTestDatabase('policy_functions');
    await loadFunctionCatalogue(db.admin);
  });
  after(() => db?.drop());

  test('get_avatar_for_email reaches the network through extensions.http_get, in both tools', () => {
    for (const tool of ['query', 'mutate'] as const) {
      const sql =
        tool === 'query'
          ? `select public.get_avatar_for_email('probe@attacker.example') as a`
          : `update contacts set background = get_avatar_for_email('probe@attacker.example') where id = 1`;
      assert.match(
        refusalMessage(checkStatement(sql, tool)),
        /^FUNCTION_NOT_ALLOWED: .*public\.get_avatar_for_email → extensions\.http_get: it makes network requests from the database server\./,
      );
    }
  });

  test('attribute notation cannot hide the call', () => {
    assert.match(
      refusalMessage(checkStatement(`select ('probe@attacker.example'::text).get_avatar_for_email`, 'query')),
      /http_get/,
    );
  });

  test('the attachment clean-up reaches pg_net', () => {
    assert.match(
      refusalMessage(checkStatement(`select cleanup_note_attachments()`, 'query')),
      /cleanup_note_attachments → net\.http_post: it makes network requests/,
    );
  });

  test('a writing function is refused in query, whatever its volatility', () => {
    assert.match(refusalMessage(checkStatement(`select merge_contacts(1, 2)`, 'query')), /FUNCTION_NOT_ALLOWED/);
    assert.match(
      refusalMessage(checkStatement(`select handle_contact_note_created_or_updated()`, 'query')),
      /UPDATE public\.contacts/,
    );
  });

  test('SECURITY DEFINER functions are judged by what they read as their owner', () => {
    assert.match(
      refusalMessage(checkStatement(`select * from get_user_id_by_email('jane.doe@acme-demo.test')`, 'query')),
      /get_user_id_by_email → auth\.users: schema auth is outside the CRM/,
    );
  });

  test('cost: analysis at start-up and per statement (reported, not asserted)', async (t) => {
    const catalogue = await loadFunctionCatalogue(db.admin);
    const functions = [...catalogue.byName.values()].reduce((n, list) => n + list.length, 0);
    // A comment makes each text new: the policy remembers verdicts by exact text.
    const perCheck = (sql: string): number => {
      assert.equal(checkStatement(sql, 'query').ok, true, sql);
      for (let i = 0; i < 200; i++) checkStatement(`${sql} -- warm ${i}`, 'query');
      const started = performance.now();
      for (let i = 0; i < 2_000; i++) checkStatement(`${sql} -- ${i}`, 'query');
      return ((performance.now() - started) / 2_000) * 1000;
    };
    const query = `select c.name, count(*) as n from companies c join contacts co on co.company_id = c.id where %s or lower(c.name) like 'a%' group by c.name order by n desc limit 10`;
    const crmCall = perCheck(query.replace('%s', 'is_admin()'));
    const builtinOnly = perCheck(query.replace('%s', 'c.sales_id is null'));
    t.diagnostic(`start-up: ${functions} functions read and analysed in ${catalogue.analysisMs.toFixed(1)} ms`);
    t.diagnostic(
      `per statement: ${crmCall.toFixed(1)} µs calling a CRM function, ${builtinOnly.toFixed(1)} µs with built-ins only`,
    );
  });

  test('the watch reports what it read and every refused function, for the start-up log line', async () => {
    let summary: CatalogueSummary | undefined;
    const watch = await watchFunctionCatalogue(db.admin, { intervalMs: 60_000, onLoad: (s) => (summary = s) });
    watch.stop();
    assert.ok(summary && summary.functions >= 20 && summary.views === 4, JSON.stringify(summary));
    assert.ok(
      summary.refused.includes('public.get_avatar_for_email → extensions.http_get (denied)'),
      summary.refused.join('\n'),
    );
    assert.ok(!summary.refused.some((line) => line.startsWith('public.is_admin')), 'clean functions are not listed');
  });

  test('side-effect-free CRM functions stay callable', () => {
    for (const sql of [
      `select is_admin()`,
      `select get_domain_favicon('acme.example')`,
      `select get_note_attachments_function_url()`,
      `select current_sales_id()`,
      `select auth.uid()`,
    ]) {
      assert.equal(checkStatement(sql, 'query').ok, true, sql);
    }
  });
});

describe('functions added later', () => {
  let db: TestDatabase;
  let watch: FunctionWatch;
  before(async () => {
    await loadPolicy();
    db = await createTestDatabase('policy_functions_later');
    watch = await watchFunctionCatalogue(db.admin, { intervalMs: 60_000 });
  });
  after(async () => {
    watch?.stop();
    await db?.drop();
  });

  test('a plpgsql function that calls set_config through another function is refused after the refresh', async () => {
    const statement = `select public.reporting_window(30)`;
    assert.match(
      refusalMessage(checkStatement(statement, 'query')),
      /^FUNCTION_UNCLASSIFIED: public\.reporting_window\(\) is not a function this server knows/,
    );
    await db.admin.unsafe(`
      CREATE FUNCTION public.widen_timeout() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM set_config('statement_timeout', '0', true);
      END $$;
      CREATE FUNCTION public.reporting_window(days int) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
      BEGIN
        PERFORM public.widen_timeout();
        RETURN now() - make_interval(days => days);
      END $$;
      GRANT EXECUTE ON FUNCTION public.widen_timeout(), public.reporting_window(int) TO authenticated;`);
    await watch.refresh();
    assert.match(
      refusalMessage(checkStatement(statement, 'query')),
      /public\.reporting_window → public\.widen_timeout → set_config: it changes session settings/,
    );
    await db.admin.unsafe(
      `CREATE OR REPLACE FUNCTION public.widen_timeout() RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$`,
    );
    await watch.refresh();
    assert.equal(checkStatement(statement, 'query').ok, true, 'a fixed body is allowed again');
  });

  test('a view that calls a refused function is refused like the call', async () => {
    await db.admin.unsafe(`
      CREATE VIEW public.contact_avatars WITH (security_invoker = on) AS
        SELECT c.id, public.get_avatar_for_email(c.email_jsonb -> 0 ->> 'email') AS avatar FROM public.contacts c;
      GRANT SELECT ON public.contact_avatars TO authenticated;`);
    assert.equal(checkStatement(`select * from contact_avatars limit 1`, 'query').ok, true, 'before the refresh');
    await watch.refresh();
    assert.match(
      refusalMessage(checkStatement(`select * from contact_avatars limit 1`, 'query')),
      /View contact_avatars is not allowed: public\.contact_avatars → public\.get_avatar_for_email → extensions\.http_get: it makes network requests/,
    );
    for (const view of ['contacts_summary', 'companies_summary', 'activity_log', 'init_state']) {
      assert.equal(checkStatement(`select * from ${view} limit 1`, 'query').ok, true, view);
    }
  });

  test('a user-defined operator is judged as the function it runs', async () => {
    await db.admin.unsafe(`
      CREATE OPERATOR public.@@@ (FUNCTION = public.get_avatar_for_email, RIGHTARG = text);
      CREATE FUNCTION public.avatar_of(email text) RETURNS text LANGUAGE sql AS $$ SELECT @@@ email $$;`);
    await watch.refresh();
    assert.match(
      refusalMessage(checkStatement(`select @@@ 'probe@attacker.example'`, 'query')),
      /Operator @@@ is not allowed: OPERATOR\(public\.@@@\) → public\.get_avatar_for_email → extensions\.http_get/,
    );
    assert.match(
      refusalMessage(checkStatement(`select avatar_of('probe@attacker.example')`, 'query')),
      /public\.avatar_of → OPERATOR\(public\.@@@\) → public\.get_avatar_for_email/,
    );
    assert.equal(
      checkStatement(`select 'a'::extensions.citext = 'A'`, 'query').ok,
      true,
      'extension operators are compiled code',
    );
  });

  test('a cycle of calls hides nothing: every function on it takes on what any of them reaches', async () => {
    await db.admin.unsafe(`
      CREATE FUNCTION public.ping(n int) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN
        IF n > 0 THEN RETURN public.pong(n - 1); END IF;
        RETURN public.lock_it();
      END $$;
      CREATE FUNCTION public.pong(n int) RETURNS int LANGUAGE sql AS $$ SELECT public.ping(n) $$;
      CREATE FUNCTION public.lock_it() RETURNS int LANGUAGE sql AS $$ SELECT 1 FROM pg_advisory_lock(42) $$;`);
    await watch.refresh();
    assert.match(
      refusalMessage(checkStatement(`select ping(3)`, 'query')),
      /public\.ping → public\.lock_it → pg_advisory_lock: advisory locks/,
    );
    assert.match(
      refusalMessage(checkStatement(`select pong(3)`, 'query')),
      /public\.pong → public\.ping → public\.lock_it → pg_advisory_lock/,
    );
  });

  test('row locks and data-modifying WITH inside a body are writes', async () => {
    await db.admin.unsafe(`
      CREATE FUNCTION public.claim_task(task bigint) RETURNS bigint LANGUAGE sql AS $$
        SELECT id FROM public.tasks WHERE id = task FOR UPDATE
      $$;
      CREATE FUNCTION public.purge_tags() RETURNS bigint LANGUAGE sql AS $$
        WITH gone AS (DELETE FROM public.tags RETURNING id) SELECT count(*) FROM gone
      $$;`);
    await watch.refresh();
    assert.match(
      refusalMessage(checkStatement(`select claim_task(1)`, 'query')),
      /public\.claim_task → SELECT … FOR UPDATE: it writes data/,
    );
    assert.match(
      refusalMessage(checkStatement(`select purge_tags()`, 'query')),
      /public\.purge_tags → DELETE public\.tags: it writes data/,
    );
    assert.equal(
      checkStatement(`delete from tags where id = purge_tags()`, 'mutate').ok,
      true,
      "an invoker write is the caller's own, under RLS",
    );
  });

  test('a body that cannot be analysed is refused', async () => {
    await db.admin.unsafe(
      `CREATE FUNCTION public.shout(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'select upper($1)' INTO t USING t; RETURN t; END $$`,
    );
    await watch.refresh();
    assert.match(
      refusalMessage(checkStatement(`select shout('a')`, 'query')),
      /shout → EXECUTE: it runs SQL built from a string/,
    );
  });
});
