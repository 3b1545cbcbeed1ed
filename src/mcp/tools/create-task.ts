/**
 * `create_task`: a to-do on a contact, done as the web app does it (the task, then the contact's
 * last_seen), as the signed-in user in one transaction.
 */
import { z } from 'zod';
import { nearestValue } from '../../crm/known-values.js';
import { createTaskSql, DEFAULT_TASK_TYPE, type CreatedTask } from '../../crm/task.js';
import { configurationFor, unknownValueOutcome } from '../known-values.js';
import { errorResult, untrusted } from '../results.js';
import { runWrite, type ToolDefinition } from './tool.js';

const input = {
  contact_id: z.number().int().positive().describe('contacts.id of the person the task is about.'),
  text: z.string().min(1).max(20_000).describe('What is to be done.'),
  type: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe(
      `A configured task type slug (get_schema lists taskTypes, e.g. call, email, meeting, follow-up); default ${DEFAULT_TASK_TYPE}.`,
    ),
  due_date: z
    .union([z.iso.date(), z.iso.datetime({ offset: true })])
    .optional()
    .describe('When it is due: an ISO 8601 date (midnight UTC) or date-time; default now, as in the web app.'),
};

export const createTaskTool: ToolDefinition<typeof input> = {
  name: 'create_task',
  config: {
    title: 'Create a task for a contact',
    description: [
      'Create a pending task on a contact exactly as the Atomic CRM web app does: owned by the signed-in user,',
      `type ${DEFAULT_TASK_TYPE} and due now unless given; the contact's last_seen becomes now. Complete it later`,
      'with complete_task, move it with postpone_task.',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  async run({ contact_id, text, type, due_date }, { deps, principal, signal }) {
    if (type !== undefined) {
      const allowed = (await configurationFor(deps, principal, signal)).taskTypes;
      if (!allowed.includes(type)) {
        return unknownValueOutcome([
          {
            table: 'tasks',
            column: 'type',
            list: 'taskTypes',
            value: type,
            position: 0,
            allowed,
            nearest: nearestValue(type, allowed),
          },
        ]);
      }
    }
    // A bare date is midnight UTC whatever the session's time zone.
    const dueDate = due_date && due_date.length === 10 ? `${due_date}T00:00:00Z` : due_date;
    const statement = createTaskSql({ contactId: contact_id, text, type, dueDate });
    const [row] = await runWrite({ deps, principal, signal }, statement);
    const created = row!.created as { task: CreatedTask['task'] | null; contact: CreatedTask['contact'] | null };
    if (!created.task || !created.contact) {
      return {
        result: errorResult({
          code: 'CONTACT_NOT_FOUND',
          message: `No contact with id ${contact_id} is visible to you; nothing was written. Find it with query on contacts.`,
        }),
        outcome: 'CONTACT_NOT_FOUND',
      };
    }
    const summary = `Created task ${created.task.id} (${created.task.type}, due ${created.task.due_date}) on contact ${created.contact.id}.`;
    return {
      result: {
        content: [
          {
            type: 'text',
            text: `${summary}\n${untrusted('The task as written, as JSON.', JSON.stringify(created.task))}`,
          },
        ],
        structuredContent: created,
      },
      outcome: 'ok',
      rowCount: 2,
    };
  },
};
