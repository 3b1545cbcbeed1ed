/**
 * Every tool a signed-in user sees, sorted: what each client test expects tools/list to answer.
 * Written by hand, not read from src/, so a tool added or lost by accident fails the tests.
 */
export const TOOL_NAMES = [
  'archive_deal',
  'complete_task',
  'create_contact',
  'create_task',
  'fetch',
  'get_schema',
  'log_contact_note',
  'log_deal_note',
  'move_deal',
  'mutate',
  'postpone_task',
  'query',
  'search',
  'show_pipeline',
  'show_record',
  'show_tasks',
];
