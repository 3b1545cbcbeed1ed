/** The tools whose results an MCP App draws (their views: ui.ts). */
import { showTasksTool } from '../tools/show-tasks.js';

export const APP_TOOLS = [showTasksTool];
