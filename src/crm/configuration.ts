/**
 * Atomic CRM's effective configuration: the `configuration` row (id 1) merged key by key over the
 * web app's defaults, as the app's ConfigurationContext does. Only the lists of slugs stored in
 * columns matter here; an entry may be a plain string or `{ value, label }`.
 *
 * @example
 *   const config = effectiveConfiguration(row?.config);
 *   config.dealStages; // ['opportunity', 'proposal-sent', 'in-negociation', 'won', 'lost', 'delayed']
 */

/** The configuration keys that hold the values of a column. */
export type ValueList = 'dealStages' | 'dealCategories' | 'noteStatuses' | 'taskTypes' | 'companySectors';

export type CrmConfiguration = Record<ValueList, readonly string[]>;

/** The web app's defaults (root/defaultConfiguration.ts in Atomic CRM), as slugs. */
export const ATOMIC_CRM_DEFAULTS: CrmConfiguration = {
  dealStages: ['opportunity', 'proposal-sent', 'in-negociation', 'won', 'lost', 'delayed'],
  dealCategories: ['other', 'copywriting', 'print-project', 'ui-design', 'website-design'],
  // The app's contact status picker offers the note statuses: a contact takes its latest note's.
  noteStatuses: ['cold', 'warm', 'hot', 'in-contract'],
  taskTypes: ['none', 'email', 'demo', 'lunch', 'meeting', 'follow-up', 'thank-you', 'ship', 'call'],
  companySectors: [
    'communication-services',
    'consumer-discretionary',
    'consumer-staples',
    'energy',
    'financials',
    'health-care',
    'industrials',
    'information-technology',
    'materials',
    'real-estate',
    'utilities',
  ],
};

/**
 * Which list each column's values come from, by `table.column`. The summary views repeat their
 * table's columns, so a filter on them is checked too.
 */
export const KNOWN_COLUMNS: ReadonlyMap<string, ValueList> = new Map([
  ['deals.stage', 'dealStages'],
  ['deals.category', 'dealCategories'],
  ['contacts.status', 'noteStatuses'],
  ['contacts_summary.status', 'noteStatuses'],
  ['contact_notes.status', 'noteStatuses'],
  ['tasks.type', 'taskTypes'],
  ['companies.sector', 'companySectors'],
  ['companies_summary.sector', 'companySectors'],
]);

function slugList(entries: unknown): string[] | null {
  if (!Array.isArray(entries)) return null;
  const slugs = entries.map((entry) =>
    typeof entry === 'string'
      ? entry
      : typeof entry === 'object' && entry && 'value' in entry
        ? String(entry.value)
        : null,
  );
  return slugs.every((s): s is string => s !== null) ? slugs : null;
}

/** Merges `config` (the row's jsonb, or null when there is none) over the defaults. */
export function effectiveConfiguration(config: unknown): CrmConfiguration {
  const row = typeof config === 'object' && config !== null ? (config as Record<string, unknown>) : {};
  const merged = { ...ATOMIC_CRM_DEFAULTS };
  for (const key of Object.keys(ATOMIC_CRM_DEFAULTS) as ValueList[]) {
    // A malformed override is ignored rather than trusted: the app would fail to render it too.
    const slugs = slugList(row[key]);
    if (slugs && slugs.length > 0) merged[key] = slugs;
  }
  return merged;
}
