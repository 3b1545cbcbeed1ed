/**
 * `complete_task`: ticking a task's checkbox in the web app (or unticking it), as the signed-in
 * user in one transaction.
 */
import { z } from 'zod';
import { completeTaskSql, type ChangedTask } from '../../crm/task.js';
import { errorResult, untrusted } from '../results.js';
import { runWrite, type ToolDefinition } from './tool.js';

const input = {
  task_id: z.number().int().positive().describe('tasks.id of the task.'),
  done: z.boolean().default(true).describe('true (default): mark it done now; false: reopen it.'),
};

export const completeTaskTool: ToolDefinition<typeof input> = {
  name: 'complete_task',
  config: {
    title: 'Complete or reopen a task',
    description: [
      "Tick a task done as the Atomic CRM web app's checkbox does: done_date = now (kept if already done);",
      'done: false reopens it (done_date = null). Prefer it to an UPDATE through mutate.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  async run({ task_id, done }, { deps, principal, signal }) {
    const statement = completeTaskSql(task_id, done);
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
    const summary = task.done_date ? `Task ${task.id} is done (${task.done_date}).` : `Task ${task.id} is open again.`;
    return {
      result: {
        content: [{ type: 'text', text: `${summary}\n${untrusted('The task, as JSON.', JSON.stringify(task))}` }],
        structuredContent: { task },
      },
      outcome: 'ok',
      rowCount: 1,
    };
  },
};
