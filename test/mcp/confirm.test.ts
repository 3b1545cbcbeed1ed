/**
 * Asking before destructive writes, with real clients of both eras against real PostgreSQL: a
 * DELETE of rows, or a write changing more than CONFIRM_WRITE_ROWS rows, changes nothing until
 * the user agrees; a 2026-07-28 client that declares elicitation asks the human, any other client
 * gets a count to confirm with `confirm_rows`; ordinary small writes commit at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectModern, rows, startStack, text, toolError, type Stack } from '../support/stack.js';

let stack: Stack;
let legacyClient: Client;
let token: string;
before(async () => {
  stack = await startStack({ env: { CONFIRM_WRITE_ROWS: '20' } });
  legacyClient = await stack.connect(stack.users.alice);
  token = await stack.token(stack.users.alice);
});
after(async () => {
  await stack?.stop();
});

/** Alice's private notes tagged `mark`, counted as an administrator (outside RLS). */
async function notes(mark: string): Promise<number> {
  const [{ n }] = (await stack.db
    .admin`select count(*)::int as n from private_notes where text like ${mark + '%'}`) as unknown as [{ n: number }];
  return n;
}
/** Inserts `count` private notes for Alice as an administrator. */
async function seedNotes(mark: string, count: number): Promise<void> {
  const [{ id }] = (await stack.db.admin`select id from sales where user_id = ${stack.users.alice.id}`) as unknown as [
    { id: number },
  ];
  await stack.db
    .admin`insert into private_notes (text, sales_id) select ${mark} || ' ' || g, ${id} from generate_series(1, ${count}) g`;
}

/** Either SDK's client: both take `callTool({ name, arguments })`. */
type ToolCaller = { callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> };
const mutate = (client: ToolCaller, sql: string, confirm_rows?: number) =>
  client.callTool({ name: 'mutate', arguments: confirm_rows === undefined ? { sql } : { sql, confirm_rows } });

describe('ordinary writes', () => {
  test('a small insert or update commits in one call, no question asked', async () => {
    const result = await mutate(legacyClient, "insert into private_notes (text) values ('small-1') returning id");
    assert.equal(rows(result).length, 1);
    assert.equal(await notes('small-1'), 1);
    await seedNotes('small-2', 20);
    const update = await mutate(legacyClient, "update private_notes set text = text || '!' where text like 'small-2%'");
    assert.match(text(update), /^UPDATE: 20 rows affected/);
  });

  test('a DELETE that matches nothing deletes nothing and asks nothing', async () => {
    assert.match(
      text(await mutate(legacyClient, "delete from private_notes where text = 'no such note'")),
      /^DELETE: 0 rows affected/,
    );
  });
});

describe('a client that cannot ask the user (2025-11-25)', () => {
  test('a DELETE is held with its count and tables; confirm_rows with that count commits it', async () => {
    await seedNotes('legacy-del', 3);
    const sql = "delete from private_notes where text like 'legacy-del%' returning id, text";
    const held = toolError(await mutate(legacyClient, sql));
    assert.equal(held.code, 'CONFIRMATION_REQUIRED');
    assert.equal(held.rows, 3);
    assert.match(held.message, /deletes 3 in private_notes/);
    assert.match(held.message, /confirm_rows: 3/);
    assert.equal(await notes('legacy-del'), 3, 'nothing deleted yet');

    const done = await mutate(legacyClient, sql, 3);
    assert.match(text(done), /^DELETE: 3 rows affected/);
    assert.equal(await notes('legacy-del'), 0);
  });

  test('a DELETE is held with what its cascades would take too, table by table', async () => {
    const [{ id }] = (await stack.db.admin`insert into contacts (first_name, last_name)
      values ('Cascade', 'Held') returning id`) as unknown as [{ id: number }];
    await stack.db.admin`insert into contact_notes (contact_id, text) values (${id}, 'one'), (${id}, 'two')`;
    await stack.db.admin`insert into tasks (contact_id, type, text) values (${id}, 'call', 'ring')`;
    const left = async () =>
      (
        (await stack.db.admin`select (select count(*) from contacts where id = ${id})::int
          + (select count(*) from contact_notes where contact_id = ${id})::int
          + (select count(*) from tasks where contact_id = ${id})::int as n`) as unknown as [{ n: number }]
      )[0].n;

    const sql = `delete from contacts where id = ${id}`;
    const held = toolError(await mutate(legacyClient, sql));
    assert.equal(held.code, 'CONFIRMATION_REQUIRED');
    assert.match(held.message, /deletes [^;]*1 in contacts/);
    assert.match(held.message, /deletes [^;]*2 in contact_notes/);
    assert.match(held.message, /deletes [^;]*1 in tasks/);
    assert.equal(held.rows, 4);
    assert.equal(await left(), 4, 'nothing deleted yet');

    assert.match(text(await mutate(legacyClient, sql, 4)), /^DELETE: 1 rows? affected/);
    assert.equal(await left(), 0, 'the contact and what hung on it are gone');
  });

  test('a write over the threshold is held too', async () => {
    await seedNotes('legacy-big', 21);
    const held = toolError(
      await mutate(legacyClient, "update private_notes set text = text || '?' where text like 'legacy-big%'"),
    );
    assert.equal(held.code, 'CONFIRMATION_REQUIRED');
    assert.equal(held.rows, 21);
    assert.equal(await notes('legacy-big %?'), 0, 'nothing updated');
  });

  test('the count changed between preview and confirmation: refused, nothing changed', async () => {
    await seedNotes('legacy-moved', 2);
    const sql = "delete from private_notes where text like 'legacy-moved%'";
    assert.equal(toolError(await mutate(legacyClient, sql)).rows, 2);
    await seedNotes('legacy-moved', 1);
    const refused = toolError(await mutate(legacyClient, sql, 2));
    assert.equal(refused.code, 'CONFIRMATION_STALE');
    assert.equal(refused.rows, 3);
    assert.equal(await notes('legacy-moved'), 3);
  });
});

describe('a 2026-07-28 client that asks the user (elicitation)', () => {
  /** A v2 client whose "user" answers every question with `answer`; records what it was shown. */
  async function asker(answer: 'accept' | 'decline') {
    const asked: string[] = [];
    const client = await connectModern(stack.url, token, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push((request.params as { message: string }).message);
      return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
    });
    return { client, asked };
  }

  test('decline: the user saw the count and tables, and nothing changed', async () => {
    await seedNotes('modern-decline', 4);
    const { client, asked } = await asker('decline');
    try {
      const error = toolError(
        await mutate(client, "delete from private_notes where text like 'modern-decline%' returning id, text"),
      );
      assert.equal(error.code, 'WRITE_DECLINED');
      assert.equal(asked.length, 1);
      assert.match(asked[0]!, /deletes 4 in private_notes \(4 rows in all/);
      assert.match(asked[0]!, /modern-decline 1/, 'a few affected rows are shown');
      assert.equal(await notes('modern-decline'), 4);
    } finally {
      await client.close();
    }
  });

  test('accept: committed exactly once', async () => {
    const { client, asked } = await asker('accept');
    try {
      const result = await mutate(
        client,
        "insert into private_notes (text) select 'modern-accept ' || g from generate_series(1, 25) g",
      );
      assert.match(text(result), /^INSERT: 25 rows affected/);
      assert.equal(asked.length, 1);
      assert.equal(await notes('modern-accept'), 25);
    } finally {
      await client.close();
    }
  });

  test('confirm_rows from the agent does not replace asking the user', async () => {
    await seedNotes('modern-agent', 2);
    const { client, asked } = await asker('decline');
    try {
      assert.equal(
        toolError(await mutate(client, "delete from private_notes where text like 'modern-agent%'", 2)).code,
        'WRITE_DECLINED',
      );
      assert.equal(asked.length, 1);
      assert.equal(await notes('modern-agent'), 2);
    } finally {
      await client.close();
    }
  });

  test('without the elicitation capability, a 2026 client gets the confirm_rows path', async () => {
    await seedNotes('modern-noask', 2);
    const client = await connectModern(stack.url, token);
    try {
      const sql = "delete from private_notes where text like 'modern-noask%'";
      assert.equal(toolError(await mutate(client, sql)).code, 'CONFIRMATION_REQUIRED');
      assert.match(text(await mutate(client, sql, 2)), /^DELETE: 2 rows affected/);
      assert.equal(await notes('modern-noask'), 0);
    } finally {
      await client.close();
    }
  });
});

describe('the retried request, as raw 2026-07-28 HTTP', () => {
  const META = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
  };
  async function call(sql: string, retry: Record<string, unknown> = {}, as = token) {
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${as}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2026-07-28',
        'Mcp-Method': 'tools/call',
        'Mcp-Name': 'mutate',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'mutate', arguments: { sql }, ...retry, _meta: META },
      }),
    });
    return (await response.json()) as { result?: Record<string, any>; error?: { code: number; message: string } };
  }
  const accept = (requestState: string) => ({
    inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
    requestState,
  });

  test('the first answer is input_required with a sealed requestState', async () => {
    await seedNotes('raw-first', 2);
    const { result } = await call("delete from private_notes where text like 'raw-first%'");
    assert.equal(result?.resultType, 'input_required');
    assert.equal(typeof result?.requestState, 'string');
    assert.equal(result?.inputRequests.confirm.method, 'elicitation/create');
    assert.equal(await notes('raw-first'), 2);
  });

  test('acceptance claimed for a different statement commits nothing', async () => {
    await seedNotes('raw-small', 1);
    await seedNotes('raw-large', 5);
    const { result } = await call("delete from private_notes where text like 'raw-small%'");
    const other = await call("delete from private_notes where text like 'raw-large%'", accept(result!.requestState));
    assert.equal(other.result?.isError, true);
    assert.equal(JSON.parse(other.result!.content[0].text).error.code, 'CONFIRMATION_MISMATCH');
    assert.equal(await notes('raw-large'), 5);
    assert.equal(await notes('raw-small'), 1);
  });

  test("a forged or another user's requestState is refused before anything runs", async () => {
    await seedNotes('raw-forged', 2);
    const sql = "delete from private_notes where text like 'raw-forged%'";
    const { result } = await call(sql);
    const state = result!.requestState as string;
    const forged = await call(sql, accept(`${state.slice(0, -4)}AAAA`));
    assert.equal(forged.error?.code, -32602);
    const bob = await call(sql, accept(state), await stack.token(stack.users.bob));
    assert.equal(bob.error?.code, -32602);
    assert.equal(await notes('raw-forged'), 2);
  });

  test('the count changed between the question and the answer: refused, nothing changed', async () => {
    await seedNotes('raw-moved', 2);
    const sql = "delete from private_notes where text like 'raw-moved%'";
    const { result } = await call(sql);
    await seedNotes('raw-moved', 1);
    const answered = await call(sql, accept(result!.requestState));
    assert.equal(JSON.parse(answered.result!.content[0].text).error.code, 'CONFIRMATION_STALE');
    assert.equal(await notes('raw-moved'), 3);
  });

  test('the same answer replayed after it committed changes nothing more', async () => {
    await seedNotes('raw-replay', 2);
    const sql = "delete from private_notes where text like 'raw-replay%'";
    const { result } = await call(sql);
    const first = await call(sql, accept(result!.requestState));
    assert.match(first.result!.content[0].text, /^DELETE: 2 rows affected/);
    const replay = await call(sql, accept(result!.requestState));
    assert.equal(JSON.parse(replay.result!.content[0].text).error.code, 'CONFIRMATION_STALE');
    assert.equal(await notes('raw-replay'), 0);
  });
});
