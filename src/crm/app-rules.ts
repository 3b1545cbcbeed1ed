/**
 * The columns Atomic CRM's web app keeps in step itself (no trigger does): an agent writing through
 * mutate must do the same, or use the domain tool named beside each rule. Said in get_schema and in
 * mutate's description; docs/atomic-crm-web-app.md gives the app's source for each.
 */
export interface AppRule {
  table: string;
  /** What the app writes, compactly: an agent pays for every character. */
  rule: string;
  /** The tools that keep it. */
  tools: string;
}

export const APP_RULES: readonly AppRule[] = [
  {
    table: 'contacts',
    rule: "status = the new note's status and last_seen = now() on each contact note; last_seen = now() on each new task",
    tools: 'log_contact_note, create_task',
  },
  {
    table: 'contacts',
    rule: "first_seen = last_seen = now() and tags = '{}' on insert; email_jsonb/phone_jsonb are JSON arrays or null",
    tools: 'create_contact',
  },
  {
    table: 'deals',
    rule: 'index = order in its stage column (0 = top): a stage change or reorder shifts the other deals of both columns by 1',
    tools: 'move_deal',
  },
  {
    table: 'deals',
    rule: 'archived_at = now() to archive; unarchive puts it at index 0 of its stage and renumbers the stage 1, 2…',
    tools: 'archive_deal',
  },
  {
    table: 'deals',
    rule: 'updated_at = now() on each change or new deal note (no trigger)',
    tools: 'move_deal, archive_deal, log_deal_note',
  },
  {
    table: 'tasks',
    rule: 'done_date = now() when done, null to reopen; postponing sets due_date to a midnight UTC',
    tools: 'complete_task, postpone_task',
  },
];

/** The rules as lines for a schema overview or one table's detail. */
export function appRuleLines(table?: string): string[] {
  const rules = table ? APP_RULES.filter((r) => r.table === table) : APP_RULES;
  if (!rules.length) return [];
  return [
    'Kept by the web app, not the database (the tool named does it; with mutate, do it yourself):',
    ...rules.map((r) => `  ${r.table}.${r.rule} (${r.tools})`),
  ];
}
