/**
 * `create_contact`: a new person, at a company or not, with the row shape the web app's create
 * form writes, as the signed-in user in one transaction.
 */
import { z } from 'zod';
import { createContactSql } from '../../crm/contact.js';
import { nearestValue } from '../../crm/known-values.js';
import { configurationFor, unknownValueOutcome } from '../known-values.js';
import { errorResult, untrusted } from '../results.js';
import { runWrite, type ToolDefinition } from './tool.js';

const POINT_TYPE = z.enum(['Work', 'Home', 'Other']);
const name = (what: string) => z.string().trim().min(1).max(200).describe(what);
const optionalText = (max: number, what: string) => z.string().trim().min(1).max(max).optional().describe(what);

const input = {
  first_name: name('First name (required, as in the web form).'),
  last_name: name('Last name (required).'),
  company_id: z.number().int().positive().optional().describe('companies.id where they work.'),
  title: optionalText(200, 'Job title.'),
  email: z
    .union([z.email(), z.array(z.object({ email: z.email(), type: POINT_TYPE.default('Work') })).max(20)])
    .optional()
    .describe("An email (type Work, the form's default) or a list of { email, type: Work | Home | Other }."),
  phone: z
    .union([
      z.string().trim().min(1).max(50),
      z.array(z.object({ number: z.string().trim().min(1).max(50), type: POINT_TYPE.default('Work') })).max(20),
    ])
    .optional()
    .describe('A phone number (type Work) or a list of { number, type: Work | Home | Other }.'),
  gender: z.enum(['male', 'female', 'nonbinary']).optional().describe('Left unset unless known.'),
  status: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('A configured note status slug (get_schema lists noteStatuses); default unset, as the create form.'),
  background: optionalText(20_000, 'Free text about the person.'),
  linkedin_url: z
    .string()
    .regex(/^https?:\/\/(www\.)?linkedin\.com\//, 'must be a linkedin.com URL, as the web form checks')
    .max(500)
    .optional()
    .describe('A https://www.linkedin.com/… URL.'),
  has_newsletter: z.boolean().optional().describe('Subscribed to the newsletter; default false.'),
};

export const createContactTool: ToolDefinition<typeof input> = {
  name: 'create_contact',
  config: {
    title: 'Create a contact',
    description: [
      'Create a person exactly as the Atomic CRM web app does: owned by the signed-in user, first_seen = last_seen =',
      'now, tags [], emails and phones as the JSON arrays the app reads (email_jsonb, phone_jsonb). Prefer it to an',
      'INSERT through mutate, which must get those shapes right. Look the company up first (query on companies).',
    ].join(' '),
    inputSchema: z.object(input),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  async run(args, { deps, principal, signal }) {
    if (args.status !== undefined) {
      const allowed = (await configurationFor(deps, principal, signal)).noteStatuses;
      if (!allowed.includes(args.status)) {
        return unknownValueOutcome([
          {
            table: 'contacts',
            column: 'status',
            list: 'noteStatuses',
            value: args.status,
            position: 0,
            allowed,
            nearest: nearestValue(args.status, allowed),
          },
        ]);
      }
    }
    const statement = createContactSql({
      firstName: args.first_name,
      lastName: args.last_name,
      companyId: args.company_id,
      title: args.title,
      emails: typeof args.email === 'string' ? [{ email: args.email, type: 'Work' }] : args.email,
      phones: typeof args.phone === 'string' ? [{ number: args.phone, type: 'Work' }] : args.phone,
      gender: args.gender,
      status: args.status,
      background: args.background,
      linkedinUrl: args.linkedin_url,
      hasNewsletter: args.has_newsletter,
    });
    const [row] = await runWrite({ deps, principal, signal }, statement);
    const contact = row?.contact as { id: number } | undefined;
    if (!contact) {
      return {
        result: errorResult({
          code: 'COMPANY_NOT_FOUND',
          message: `No company with id ${args.company_id} is visible to you; nothing was written. Find it with query on companies, or leave company_id out.`,
        }),
        outcome: 'COMPANY_NOT_FOUND',
      };
    }
    return {
      result: {
        content: [
          {
            type: 'text',
            text: `Created contact ${contact.id}.\n${untrusted('The contact as written, as JSON.', JSON.stringify(contact))}`,
          },
        ],
        structuredContent: { contact },
      },
      outcome: 'ok',
      rowCount: 1,
    };
  },
};
