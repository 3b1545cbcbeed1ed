/** The tools whose results an MCP App draws (their views: ui.ts). */
import { showPipelineTool } from '../tools/show-pipeline.js';
import { showRecordTool } from '../tools/show-record.js';
import { showTasksTool } from '../tools/show-tasks.js';

export const APP_TOOLS = [showTasksTool, showPipelineTool, showRecordTool];
