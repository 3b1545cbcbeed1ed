/**
 * The suite's results as a Markdown table: one row per task, one column per run (server version
 * and role), each cell "pass calls · characters", and a totals row.
 */
import type { TaskOutcome } from './agent.js';
import type { AgentTask } from './tasks.js';

export interface SuiteColumn {
  title: string;
  outcomes: readonly TaskOutcome[];
}

const number = (n: number) => n.toLocaleString('en-US');

function cell(outcome: TaskOutcome | undefined): string {
  if (!outcome) return '–';
  return `${outcome.passed ? '✓' : '✗'} ${outcome.calls} · ${number(outcome.characters)}`;
}

export function suiteTable(tasks: readonly AgentTask[], columns: readonly SuiteColumn[]): string {
  const lines = [
    `| task | ${columns.map((c) => c.title).join(' | ')} |`,
    `| --- | ${columns.map(() => '---').join(' | ')} |`,
  ];
  for (const task of tasks) {
    const cells = columns.map((c) => cell(c.outcomes.find((o) => o.id === task.id)));
    lines.push(`| ${task.id} | ${cells.join(' | ')} |`);
  }
  const totals = columns.map(({ outcomes }) => {
    const passed = outcomes.filter((o) => o.passed).length;
    const calls = outcomes.reduce((n, o) => n + o.calls, 0);
    const characters = outcomes.reduce((n, o) => n + o.characters, 0);
    return `**${passed}/${outcomes.length}** ${calls} · ${number(characters)}`;
  });
  lines.push(`| all | ${totals.join(' | ')} |`);
  return lines.join('\n');
}

/** Why each failed task failed, one line each. */
export function failures(columns: readonly SuiteColumn[]): string[] {
  return columns.flatMap(({ title, outcomes }) =>
    outcomes.filter((o) => !o.passed).map((o) => `${title} · ${o.id}: ${o.problems.join('; ')}`),
  );
}
