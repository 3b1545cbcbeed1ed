/**
 * Creating a contact, as Atomic CRM's web app does it (contacts/ContactCreate.tsx and
 * contactModel.ts's cleanupContactForCreate): owned by the current user, first_seen = last_seen =
 * now, no tags ([]), emails and phones as JSON arrays of { email | number, type } (null when none),
 * has_newsletter false unless set, status unset (the create form has no status field). The
 * database's triggers then lower-case the emails and look up an avatar. When a company is given it
 * must be one the user can see. One statement.
 *
 * @example
 *   const { text, parameters } = createContactSql({ firstName: 'Ada', lastName: 'Lovelace', companyId: 3 });
 */
export type ContactPointType = 'Work' | 'Home' | 'Other';

export interface ContactInput {
  firstName: string;
  lastName: string;
  companyId?: number;
  title?: string;
  emails?: { email: string; type: ContactPointType }[];
  phones?: { number: string; type: ContactPointType }[];
  gender?: string;
  status?: string;
  background?: string;
  linkedinUrl?: string;
  hasNewsletter?: boolean;
}

export const CONTACT_COLUMNS =
  'id, first_name, last_name, gender, title, company_id, email_jsonb, phone_jsonb, linkedin_url, background, has_newsletter, status, tags, sales_id, first_seen, last_seen, avatar';

export function createContactSql(input: ContactInput): {
  text: string;
  parameters: (string | number | boolean | null)[];
} {
  const text = `
with company as (
  select id from public.companies where id = $1::bigint
), contact as (
  insert into public.contacts (first_name, last_name, gender, title, company_id, email_jsonb, phone_jsonb, linkedin_url,
                               background, has_newsletter, status, tags, sales_id, first_seen, last_seen)
  select $2::text, $3::text, $4::text, $5::text, $1::bigint, $6::text::jsonb, $7::text::jsonb, $8::text,
         $9::text, $10::boolean, $11::text, '{}'::bigint[], (select id from public.sales where user_id = auth.uid()), now(), now()
  where $1::bigint is null or exists (select 1 from company)
  returning ${CONTACT_COLUMNS}
)
select row_to_json(contact) as contact from contact`;
  const list = (items: unknown[] | undefined) => (items?.length ? JSON.stringify(items) : null);
  return {
    text,
    parameters: [
      input.companyId ?? null,
      input.firstName,
      input.lastName,
      input.gender ?? null,
      input.title ?? null,
      list(input.emails),
      list(input.phones),
      input.linkedinUrl ?? null,
      input.background ?? null,
      input.hasNewsletter ?? false,
      input.status ?? null,
    ],
  };
}
