/**
 * The web app's everyday actions as tools beside mutate: each leaves the data exactly as Atomic
 * CRM's web app would for the same action (docs/atomic-crm-web-app.md), in one transaction as the user.
 */
import { archiveDealTool } from './archive-deal.js';
import { completeTaskTool } from './complete-task.js';
import { createContactTool } from './create-contact.js';
import { createTaskTool } from './create-task.js';
import { logContactNoteTool } from './log-contact-note.js';
import { logDealNoteTool } from './log-deal-note.js';
import { moveDealTool } from './move-deal.js';
import { postponeTaskTool } from './postpone-task.js';
import type { ToolDefinition } from './tool.js';

// biome-ignore lint/suspicious/noExplicitAny: each tool has its own input type; one list of them must erase it.
export const DOMAIN_TOOLS: ToolDefinition<any>[] = [
  logContactNoteTool,
  createTaskTool,
  completeTaskTool,
  postponeTaskTool,
  moveDealTool,
  archiveDealTool,
  logDealNoteTool,
  createContactTool,
];
