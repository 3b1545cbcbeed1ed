/**
 * The audit trail an operator relies on: exactly one JSON `tool_call` line per tool call with the
 * documented fields, statement text only with LOG_STATEMENTS=true, never the token or row contents,
 * and `security_event` lines for policy refusals, integrity violations, auth failures and refused
 * origins, each tied to its request.
 * Run: node --import tsx test/run.ts test/deploy/audit.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack, rows } from '../support/stack.js';

type Line = Record<string, unknown>;

const parse = (lines: string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);
const toolCalls = (lines: Line[], requestIds?: Set<unknown>) =>
  lines.filter((l) => l.event === 'tool_call' && (!requestIds || requestIds.has(l.requestId)));

/** Logs written while `fn` runs. */
async function during(stack: Stack, fn: () => Promise<unknown>): Promise<{ lines: Line[]; raw: string[] }> {
  const from = stack.logs.length;
  await fn();
  // The audit line is written before the response is returned, but give the event loop a tick.
  await new Promise((r) => setImmediate(r));
  const raw = stack.logs.slice(from);
  return { lines: parse(raw), raw };
}

const FIELDS = [
  'time',
  'requestId',
  'sub',
  'clientId',
  'tool',
  'fingerprint',
  'durationMs',
  'rowCount',
  'truncated',
  'outcome',
];

describe('audit trail (LOG_STATEMENTS off)', () => {
  let stack: Stack;
  let token: string;
  before(async () => {
    stack = await startStack({ captureLogs: true, env: { MAX_ROWS: '5' } });
    token = await stack.token(stack.users.alice);
    // A trigger that swaps the identity mid-transaction: the integrity check must catch it. (A
    // function call doing so is refused by the policy, which reads function bodies; a trigger on
    // the agent's write runs as the table's own behaviour.)
    await stack.db.admin.unsafe(`
      create table public.audit_probe (id int);
      grant insert on public.audit_probe to authenticated;
      create function public.audit_swap_identity() returns trigger language plpgsql as $$
        begin
          perform set_config('request.jwt.claim.sub', '${stack.users.bob.id}', true);
          return new;
        end
      $$;
      create trigger audit_swap_identity before insert on public.audit_probe
        for each row execute function public.audit_swap_identity();`);
  });
  after(async () => stack?.stop());

  const call = async (name: string, args: Record<string, unknown>) => {
    const client = await stack.connect(stack.users.alice);
    try {
      return await client.callTool({ name, arguments: args });
    } finally {
      await client.close();
    }
  };

  test('a successful query: one tool_call line with every field, no statement, no rows, no token', async () => {
    let result: unknown;
    const { lines, raw } = await during(stack, async () => {
      result = await call('query', { sql: 'select first_name, last_name from contacts order by id limit 3' });
    });
    const calls = toolCalls(lines);
    assert.equal(calls.length, 1, raw.join('\n'));
    const line = calls[0]!;
    for (const field of FIELDS.filter((f) => f !== 'truncated'))
      assert.ok(field in line, `missing ${field}: ${raw.join('\n')}`);
    assert.equal(line.level, 'info');
    assert.equal(line.sub, stack.users.alice.id);
    assert.equal(line.clientId, stack.auth.defaultClientId);
    assert.equal(line.tool, 'query');
    assert.equal(line.outcome, 'ok');
    assert.equal(line.rowCount, 3);
    assert.match(String(line.fingerprint), /^[0-9a-f]{16}$/);
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
    assert.equal(typeof line.requestId, 'string');
    assert.equal(line.statement, undefined);
    const names = rows(result).flatMap((r) => [String(r.first_name), String(r.last_name)]);
    for (const l of raw) {
      assert.ok(!l.includes(token), 'a log line contains the token');
      assert.ok(!l.includes(token.split('.')[2]!), 'a log line contains the token signature');
      for (const name of names) assert.ok(!l.includes(name), `a log line contains row content ${name}`);
    }
  });

  test('a truncated result records truncated', async () => {
    const { lines } = await during(stack, () => call('query', { sql: 'select id from contacts order by id' }));
    const [line] = toolCalls(lines);
    assert.equal(line!.rowCount, 5);
    assert.equal(line!.truncated, 'rows');
  });

  test('a write records rowCount; X-Request-Id is carried into the line', async () => {
    const client = await stack.connect(stack.users.alice);
    const { lines } = await during(stack, async () => {
      await client.callTool({
        name: 'mutate',
        arguments: { sql: "update contacts set title = 'Audited' where id in (1, 2)" },
      });
    });
    await client.close();
    const [line] = toolCalls(lines);
    assert.equal(line!.tool, 'mutate');
    assert.equal(line!.outcome, 'ok');
    assert.equal(line!.rowCount, 2);
    assert.ok(!JSON.stringify(lines).includes('Audited'), 'written values must not be logged');

    const response = await fetch(stack.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'X-Request-Id': 'req-audit-42',
        'MCP-Protocol-Version': '2025-06-18',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'query', arguments: { sql: 'select 1 as one' } },
      }),
    });
    assert.equal(response.status, 200);
    await response.text();
    const tagged = toolCalls(parse(stack.logs), new Set(['req-audit-42']));
    assert.equal(tagged.length, 1);
  });

  test('an X-Request-Id that is not a plain token is replaced, so it cannot forge log lines', async () => {
    const forged = 'x" level=error event=fake';
    const { raw } = await during(stack, async () => {
      const response = await fetch(stack.url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'X-Request-Id': forged,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'query', arguments: { sql: 'select 1 as one' } },
        }),
      });
      await response.text();
    });
    assert.ok(raw.length > 0);
    assert.ok(!raw.join('\n').includes('event=fake'), raw.join('\n'));
  });

  test('a policy refusal: outcome is the policy code, plus a security_event policy_refusal', async () => {
    const { lines, raw } = await during(stack, () => call('query', { sql: 'select pg_sleep(1)' }));
    const calls = toolCalls(lines);
    assert.equal(calls.length, 1);
    assert.match(String(calls[0]!.outcome), /^[A-Z_]+$/);
    assert.notEqual(calls[0]!.outcome, 'ok');
    const events = lines.filter((l) => l.event === 'security_event');
    assert.equal(events.length, 1, raw.join('\n'));
    assert.equal(events[0]!.kind, 'policy_refusal');
    assert.equal(events[0]!.code, calls[0]!.outcome);
    assert.equal(events[0]!.requestId, calls[0]!.requestId);
    assert.equal(events[0]!.sub, stack.users.alice.id);
    assert.ok(!raw.join('\n').includes('pg_sleep'), 'the statement text is not logged');
  });

  test('an honest mistake (a typo, the wrong tool) is refused without a security_event', async () => {
    for (const [tool, sql, code] of [
      ['query', 'selec 1', 'SYNTAX_ERROR'],
      ['mutate', 'select 1', 'WRONG_TOOL'],
    ] as const) {
      const { lines } = await during(stack, () => call(tool, { sql }));
      assert.equal(toolCalls(lines)[0]!.outcome, code);
      assert.equal(lines.filter((l) => l.event === 'security_event').length, 0, code);
    }
  });

  test('an integrity violation: outcome INTEGRITY_VIOLATION and an error-level security_event', async () => {
    const { lines, raw } = await during(stack, () =>
      call('mutate', { sql: 'insert into public.audit_probe values (1)' }),
    );
    const calls = toolCalls(lines);
    assert.equal(calls.length, 1, raw.join('\n'));
    assert.equal(calls[0]!.outcome, 'INTEGRITY_VIOLATION');
    const events = lines.filter((l) => l.event === 'security_event');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'integrity_violation');
    assert.equal(events[0]!.level, 'error');
    assert.equal(events[0]!.requestId, calls[0]!.requestId);
  });

  test('a SQL error: outcome carries the error class', async () => {
    const { lines } = await during(stack, () =>
      call('query', { sql: 'select 1 / (select count(*) - count(*) from tags)' }),
    );
    const [line] = toolCalls(lines);
    assert.match(String(line!.outcome), /^SQL_ERROR/);
  });

  test('a SQL error: outcome (or a field of the line) carries the SQLSTATE', async () => {
    const { lines } = await during(stack, () =>
      call('query', { sql: 'select 1 / (select count(*) - count(*) from tags)' }),
    );
    const [line] = toolCalls(lines);
    assert.ok(String(line!.outcome).includes('22012') || line!.sqlstate === '22012', JSON.stringify(line));
  });

  test('auth failures: a security_event with the reason and the request id, never the token', async () => {
    const bad = await stack.token(stack.users.alice, { iss: 'https://elsewhere.supabase.co/auth/v1' });
    const { lines, raw } = await during(stack, async () => {
      const response = await fetch(stack.url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${bad}`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'X-Request-Id': 'req-bad-token',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      assert.equal(response.status, 401);
      await response.text();
    });
    const events = lines.filter((l) => l.event === 'security_event');
    assert.equal(events.length, 1, raw.join('\n'));
    assert.deepEqual(
      { kind: events[0]!.kind, reason: events[0]!.reason, requestId: events[0]!.requestId },
      { kind: 'auth_failure', reason: 'TOKEN_ISSUER_INVALID', requestId: 'req-bad-token' },
    );
    assert.ok(!raw.join('\n').includes(bad));
    assert.equal(toolCalls(lines).length, 0);
  });

  test('no token: the discovery challenge is not a security event', async () => {
    const { lines } = await during(stack, async () => {
      const response = await fetch(stack.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      assert.equal(response.status, 401);
      await response.text();
    });
    assert.equal(lines.filter((l) => l.event === 'security_event').length, 0);
  });

  test('a refused origin: a security_event origin_refused with the request id', async () => {
    const { lines } = await during(stack, async () => {
      const response = await fetch(stack.url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          Origin: 'https://evil.example',
          'Content-Type': 'application/json',
          'X-Request-Id': 'req-origin',
        },
        body: '{}',
      });
      assert.equal(response.status, 403);
      await response.text();
    });
    const events = lines.filter((l) => l.event === 'security_event');
    assert.equal(events.length, 1);
    assert.deepEqual(
      { kind: events[0]!.kind, origin: events[0]!.origin, requestId: events[0]!.requestId },
      { kind: 'origin_refused', origin: 'https://evil.example', requestId: 'req-origin' },
    );
  });

  test('no captured line anywhere contains the token', async () => {
    for (const l of stack.logs) assert.ok(!l.includes(token));
  });
});

describe('audit trail (LOG_STATEMENTS=true)', () => {
  test('the statement text is included', async () => {
    const stack = await startStack({ captureLogs: true, env: { LOG_STATEMENTS: 'true' } });
    try {
      const client = await stack.connect(stack.users.alice);
      const { lines } = await during(stack, () =>
        client.callTool({ name: 'query', arguments: { sql: 'select count(*) as n from deals' } }),
      );
      await client.close();
      const calls = toolCalls(lines);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.statement, 'select count(*) as n from deals');
    } finally {
      await stack.stop();
    }
  });
});
