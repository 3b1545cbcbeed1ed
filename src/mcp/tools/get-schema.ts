/**
 * `get_schema`: the tables, views and columns the signed-in user can read, as compact text.
 */
import { z } from 'zod';
import { appRuleLines } from '../../crm/app-rules.js';
import { readSchema, renderDetail, renderOverview, type RelationInfo, type SchemaInfo } from '../../db/schema.js';
import { errorResult } from '../results.js';
import type { ToolDefinition } from './tool.js';

/** The overview, with the columns the web app maintains: the same text for the tool and crm://schema. */
export function overviewText(schema: SchemaInfo): string {
  return [renderOverview(schema), '', ...appRuleLines()].join('\n');
}

/** One relation in full, with the columns of it the web app maintains (tool and crm://schema/{table}). */
export function detailText(relation: RelationInfo): string {
  return [renderDetail(relation), ...appRuleLines(relation.name)].join('\n');
}

export const getSchemaTool: ToolDefinition<{ table: z.ZodOptional<z.ZodString> }> = {
  name: 'get_schema',
  config: {
    title: 'Describe the CRM database',
    description:
      'List the tables and views of the Atomic CRM database that the signed-in user can read: columns with ' +
      'types, nullability, defaults, primary and foreign keys, short comments, and the deal stages, ' +
      'categories, note statuses and task types in effect, and the columns the web app maintains. Call it before writing SQL. Pass `table` for one ' +
      "table's full detail: every comment, constraint, Row Level Security policy, index and trigger.",
    inputSchema: z.object({
      table: z.string().min(1).max(63).optional().describe('A table or view name in schema public, e.g. "deals".'),
    }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  async run({ table }, { deps, principal, signal }) {
    const schema = await readSchema(
      deps.sql,
      principal,
      { access: 'read', limits: deps.limits, signal },
      table ?? null,
    );
    if (table === undefined) {
      return { result: { content: [{ type: 'text', text: overviewText(schema) }] }, outcome: 'ok' };
    }
    const relation = schema.relations[0];
    if (!relation) {
      return {
        result: errorResult({
          code: 'TABLE_NOT_FOUND',
          message: `No table or view named "${table}" is readable in schema public. Call get_schema without arguments for the list.`,
        }),
        outcome: 'TABLE_NOT_FOUND',
      };
    }
    return { result: { content: [{ type: 'text', text: detailText(relation) }] }, outcome: 'ok' };
  },
};
