/**
 * The red-team suite, end to end: every attack statement goes through the real HTTP endpoint to
 * real PostgreSQL, signed in as a non-admin user. After each one, the suite proves what a user
 * relies on: the attack was refused (or failed in the database), no row of another user came back,
 * nothing was written, the identity and limits of the next call are intact, and the pool works.
 *
 * It runs twice: with the least-privilege login role, and with a superuser login, where the
 * statement policy alone must hold.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { rows, startStack, text, toolError, type Stack } from '../support/stack.js';
import { attacks, legitimate } from './statements.js';

/** A fingerprint of everything an attack could change: row counts and a checksum per table. */
const SNAPSHOT_SQL = `
  select json_object_agg(t, n) as counts from (
    select 'companies' as t, (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from companies c) as n
    union all select 'contacts', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from contacts c)
    union all select 'contact_notes', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from contact_notes c)
    union all select 'deals', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from deals c)
    union all select 'deal_notes', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from deal_notes c)
    union all select 'tasks', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from tasks c)
    union all select 'tags', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from tags c)
    union all select 'sales', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from sales c)
    union all select 'configuration', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from configuration c)
    union all select 'private_notes', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from private_notes c)
    union all select 'auth.users', (select count(*) || ':' || coalesce(sum(hashtext(c::text)), 0) from auth.users c)
    union all select 'roles', (select count(*)::text from pg_roles)
    union all select 'role settings', (select count(*)::text from pg_db_role_setting)
    union all select 'relations', (select count(*)::text from pg_class)
    union all select 'outbound HTTP requests', (select count(*)::text from net.http_stub_calls)
  ) s`;

/** Every function of the real Atomic CRM schema that `authenticated` may execute (crm-catalogue.json). */
const crmFunctions = (
  JSON.parse(readFileSync(new URL('../db/crm-catalogue.json', import.meta.url), 'utf8')) as {
    functions: { name: string; executableBy: string[] }[];
  }
).functions.filter((f) => f.executableBy.includes('authenticated'));

/** A call with plausible (and hostile) arguments: an attacker's address for the look-ups. */
function callOf(signature: string): string {
  const [, name, params] = /^(.*?)\((.*)\)$/.exec(signature)!;
  const args = params!
    .split(', ')
    .filter(Boolean)
    .map((param) => {
      const [arg, type] = param.split(' ');
      if (type === 'bigint') return arg === 'loser_id' ? '1' : '2';
      return arg === 'email' ? `'probe@attacker.example'` : `'attacker.example'`;
    });
  return `${name}(${args.join(', ')})`;
}

/** Functions whose bodies reach the network or write: the policy must refuse them in query. */
const writesOrNetwork = [
  'get_avatar_for_email',
  'cleanup_note_attachments',
  'merge_contacts',
  'handle_new_user',
  'handle_update_user',
  'handle_contact_note_created_or_updated',
  'handle_contact_saved',
];
/** Functions whose bodies reach the network: refused in both tools. */
const network = ['get_avatar_for_email', 'cleanup_note_attachments', 'handle_contact_saved'];

for (const login of ['least-privilege', 'superuser'] as const) {
  describe(`red team (${login} login role)`, () => {
    let stack: Stack;
    let attacker: Client;
    let bystander: Client;
    let baseline: unknown;
    let victimPrivateTexts: string[];

    before(async () => {
      stack = await startStack({ superuserLogin: login === 'superuser', env: { STATEMENT_TIMEOUT_MS: '2000' } });
      [attacker, bystander] = await Promise.all([stack.connect(stack.users.alice), stack.connect(stack.users.bob)]);
      baseline = (await stack.db.admin.unsafe(SNAPSHOT_SQL))[0]!.counts;
      const victim = await stack.db.admin`
        select p.text from private_notes p join sales s on s.id = p.sales_id where s.user_id <> ${stack.users.alice.id}`;
      victimPrivateTexts = victim.map((r) => String(r.text));
      assert.ok(victimPrivateTexts.length > 0, 'the fixture gives other users private notes to steal');
    });
    after(async () => {
      await stack?.stop();
    });

    test(`${attacks.length} attacks are refused or fail, leak nothing, write nothing, and leave the pool clean`, async () => {
      assert.ok(attacks.length >= 80);
      const failures: string[] = [];
      for (const attack of attacks) {
        const result = await attacker.callTool({ name: attack.tool, arguments: { sql: attack.sql } });
        const body = text(result);
        if (!result.isError) failures.push(`${attack.name}: was not refused: ${body.slice(0, 200)}`);
        for (const secret of victimPrivateTexts) {
          if (body.includes(secret)) failures.push(`${attack.name}: returned another user's private note`);
        }
        if (/\$2[aby]\$\d\d\$/.test(body)) failures.push(`${attack.name}: returned a password hash`);
        // The very next call, on the same pool, is still this user, as `authenticated`, with limits.
        const [me] = rows(
          await attacker.callTool({
            name: 'query',
            arguments: {
              sql: "select auth.uid() as uid, current_user as role, current_setting('statement_timeout') as timeout",
            },
          }),
        );
        if (me?.uid !== stack.users.alice.id || me?.role !== 'authenticated' || me?.timeout !== '2s') {
          failures.push(`${attack.name}: the next call ran as ${JSON.stringify(me)}`);
        }
      }
      assert.deepEqual(failures, []);
    });

    test(`each of the ${crmFunctions.length} CRM functions authenticated may execute, in both tools: nothing leaves the database`, async () => {
      assert.ok(crmFunctions.length >= 12);
      const failures: string[] = [];
      for (const fn of crmFunctions) {
        const call = callOf(fn.name);
        const short = call.replace(/^public\.|\(.*$/g, '');
        const statements = [
          { tool: 'query', sql: `select ${call} as r`, refused: writesOrNetwork.includes(short) },
          {
            tool: 'mutate',
            sql: `update public.tags set color = color where (${call}) is not null`,
            refused: network.includes(short),
          },
        ];
        for (const { tool, sql, refused } of statements) {
          const result = await attacker.callTool({ name: tool, arguments: { sql } });
          const code = result.isError ? toolError(result).code : 'OK';
          if (refused && code !== 'FUNCTION_NOT_ALLOWED')
            failures.push(`${tool} ${sql}: expected FUNCTION_NOT_ALLOWED, got ${text(result).slice(0, 200)}`);
        }
      }
      const [{ n }] = (await stack.db.admin`select count(*)::int as n from net.http_stub_calls`) as unknown as [
        { n: number },
      ];
      if (n !== 0) failures.push(`${n} outbound HTTP requests were recorded`);
      assert.deepEqual(failures, []);
    });

    test('nothing was written, no role or setting was created, no object appeared', async () => {
      const now = (await stack.db.admin.unsafe(SNAPSHOT_SQL))[0]!.counts;
      assert.deepEqual(now, baseline);
    });

    test('another user on the same pool is unaffected', async () => {
      const [me] = rows(
        await bystander.callTool({
          name: 'query',
          arguments: { sql: 'select auth.uid() as uid, current_user as role' },
        }),
      );
      assert.deepEqual(me, { uid: stack.users.bob.id, role: 'authenticated' });
      const owners = rows(
        await bystander.callTool({
          name: 'query',
          arguments: { sql: 'select distinct s.user_id from private_notes p join sales s on s.id = p.sales_id' },
        }),
      );
      assert.deepEqual(owners, [{ user_id: stack.users.bob.id }]);
    });

    test('no session state survives on any pooled connection', async () => {
      // Straight on the server's own pool (the policy would refuse these catalog reads), many at
      // once so every pooled connection answers for its own session.
      const probes = await Promise.all(
        Array.from({ length: 12 }, () =>
          stack.server.sql.unsafe(
            `select current_user as role,
               (select count(*)::int from pg_prepared_statements) as prepared,
               (select count(*)::int from pg_listening_channels()) as listening,
               (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as advisory,
               (select count(*)::int from pg_class where relpersistence = 't') as temp_relations,
               coalesce(current_setting('request.jwt.claims', true), '') as claims,
               coalesce(current_setting('request.jwt.claim.sub', true), '') as sub`,
            [],
            { prepare: false },
          ),
        ),
      );
      const loginRole = decodeURIComponent(
        new URL(login === 'superuser' ? stack.db.adminUrl : stack.db.loginUrl).username,
      );
      for (const [state] of probes) {
        assert.deepEqual(
          { ...state },
          { role: loginRole, prepared: 0, listening: 0, advisory: 0, temp_relations: 0, claims: '', sub: '' },
        );
      }
    });
  });
}

describe('legitimate agent SQL runs untouched', () => {
  let stack: Stack;
  let client: Client;
  before(async () => {
    stack = await startStack();
    // The administrator: the legitimate set includes configuration writes only an admin may make.
    client = await stack.connect(stack.users.admin);
  });
  after(async () => {
    await stack?.stop();
  });

  test(`${legitimate.length} realistic queries and writes succeed`, async () => {
    assert.ok(legitimate.length >= 50);
    const failures: string[] = [];
    for (const statement of legitimate) {
      let result = await client.callTool({ name: statement.tool, arguments: { sql: statement.sql } });
      // A delete or a large write is held until the user agrees; here they do, as an agent would relay.
      const held = result.isError ? (JSON.parse(text(result)).error as { code: string; rows?: number }) : undefined;
      if (held?.code === 'CONFIRMATION_REQUIRED') {
        result = await client.callTool({
          name: statement.tool,
          arguments: { sql: statement.sql, confirm_rows: held.rows },
        });
      }
      if (result.isError) failures.push(`${statement.name}: ${text(result).slice(0, 300)}`);
    }
    assert.deepEqual(failures, []);
  });

  test("the agent's writes run the CRM's own triggers, as the web app's do: a new contact's avatar look-up", async () => {
    const requests = await stack.db
      .admin`select url from net.http_stub_calls where url like 'https://www.gravatar.com/avatar/%'`;
    assert.ok(requests.length >= 1, 'the avatar trigger asked gravatar for the inserted contact');
    const [ada] = await stack.db
      .admin`select avatar from contacts where email_jsonb @> '[{"email": "ada@example.com"}]'`;
    assert.deepEqual(ada?.avatar, { src: 'https://favicon.show/example.com' });
  });
});
