/**
 * Resources: what a client can put in front of the agent without a tool call. The schema overview
 * (what get_schema returns), one table's full detail, and the CRM's effective configuration, each
 * read as the signed-in user: privileges and Row Level Security decide what it shows.
 *
 * @example
 *   await client.readResource({ uri: 'crm://schema/deals' }); // renderDetail of deals, as the user
 */
import {
  ResourceNotFoundError,
  ResourceTemplate,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { readSchema } from '../db/schema.js';
import { detailText, overviewText } from './tools/get-schema.js';
import { CONFIGURATION_TTL_MS, configurationFor } from './known-values.js';
import { readFailure } from './results.js';
import type { CallContext, McpDeps } from './server.js';

export const SCHEMA_URI = 'crm://schema';
export const CONFIGURATION_URI = 'crm://configuration';
export const TABLE_URI_TEMPLATE = 'crm://schema/{table}';

/**
 * Each user's own view (RLS), so only the client may keep it, and for as long as the server keeps
 * the configuration it reads: a minute.
 */
const PER_USER = { ttlMs: CONFIGURATION_TTL_MS, cacheScope: 'private' } as const;

/** Parsed once: the SDK matches read URIs against it. No list callback: tables are found by completion. */
const TABLE_TEMPLATE = new ResourceTemplate(TABLE_URI_TEMPLATE, { list: undefined });

export function registerResources(server: McpServer, deps: McpDeps, call: CallContext): void {
  const options = (ctx: ServerContext) => ({ access: 'read' as const, limits: deps.limits, signal: ctx.mcpReq.signal });
  const text = (uri: URL, mimeType: string, body: string) => ({ contents: [{ uri: uri.href, mimeType, text: body }] });

  server.registerResource(
    'schema',
    SCHEMA_URI,
    {
      title: 'CRM schema overview',
      description:
        'The tables and views you can read, their columns, keys and short comments, and the configured deal ' +
        'stages, categories, note statuses and task types: what get_schema returns without arguments.',
      mimeType: 'text/plain',
      cacheHint: PER_USER,
    },
    async (uri, ctx) => {
      const schema = await readSchema(deps.sql, call.principal, options(ctx)).catch(readFailure);
      return text(uri, 'text/plain', overviewText(schema));
    },
  );

  server.registerResource(
    'table',
    TABLE_TEMPLATE,
    {
      title: 'One table in full',
      description:
        "One table or view's columns with every comment, its constraints, Row Level Security policies, indexes, " +
        'triggers and inbound foreign keys, e.g. crm://schema/deals. The table name completes.',
      mimeType: 'text/plain',
      cacheHint: PER_USER,
    },
    async (uri, variables, ctx) => {
      const table = String(variables.table ?? '');
      const schema = table ? await readSchema(deps.sql, call.principal, options(ctx), table).catch(readFailure) : null;
      const relation = schema?.relations[0];
      if (!relation) throw new ResourceNotFoundError(uri.href);
      return text(uri, 'text/plain', detailText(relation));
    },
  );

  server.registerResource(
    'configuration',
    CONFIGURATION_URI,
    {
      title: 'CRM configuration in effect',
      description:
        "The value lists the web app offers (Atomic CRM's defaults with the configuration row's overrides): deal " +
        'stages, deal categories, note statuses (also contacts.status), task types and company sectors, as the ' +
        'slugs stored in the columns. A write with any other value is refused.',
      mimeType: 'application/json',
      cacheHint: PER_USER,
    },
    async (uri, ctx) => {
      const configuration = await configurationFor(deps, call.principal, ctx.mcpReq.signal).catch(readFailure);
      return text(uri, 'application/json', JSON.stringify(configuration, null, 1));
    },
  );
}
