/**
 * The columns Atomic CRM's web app keeps in step itself (no trigger does): an agent writing through
 * mutate must do the same, or use the domain tool named beside each rule. Said in get_schema and in
 * mutate's description; docs/atomic-crm-web-app.md gives the app's source for each.
 */
export interface AppRule {
  table: string;
  /** What the app writes, compactly: an agent pays for every character. */
  rule: string;
  /** The tools that keep it; none when only mutate can. */
  tools?: string;
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
    table: 'contacts',
    rule: 'tags = array of tags.id (no foreign key): add with array_append, remove with array_remove',
  },
  {
    table: 'contacts',
    rule:
      "id on a merge (as the app's merge_contacts(), refused here): move the loser's tasks and contact_notes to the " +
      "winner, put the winner in place of the loser in deals.contact_ids (once), fill the winner's null columns (not status) from " +
      'the loser, union email_jsonb (by email), phone_jsonb (by number) and tags, last_seen = the later; then delete the loser',
  },
  {
    table: 'tags',
    rule:
      "id: before deleting a tag, array_remove it from every contacts.tags (the app never deletes tags); color = hex, the picker's: " +
      '#eddcd2 #fff1e6 #fde2e4 #fad2e1 #c5dedd #dbe7e4 #f0efeb #d6e2e9 #bcd4e6 #99c1de',
  },
  {
    table: 'companies',
    rule:
      'revenue is free text ("$5M", "$1B"): convert it before comparing or sorting; size = 1, 10, 50, 250 or 500; ' +
      'website starts with http (the form adds https://)',
  },
  {
    table: 'deals',
    rule: "contact_ids = array of contacts.id (no foreign key): the app leaves a deleted contact's id there",
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
    ...rules.map((r) => `  ${r.table}.${r.rule}${r.tools ? ` (${r.tools})` : ''}`),
  ];
}
