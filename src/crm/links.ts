/**
 * Links into the Atomic CRM web app. Its router lives in the URL's fragment (react-admin's hash
 * router), so a record's page is `BASE/#/RESOURCE/ID/show` wherever the app is served. Notes and
 * tasks have no page of their own: they show on their contact's or deal's page.
 *
 * @example
 *   recordUrl('https://crm.example.com', 'contacts', 42); // 'https://crm.example.com/#/contacts/42/show'
 */
export type CrmResource = 'companies' | 'contacts' | 'deals';

/** The record's page in the web app, or undefined when ATOMIC_CRM_URL is not configured. */
export function recordUrl(base: string | undefined, resource: CrmResource, id: number | string): string | undefined {
  return base === undefined ? undefined : `${base}/#/${resource}/${encodeURIComponent(String(id))}/show`;
}
