/**
 * Proves that the PostgreSQL fixture is faithful: the seed's scale, invariants and determinism,
 * the Supabase/Atomic CRM access model (RLS, sales_id defaults, admin-only configuration, the
 * auth.uid() rules, citext and search_path), and the least-privilege login role.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import {
  applySchema,
  DEMO_USERS,
  PROMPT_INJECTIONS,
  SEED_COUNTS,
  SEED_NOW,
  seed,
  type DemoUser,
} from '../../dev/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const [JANE, JOHN, MARIA] = DEMO_USERS as [DemoUser, DemoUser, DemoUser, ...DemoUser[]];

const CRM_TABLES = [
  'sales',
  'companies',
  'contacts',
  'contact_notes',
  'deals',
  'deal_notes',
  'tasks',
  'tags',
  'configuration',
  'favicons_excluded_domains',
  'private_notes',
] as const;

interface AsOptions {
  /** The Supabase API's search_path by default. */
  searchPath?: string;
}

/**
 * Runs `fn` the way a request reaches PostgreSQL through the API: in a transaction, as
 * `authenticated`, with the user's JWT claims in `request.jwt.claims` (no claims for null).
 */
async function asUser<T>(
  sql: postgres.Sql,
  user: DemoUser | null,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
  { searchPath = 'public, extensions' }: AsOptions = {},
): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx`SET LOCAL ROLE authenticated`;
    const claims = user
      ? JSON.stringify({ sub: user.id, email: user.email, role: 'authenticated', aud: 'authenticated' })
      : '';
    await tx`SELECT set_config('request.jwt.claims', ${claims}, true), set_config('search_path', ${searchPath}, true)`;
    return fn(tx);
  })) as T;
}

const isSqlState =
  (code: string) =>
  (error: unknown): boolean => {
    assert.equal((error as { code?: string }).code, code, String(error));
    return true;
  };

async function count(sql: postgres.Sql | postgres.TransactionSql, query: string): Promise<number> {
  const [row] = await sql.unsafe<{ n: number }[]>(`SELECT (${query})::int AS n`);
  return row!.n;
}

async function salesIdOf(sql: postgres.Sql, user: DemoUser): Promise<number> {
  const [row] = await sql<{ id: string }[]>`SELECT id FROM public.sales WHERE user_id = ${user.id}`;
  return Number(row!.id);
}

describe('seed', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase('fixture_seed');
  });
  after(() => db?.drop());

  it('clones the seeded template per test database, quickly', async (t) => {
    const started = performance.now();
    const clone = await createTestDatabase('fixture_clone');
    const created = performance.now();
    try {
      assert.equal(await count(clone.admin, 'SELECT count(*) FROM contacts'), SEED_COUNTS.contacts);
    } finally {
      await clone.drop();
    }
    t.diagnostic(
      `createTestDatabase ${Math.round(created - started)} ms, drop ${Math.round(performance.now() - created)} ms`,
    );
  });

  it('has the demo scale', async () => {
    const sql = db.admin;
    assert.equal(await count(sql, 'SELECT count(*) FROM sales'), SEED_COUNTS.sales);
    assert.equal(await count(sql, 'SELECT count(*) FROM tags'), SEED_COUNTS.tags);
    assert.equal(await count(sql, 'SELECT count(*) FROM companies'), SEED_COUNTS.companies);
    assert.equal(await count(sql, 'SELECT count(*) FROM contacts'), SEED_COUNTS.contacts);
    assert.equal(await count(sql, 'SELECT count(*) FROM contact_notes'), SEED_COUNTS.contact_notes);
    assert.equal(await count(sql, 'SELECT count(*) FROM deals'), SEED_COUNTS.deals);
    assert.equal(await count(sql, 'SELECT count(*) FROM deal_notes'), SEED_COUNTS.deal_notes);
    assert.equal(await count(sql, 'SELECT count(*) FROM tasks'), SEED_COUNTS.tasks);
    assert.equal(await count(sql, 'SELECT count(*) FROM configuration WHERE id = 1'), 1);
    assert.equal(
      await count(sql, 'SELECT count(*) FROM private_notes'),
      SEED_COUNTS.sales * SEED_COUNTS.private_notes_per_user,
    );
    const domains = await count(sql, 'SELECT count(DISTINCT domain) FROM favicons_excluded_domains');
    assert.ok(domains >= 90 && domains <= 120, `favicons_excluded_domains: ${domains}`);
  });

  it('creates sales from auth users: first is admin, names from metadata, one disabled', async () => {
    const rows = await db.admin<
      {
        user_id: string;
        first_name: string;
        last_name: string;
        email: string;
        administrator: boolean;
        disabled: boolean;
      }[]
    >`
      SELECT user_id, first_name, last_name, email::text, administrator, disabled FROM sales ORDER BY id`;
    assert.deepEqual(
      rows.map((r) => ({ ...r })),
      DEMO_USERS.map((u) => ({
        user_id: u.id,
        first_name: u.firstName,
        last_name: u.lastName,
        email: u.email,
        administrator: u.administrator,
        disabled: u.disabled,
      })),
    );
    // The documented password works against the stored bcrypt hashes.
    assert.equal(
      await count(
        db.admin,
        `SELECT count(*) FROM auth.users WHERE encrypted_password = extensions.crypt('${JANE.password}', encrypted_password)`,
      ),
      DEMO_USERS.length,
    );
    assert.equal(await count(db.admin, 'SELECT count(*) FROM auth.users WHERE banned_until > now()'), 1);
  });

  it('keeps Atomic CRM invariants', async () => {
    const zero = async (what: string, query: string): Promise<void> =>
      assert.equal(await count(db.admin, query), 0, what);
    await zero(
      'deal contacts belong to the deal company',
      `
      SELECT count(*) FROM deals d CROSS JOIN LATERAL unnest(d.contact_ids) AS cid
      LEFT JOIN contacts c ON c.id = cid WHERE c.company_id IS DISTINCT FROM d.company_id`,
    );
    await zero(
      'deals.index contiguous per stage',
      `
      SELECT count(*) FROM (SELECT index, row_number() OVER (PARTITION BY stage ORDER BY index) - 1 AS expected FROM deals) s
      WHERE index <> expected`,
    );
    await zero(
      'contact status = latest note status',
      `
      SELECT count(*) FROM contacts c
      JOIN LATERAL (SELECT status FROM contact_notes n WHERE n.contact_id = c.id ORDER BY date DESC, id DESC LIMIT 1) l ON true
      WHERE c.status IS DISTINCT FROM l.status`,
    );
    await zero(
      'last_seen >= latest note',
      `
      SELECT count(*) FROM contacts c WHERE c.last_seen < (SELECT max(date) FROM contact_notes n WHERE n.contact_id = c.id)`,
    );
    await zero('last_seen >= first_seen', 'SELECT count(*) FROM contacts WHERE last_seen < first_seen');
    await zero(
      'emails are lower-case JSON arrays',
      `
      SELECT count(*) FROM contacts WHERE jsonb_typeof(email_jsonb) <> 'array'
         OR EXISTS (SELECT 1 FROM jsonb_array_elements(email_jsonb) e WHERE e ->> 'email' <> lower(e ->> 'email'))`,
    );
    await zero(
      'deal stages are slugs',
      `SELECT count(*) FROM deals WHERE stage NOT IN ('opportunity', 'proposal-sent', 'in-negociation', 'won', 'lost', 'delayed')`,
    );
    await zero(
      'deal categories are slugs',
      `SELECT count(*) FROM deals WHERE category NOT IN ('other', 'copywriting', 'print-project', 'ui-design', 'website-design')`,
    );
    await zero(
      'note statuses are slugs',
      `SELECT count(*) FROM contact_notes WHERE status NOT IN ('cold', 'warm', 'hot', 'in-contract')`,
    );
    await zero(
      'contact statuses are slugs',
      `SELECT count(*) FROM contacts WHERE status NOT IN ('cold', 'warm', 'hot', 'in-contract')`,
    );
    await zero(
      'task types are slugs',
      `SELECT count(*) FROM tasks WHERE type NOT IN ('none', 'email', 'demo', 'lunch', 'meeting', 'follow-up', 'thank-you', 'ship', 'call')`,
    );
    await zero('sectors are slugs', `SELECT count(*) FROM companies WHERE sector !~ '^[a-z]+(-[a-z]+)*$'`);
    await zero('sizes are buckets', 'SELECT count(*) FROM companies WHERE size NOT IN (1, 10, 50, 250, 500)');
    await zero(
      'no date after the seed clock',
      `
      SELECT (SELECT count(*) FROM contact_notes WHERE date > '${SEED_NOW.toISOString()}')
           + (SELECT count(*) FROM tasks WHERE done_date > '${SEED_NOW.toISOString()}')
           + (SELECT count(*) FROM deals WHERE archived_at > '${SEED_NOW.toISOString()}')`,
    );
    // A mixed-case address went in for contact 1 (the seed does so on purpose): the trigger lowered it.
    assert.match(
      (await db.admin`SELECT email_jsonb -> 0 ->> 'email' AS e FROM contacts WHERE id = 1`)[0]!.e,
      /^[^A-Z]+$/,
    );
  });

  it('covers the edge cases the app generator lacks', async () => {
    const some = async (what: string, query: string): Promise<void> =>
      assert.ok((await count(db.admin, query)) > 0, what);
    await some('archived deals', 'SELECT count(*) FROM deals WHERE archived_at IS NOT NULL');
    await some('active deals', 'SELECT count(*) FROM deals WHERE archived_at IS NULL');
    await some('done tasks', 'SELECT count(*) FROM tasks WHERE done_date IS NOT NULL');
    await some('pending tasks', 'SELECT count(*) FROM tasks WHERE done_date IS NULL');
    await some('tasks without due date', 'SELECT count(*) FROM tasks WHERE due_date IS NULL');
    await some(
      'contact notes with attachments',
      'SELECT count(*) FROM contact_notes WHERE cardinality(attachments) > 0',
    );
    await some('deal notes with attachments', 'SELECT count(*) FROM deal_notes WHERE cardinality(attachments) > 0');
    await some('contacts without company', 'SELECT count(*) FROM contacts WHERE company_id IS NULL');
    await some('contacts without email', `SELECT count(*) FROM contacts WHERE email_jsonb = '[]'`);
    await some(
      'contacts without notes',
      'SELECT count(*) FROM contacts c WHERE NOT EXISTS (SELECT 1 FROM contact_notes n WHERE n.contact_id = c.id)',
    );
    for (const table of ['companies', 'contacts', 'contact_notes', 'deals', 'deal_notes', 'tasks']) {
      await some(`${table} with null sales_id`, `SELECT count(*) FROM ${table} WHERE sales_id IS NULL`);
    }
    await some(
      'rows by the disabled user',
      'SELECT count(*) FROM contacts WHERE sales_id = (SELECT id FROM sales WHERE disabled)',
    );
  });

  it('plants the prompt-injection texts where it says', async () => {
    for (const injection of PROMPT_INJECTIONS) {
      const [row] =
        await db.admin`SELECT ${db.admin(injection.column)} AS text FROM ${db.admin(`public.${injection.table}`)} WHERE id = ${injection.id}`;
      assert.equal(row?.text, injection.text, `${injection.table}.${injection.column} #${injection.id}`);
    }
  });

  it('serves the views, the stubs and the vault', async () => {
    const sql = db.admin;
    assert.equal(await count(sql, 'SELECT count(*) FROM contacts_summary'), SEED_COUNTS.contacts);
    assert.equal(
      await count(
        sql,
        `
      SELECT count(*) FROM contacts_summary s
      WHERE s.nb_tasks <> (SELECT count(*) FROM tasks t WHERE t.contact_id = s.id AND t.done_date IS NULL)`,
      ),
      0,
    );
    assert.equal(
      await count(sql, 'SELECT sum(nb_contacts) FROM companies_summary'),
      await count(sql, 'SELECT count(*) FROM contacts WHERE company_id IS NOT NULL'),
    );
    assert.equal(
      await count(sql, 'SELECT count(*) FROM activity_log'),
      SEED_COUNTS.companies +
        SEED_COUNTS.contacts +
        SEED_COUNTS.contact_notes +
        SEED_COUNTS.deals +
        SEED_COUNTS.deal_notes,
    );
    const [event] = await sql`SELECT id, type FROM activity_log WHERE id = 'company.12.created'`;
    assert.deepEqual({ ...event }, { id: 'company.12.created', type: 'company.created' });
    assert.equal(await count(sql, 'SELECT is_initialized FROM init_state'), 1);
    assert.equal(await count(sql, 'SELECT count(*) FROM net.http_stub_calls'), 0);
    assert.equal(await count(sql, 'SELECT count(*) FROM vault.decrypted_secrets'), 1);
  });

  it('is deterministic: seeding a second, empty database gives identical rows', async () => {
    const fresh = await createTestDatabase('fixture_fresh', { template: 'template0' });
    try {
      await applySchema(fresh.admin);
      await seed(fresh.admin);
      // One digest per table over every row in id order. auth.users excludes the bcrypt hashes:
      // their salts are random by design.
      const digest = async (sql: postgres.Sql): Promise<Record<string, string>> => {
        const out: Record<string, string> = {};
        for (const table of CRM_TABLES) {
          const [row] = await sql.unsafe(
            `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) AS d FROM public.${table} t`,
          );
          out[table] = row!.d as string;
        }
        const [users] = await sql`
          SELECT md5(string_agg(row(id, email, raw_user_meta_data, created_at, banned_until)::text, '|' ORDER BY id)) AS d FROM auth.users`;
        out['auth.users'] = users!.d as string;
        const [sequences] = await sql`
          SELECT string_agg(sequencename || '=' || last_value, ',' ORDER BY sequencename) AS d FROM pg_sequences WHERE schemaname = 'public'`;
        out.sequences = sequences!.d as string;
        return out;
      };
      assert.deepEqual(await digest(fresh.admin), await digest(db.admin));
    } finally {
      await fresh.drop();
    }
  });
});

describe('access model (through the mcp_login role)', () => {
  let db: TestDatabase;
  let login: postgres.Sql;
  before(async () => {
    db = await createTestDatabase('fixture_access');
    login = postgres(db.loginUrl, { max: 1, onnotice: () => undefined });
  });
  after(async () => {
    await login?.end({ timeout: 5 });
    await db?.drop();
  });

  it('private_notes: each user reads and writes only their own rows', async () => {
    const jane = await salesIdOf(db.admin, JANE);
    const john = await salesIdOf(db.admin, JOHN);
    const mine = await asUser(login, JANE, (tx) => tx<{ sales_id: string }[]>`SELECT sales_id FROM private_notes`);
    assert.equal(mine.length, SEED_COUNTS.private_notes_per_user);
    assert.ok(mine.every((r) => Number(r.sales_id) === jane));
    const johns = await asUser(login, JOHN, (tx) => tx<{ sales_id: string }[]>`SELECT sales_id FROM private_notes`);
    assert.ok(johns.length === SEED_COUNTS.private_notes_per_user && johns.every((r) => Number(r.sales_id) === john));

    assert.equal(
      await asUser(
        login,
        JANE,
        async (tx) => (await tx`UPDATE private_notes SET text = 'x' WHERE sales_id = ${john}`).count,
      ),
      0,
    );
    assert.equal(
      await asUser(login, JANE, async (tx) => (await tx`DELETE FROM private_notes WHERE sales_id = ${john}`).count),
      0,
    );
    await assert.rejects(
      asUser(login, JANE, (tx) => tx`INSERT INTO private_notes (sales_id, text) VALUES (${john}, 'forged')`),
      isSqlState('42501'),
    );
    await assert.rejects(
      asUser(login, JANE, (tx) => tx`UPDATE private_notes SET sales_id = ${john} WHERE sales_id = ${jane}`),
      isSqlState('42501'),
    );
    assert.equal(await asUser(login, null, (tx) => count(tx, 'SELECT count(*) FROM private_notes')), 0);
    assert.equal(
      await count(db.admin, `SELECT count(*) FROM private_notes WHERE sales_id = ${john} AND text = 'x'`),
      0,
    );
  });

  it('sales_id defaults to the caller on insert (null without a JWT)', async () => {
    const jane = await salesIdOf(db.admin, JANE);
    const maria = await salesIdOf(db.admin, MARIA);
    const [note] = await asUser(
      login,
      JANE,
      (tx) => tx`INSERT INTO private_notes (text) VALUES ('mine') RETURNING sales_id`,
    );
    assert.equal(Number(note!.sales_id), jane);
    const [contact] = await asUser(
      login,
      MARIA,
      (tx) => tx`INSERT INTO contacts (first_name) VALUES ('Ada') RETURNING id, sales_id`,
    );
    assert.equal(Number(contact!.sales_id), maria);
    const [task] = await asUser(
      login,
      MARIA,
      (tx) => tx`INSERT INTO tasks (contact_id, text) VALUES (${contact!.id}, 'call') RETURNING sales_id`,
    );
    assert.equal(Number(task!.sales_id), maria);
    const [orphan] = await db.admin`INSERT INTO contacts (first_name) VALUES ('No JWT') RETURNING sales_id`;
    assert.equal(orphan!.sales_id, null);
  });

  it('configuration: only the administrator can change it; sales are read-only', async () => {
    const update = (user: DemoUser, title: string) =>
      asUser(
        login,
        user,
        async (tx) => (await tx`UPDATE configuration SET config = config || ${tx.json({ title })} WHERE id = 1`).count,
      );
    assert.equal(await update(JOHN, 'Hijacked'), 0);
    assert.equal(await update(JANE, 'Renamed by admin'), 1);
    const [row] = await db.admin`SELECT config ->> 'title' AS title FROM configuration`;
    assert.equal(row!.title, 'Renamed by admin');
    assert.equal(await asUser(login, JANE, async (tx) => (await tx`DELETE FROM configuration`).count), 0);
    await assert.rejects(
      asUser(login, JOHN, (tx) => tx`INSERT INTO configuration (id, config) VALUES (1, '{}')`),
      isSqlState('42501'),
    );

    assert.equal(await asUser(login, JANE, async (tx) => (await tx`UPDATE sales SET administrator = true`).count), 0);
    await assert.rejects(
      asUser(
        login,
        JOHN,
        (tx) => tx`INSERT INTO sales (email, administrator, user_id) VALUES ('x@y.z', true, ${JOHN.id})`,
      ),
      isSqlState('42501'),
    );
  });

  it('auth.uid(): request.jwt.claim.sub wins over request.jwt.claims; empty strings are ignored', async () => {
    const uid = (claimSub: string, claims: string) =>
      asUser(login, null, async (tx) => {
        await tx`SELECT set_config('request.jwt.claim.sub', ${claimSub}, true), set_config('request.jwt.claims', ${claims}, true)`;
        const [ids] =
          await tx`SELECT auth.uid() AS uid, auth.role() AS role, auth.email() AS email, auth.jwt() ->> 'aud' AS aud`;
        return { ...ids };
      });
    const johnClaims = JSON.stringify({ sub: JOHN.id, role: 'authenticated', email: JOHN.email, aud: 'authenticated' });
    assert.deepEqual(await uid(JANE.id, johnClaims), {
      uid: JANE.id,
      role: 'authenticated',
      email: JOHN.email,
      aud: 'authenticated',
    });
    assert.deepEqual(await uid('', johnClaims), {
      uid: JOHN.id,
      role: 'authenticated',
      email: JOHN.email,
      aud: 'authenticated',
    });
    assert.deepEqual(await uid('', ''), { uid: null, role: null, email: null, aud: null });
  });

  it('citext compares case-insensitively only with extensions on the search_path', async () => {
    const find = (searchPath: string) =>
      asUser(login, JANE, (tx) => count(tx, `SELECT count(*) FROM sales WHERE email = 'JANE.DOE@ACME-DEMO.TEST'`), {
        searchPath,
      });
    assert.equal(await find('public, extensions'), 1);
    assert.equal(await find('public'), 0);
  });

  it('merge_contacts writes through a SELECT: notes, tasks and deals move to the winner', async () => {
    const [pair] = await db.admin<{ loser: string; winner: string }[]>`
      SELECT c.id AS loser, (SELECT w.id FROM contacts w WHERE w.company_id = c.company_id AND w.id <> c.id ORDER BY w.id LIMIT 1) AS winner
      FROM contacts c
      WHERE EXISTS (SELECT 1 FROM deals d WHERE c.id = ANY (d.contact_ids))
        AND EXISTS (SELECT 1 FROM contact_notes n WHERE n.contact_id = c.id)
        AND EXISTS (SELECT 1 FROM contacts w WHERE w.company_id = c.company_id AND w.id <> c.id)
      ORDER BY (SELECT count(*) FROM tasks t WHERE t.contact_id = c.id) DESC, c.id
      LIMIT 1`;
    const loser = Number(pair!.loser);
    const winner = Number(pair!.winner);
    const totals = async () => ({
      notes:
        (await count(db.admin, `SELECT count(*) FROM contact_notes WHERE contact_id = ${winner}`)) +
        (await count(db.admin, `SELECT count(*) FROM contact_notes WHERE contact_id = ${loser}`)),
      tasks:
        (await count(db.admin, `SELECT count(*) FROM tasks WHERE contact_id = ${winner}`)) +
        (await count(db.admin, `SELECT count(*) FROM tasks WHERE contact_id = ${loser}`)),
      deals: await count(
        db.admin,
        `SELECT count(*) FROM deals WHERE ${loser} = ANY (contact_ids) OR ${winner} = ANY (contact_ids)`,
      ),
    });
    const before = await totals();

    const [result] = await asUser(login, JANE, (tx) => tx`SELECT merge_contacts(${loser}, ${winner}) AS id`);
    assert.equal(Number(result!.id), winner);

    assert.equal(await count(db.admin, `SELECT count(*) FROM contacts WHERE id = ${loser}`), 0);
    assert.equal(
      await count(db.admin, `SELECT count(*) FROM contact_notes WHERE contact_id = ${winner}`),
      before.notes,
    );
    assert.equal(await count(db.admin, `SELECT count(*) FROM tasks WHERE contact_id = ${winner}`), before.tasks);
    assert.equal(await count(db.admin, `SELECT count(*) FROM deals WHERE ${winner} = ANY (contact_ids)`), before.deals);
    assert.equal(await count(db.admin, `SELECT count(*) FROM deals WHERE ${loser} = ANY (contact_ids)`), 0);
  });

  it('the http stand-in records a request even from a READ ONLY transaction that rolls back', async () => {
    const before = await count(db.admin, 'SELECT count(*) FROM net.http_stub_calls');
    await assert.rejects(
      asUser(login, JANE, async (tx) => {
        await tx`SET TRANSACTION READ ONLY`;
        const [row] = await tx`SELECT public.get_avatar_for_email('probe@attacker.example') AS a`;
        assert.equal(row!.a, 'https://favicon.show/attacker.example');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    const calls =
      await db.admin`SELECT function_name, method, url, called_by FROM net.http_stub_calls OFFSET ${before}`;
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.function_name, 'extensions.http');
    assert.match(calls[0]!.url, /^https:\/\/www\.gravatar\.com\/avatar\/[0-9a-f]{64}\?d=404$/);
  });

  it('auth, vault and service-only functions are out of reach for authenticated', async () => {
    for (const table of [
      'auth.users',
      'auth.sessions',
      'auth.refresh_tokens',
      'vault.decrypted_secrets',
      'net.http_stub_calls',
    ]) {
      await assert.rejects(
        asUser(login, JANE, (tx) => tx.unsafe(`SELECT * FROM ${table}`)),
        isSqlState('42501'),
        table,
      );
    }
    await assert.rejects(
      asUser(login, JANE, (tx) => tx`SELECT * FROM get_user_id_by_email(${JANE.email})`),
      isSqlState('42501'),
    );
    const [asService] = await db.admin.begin(async (tx) => {
      await tx`SET LOCAL ROLE service_role`;
      return tx`SELECT id FROM get_user_id_by_email(${JANE.email})`;
    });
    assert.equal(asService!.id, JANE.id);
    // anon: init_state (definer view) yes, CRM rows no (no policy for anon).
    const anon = await db.admin.begin(async (tx) => {
      await tx`SET LOCAL ROLE anon`;
      return [
        await count(tx, 'SELECT is_initialized FROM init_state'),
        await count(tx, 'SELECT count(*) FROM contacts'),
      ];
    });
    assert.deepEqual(anon, [1, 0]);
  });

  it('mcp_login can become authenticated only, and has no privileges of its own', async () => {
    const sql = postgres(db.loginUrl, { max: 1, onnotice: () => undefined });
    try {
      const [me] = await sql`
        SELECT current_user AS current, session_user AS session, current_setting('statement_timeout') AS timeout,
               r.rolsuper, r.rolinherit, r.rolbypassrls,
               ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS member_of
        FROM pg_roles r WHERE r.rolname = current_user`;
      assert.deepEqual(
        { ...me },
        {
          current: 'mcp_login',
          session: 'mcp_login',
          timeout: '8s',
          rolsuper: false,
          rolinherit: false,
          rolbypassrls: false,
          member_of: ['authenticated'],
        },
      );
      for (const role of ['postgres', 'service_role', 'anon', 'authenticator']) {
        await assert.rejects(sql.unsafe(`SET ROLE ${role}`), isSqlState('42501'), role);
        await assert.rejects(sql`SELECT set_config('role', ${role}, false)`, isSqlState('42501'), role);
      }
      await sql`SET ROLE authenticated`;
      assert.equal((await sql`SELECT current_user AS u`)[0]!.u, 'authenticated');
      await sql`RESET ROLE`;
      assert.equal((await sql`SELECT current_user AS u`)[0]!.u, 'mcp_login');
      for (const table of CRM_TABLES) {
        const [row] =
          await sql`SELECT has_table_privilege(${`public.${table}`}, 'SELECT, INSERT, UPDATE, DELETE') AS p`;
        assert.equal(row!.p, false, table);
      }
      await assert.rejects(sql`SELECT count(*) FROM contacts`, isSqlState('42501'));
      await assert.rejects(sql`SELECT merge_contacts(1, 2)`, isSqlState('42501'));
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
