/**
 * `postpone_task`: the web app's postpone menu (tomorrow, next week) or a chosen due date, as the
 * signed-in user in one transaction.
 */
import { z } from 'zod';
import { POSTPONE_DAYS, postponeTaskSql, type ChangedTask } from '../../crm/task.js';
import { errorResult, untrusted } from '../results.js';
import { runWrite, type ToolDefinition } from './tool.js';

const input = {
  task_id: z.number().int().positive().describe('tasks.id of the task.'),
  until: z
    .union([z.enum(['tomorrow', 'next_week']), z.iso.date(), z.iso.datetime({ offset: true })])
    .describe(
      "'tomorrow' or 'next_week' (midnight UTC of today's UTC date + 1 or 7 days, as the web app's menu), or an ISO 8601 date (midnight UTC) or date-time.",
    ),
};

export const postponeTaskTool: ToolDefinition<typeof input> = {
  name: 'postpone_task',
  config: {
    title: 'Postpone a task',
    description: [
      "Move a task's due_date as the Atomic CRM web app's postpone menu does ('tomorrow', 'next_week': midnight UTC)",
      'or to a given date. Prefer it to an UPDATE through mutate, which must get the date arithmetic right.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  async run({ task_id, until }, { deps, principal, signal }) {
    const statement = postponeTaskSql(
      task_id,
      until === 'tomorrow' || until === 'next_week'
        ? { days: POSTPONE_DAYS[until] }
        : // A bare date is midnight UTC whatever the session's time zone.
          { dueDate: until.length === 10 ? `${until}T00:00:00Z` : until },
    );
    const [row] = await runWrite({ deps, principal, signal }, statement);
    const task = row?.task as ChangedTask | undefined;
    if (!task) {
      return {
        result: errorResult({
          code: 'TASK_NOT_FOUND',
          message: `No task with id ${task_id} is visible to you; nothing was written. Find it with query on tasks.`,
        }),
        outcome: 'TASK_NOT_FOUND',
      };
    }
    return {
      result: {
        content: [
          {
            type: 'text',
            text: `Task ${task.id} is now due ${task.due_date}.\n${untrusted('The task, as JSON.', JSON.stringify(task))}`,
          },
        ],
        structuredContent: { task },
      },
      outcome: 'ok',
      rowCount: 1,
    };
  },
};
