/**
 * The scripted agent: plays the tasks of ./tasks.ts against one MCP endpoint as one user, the way
 * a careful agent would, and checks each answer and the database state afterwards.
 *
 * A careful agent follows the server's feedback, and only that:
 * - a write refused as UNKNOWN_VALUE: it takes the `nearest` value the server names and retries;
 * - a read whose notice says a filter value is unknown and names the nearest: it re-reads with it;
 * - a write held for confirmation: the user asked for it, so it repeats the call with `confirm_rows`;
 * - a tool the server does not list: it writes the SQL the task gives for that case (`without`).
 * Anything else that fails ends the task. Checks run on a second connection as the same user and
 * are not counted in the task's calls or characters.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AgentTask, Role, Step } from './tasks.js';

export interface TaskOutcome {
  id: string;
  role: Role;
  passed: boolean;
  /** Tool calls the agent made (retries included). */
  calls: number;
  /** Sum of the text content lengths of every tool result the agent received. */
  characters: number;
  /** Why it failed (empty when it passed). */
  problems: string[];
}

/** At most this many corrections per call: a server that keeps refusing ends the task. */
const MAX_RETRIES = 2;

const textLength = (result: CallToolResult) =>
  result.content.reduce((sum, block) => sum + (block.type === 'text' ? block.text.length : 0), 0);

function errorBody(result: CallToolResult): Record<string, unknown> | undefined {
  if (!result.isError) return undefined;
  const block = result.content[0];
  try {
    return block?.type === 'text' ? (JSON.parse(block.text) as { error: Record<string, unknown> }).error : undefined;
  } catch {
    return { message: block?.type === 'text' ? block.text : '' };
  }
}

const structured = (result: CallToolResult) => result.structuredContent as Record<string, unknown> | undefined;

/** A statement's rows, search's results, or any other tool's structured answer as one row. */
function rowsOf(result: CallToolResult): Record<string, unknown>[] | undefined {
  const content = structured(result);
  if (!content) return undefined;
  const list = content.rows ?? content.results;
  return Array.isArray(list) ? (list as Record<string, unknown>[]) : [content];
}

/** The agent's rows reduced to the columns the expected answer has: what it needs to answer. */
function project(rows: Record<string, unknown>[] | undefined, like: Record<string, unknown>[]) {
  const columns = like[0] && Object.keys(like[0]);
  if (!rows || !columns) return rows;
  return rows.map((row) => Object.fromEntries(columns.map((c) => [c, row[c]])));
}

function isoDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** Fills `{{name.column}}` and `{{today+N}}` from what earlier steps saved. */
function fill(value: unknown, saved: Map<string, Record<string, unknown>>): unknown {
  if (typeof value !== 'string') return value;
  const lookup = (ref: string): unknown => {
    const day = /^today([+-]\d+)?$/.exec(ref);
    if (day) return isoDay(Number(day[1] ?? 0));
    const [name, column] = ref.split('.') as [string, string];
    const row = saved.get(name);
    if (!row || !(column in row)) throw new Error(`nothing saved as {{${ref}}}`);
    return row[column];
  };
  const whole = /^\{\{([^}]+)\}\}$/.exec(value);
  if (whole) return lookup(whole[1]!);
  return value.replace(/\{\{([^}]+)\}\}/g, (_m, ref: string) => String(lookup(ref)));
}

/** Replaces a value the server called unknown by the one it named, wherever the agent wrote it. */
function correct(args: Record<string, unknown>, wrong: string, right: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args).map(([key, value]) => {
      if (value === wrong) return [key, right];
      if (key === 'sql' && typeof value === 'string') return [key, value.replaceAll(`'${wrong}'`, `'${right}'`)];
      return [key, value];
    }),
  );
}

const NOTICE = /compared with '([^']+)'.*nearest: '([^']+)'/;

export interface AgentRun {
  /** The agent's connection. */
  client: Client;
  /** A second connection as the same user, for checks. */
  checker: Client;
  role: Role;
}

export async function playTask(task: AgentTask, run: AgentRun, listed: ReadonlySet<string>): Promise<TaskOutcome> {
  const outcome: TaskOutcome = { id: task.id, role: run.role, passed: false, calls: 0, characters: 0, problems: [] };
  const saved = new Map<string, Record<string, unknown>>();
  let lastRows: Record<string, unknown>[] | undefined;

  const call = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
    outcome.calls++;
    const result = (await run.client.callTool({ name, arguments: args })) as CallToolResult;
    outcome.characters += textLength(result);
    return result;
  };

  const playStep = async (step: Step): Promise<boolean> => {
    if (!listed.has(step.tool)) {
      if (!step.without) {
        outcome.problems.push(`the server has no ${step.tool} tool`);
        return false;
      }
      for (const alternative of step.without) if (!(await playStep(alternative))) return false;
      return true;
    }
    let args = Object.fromEntries(Object.entries(step.args).map(([k, v]) => [k, fill(v, saved)]));
    let result = await call(step.tool, args);
    for (let retry = 0; retry < MAX_RETRIES; retry++) {
      const error = errorBody(result);
      const notice = (structured(result)?.notices as string[] | undefined)?.map((n) => NOTICE.exec(n)).find(Boolean);
      if (error?.code === 'UNKNOWN_VALUE' && typeof error.nearest === 'string') {
        args = correct(args, String(error.value), error.nearest);
      } else if (error?.code === 'CONFIRMATION_REQUIRED' && typeof error.rows === 'number') {
        args = { ...args, confirm_rows: error.rows };
      } else if (!error && notice) {
        args = correct(args, notice[1]!, notice[2]!);
      } else break;
      result = await call(step.tool, args);
    }
    const error = errorBody(result);
    if (error) {
      outcome.problems.push(`${step.tool} failed: ${String(error.code)} ${String(error.message).slice(0, 200)}`);
      return false;
    }
    const rows = rowsOf(result);
    lastRows = rows;
    if (step.save) {
      const first = rows?.[0];
      if (!first) {
        outcome.problems.push(`${step.tool} returned nothing to save as ${step.save}`);
        return false;
      }
      saved.set(step.save, first);
    }
    return true;
  };

  for (const step of task.steps) if (!(await playStep(step))) return outcome;

  const check = async (sql: string): Promise<Record<string, unknown>[] | string> => {
    const result = (await run.checker.callTool({ name: 'query', arguments: { sql } })) as CallToolResult;
    const error = errorBody(result);
    return error ? `check failed: ${String(error.code)} ${String(error.message)}` : (rowsOf(result) ?? []);
  };
  if (task.answer) {
    const expected = await check(task.answer);
    if (typeof expected === 'string') outcome.problems.push(expected);
    else {
      const answer = JSON.stringify(project(lastRows, expected));
      if (answer !== JSON.stringify(expected))
        outcome.problems.push(
          `answer: expected ${JSON.stringify(expected).slice(0, 300)}, got ${answer?.slice(0, 300)}`,
        );
    }
  }
  for (const state of task.state ?? []) {
    const actual = await check(state.sql);
    if (typeof actual === 'string') outcome.problems.push(actual);
    else if (JSON.stringify(actual) !== JSON.stringify(state.rows))
      outcome.problems.push(`state: ${state.sql.slice(0, 160)} → ${JSON.stringify(actual)}`);
  }
  outcome.passed = outcome.problems.length === 0;
  return outcome;
}

/** Every task meant for `role`, in order, on one database. */
export async function playSuite(tasks: readonly AgentTask[], run: AgentRun): Promise<TaskOutcome[]> {
  // The agent reads the tool list once, as a client does when it connects.
  const listed = new Set((await run.client.listTools()).tools.map((t) => t.name));
  const outcomes: TaskOutcome[] = [];
  for (const task of tasks)
    if (!task.roles || task.roles.includes(run.role)) outcomes.push(await playTask(task, run, listed));
  return outcomes;
}
