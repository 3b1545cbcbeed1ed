/**
 * Completion of prompt arguments and of the table template's `{table}`: names from the CRM (contacts,
 * companies, readable tables) found with one bounded statement run as the user, so RLS decides
 * which names exist; value slugs from the user's effective configuration.
 *
 * One handler for every reference, rather than the SDK's per-field completers: those are called
 * without the request, and the user is what a name lookup needs.
 */
import { ProtocolError, ProtocolErrorCode, type CompleteResult, type McpServer } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/verify.js';
import { EXTENDED } from '../db/pool.js';
import { asUser, DbError, inlineParameters } from '../db/run.js';
import { configurationFor } from './known-values.js';
import { PROMPT_COMPLETIONS, type Completion } from './prompts.js';
import { TABLE_URI_TEMPLATE } from './resources.js';
import { readFailure } from './results.js';
import type { CallContext, McpDeps } from './server.js';

/** The most values one answer may carry (the spec's cap); one more row says there are more. */
const MAX_VALUES = 100;
/** Longer than any name worth completing: answered with nothing, without a statement. */
const MAX_TYPED = 200;

const contactName = `trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, ''))`;

/** $1 is the typed prefix, lower-cased; $2 (contacts only) a company name the choice is narrowed to. */
const NAME_SQL: Record<'contacts' | 'companies' | 'tables', (narrowed: boolean) => string> = {
  contacts: (atCompany) => `
select distinct ${contactName} as name from public.contacts c
where (starts_with(lower(c.first_name), $1) or starts_with(lower(c.last_name), $1) or starts_with(lower(${contactName}), $1))
  and ${contactName} <> ''${atCompany ? ' and c.company_id in (select id from public.companies where name = $2)' : ''}
order by 1 limit ${MAX_VALUES + 1}`,
  companies: () => `
select distinct name from public.companies where starts_with(lower(name), $1) order by 1 limit ${MAX_VALUES + 1}`,
  // The same relations get_schema shows: schema public, readable by the user.
  tables: () => `
select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm') and has_table_privilege(c.oid, 'select')
  and starts_with(lower(c.relname), $1)
order by 1 limit ${MAX_VALUES + 1}`,
};

function result(values: string[]): CompleteResult {
  return { completion: { values: values.slice(0, MAX_VALUES), hasMore: values.length > MAX_VALUES } };
}

async function names(
  deps: McpDeps,
  principal: Principal,
  signal: AbortSignal,
  kind: keyof typeof NAME_SQL,
  typed: string,
  company: string | undefined,
): Promise<string[]> {
  const parameters = company === undefined ? [typed.toLowerCase()] : [typed.toLowerCase(), company];
  try {
    const rows = await asUser(deps.sql, principal, { access: 'read', limits: deps.limits, signal }, (c) =>
      c.unsafe(inlineParameters(NAME_SQL[kind](company !== undefined), parameters), [], EXTENDED),
    );
    return rows.map((row) => String(row.name));
  } catch (error) {
    // A database without Atomic CRM's tables has no names to offer.
    if (error instanceof DbError && error.pg?.sqlstate === '42P01') return [];
    return readFailure(error);
  }
}

export function registerCompletion(server: McpServer, deps: McpDeps, call: CallContext): void {
  server.server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref, argument } = request.params;
    const started = performance.now();
    let completion: Completion | undefined;
    if (ref.type === 'ref/prompt') {
      const prompt = PROMPT_COMPLETIONS.get(ref.name);
      if (!prompt) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${ref.name} not found`);
      completion = prompt[argument.name];
    } else if (ref.type === 'ref/resource') {
      if (ref.uri !== TABLE_URI_TEMPLATE)
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource template ${ref.uri} not found`);
      if (argument.name === 'table') completion = { names: 'tables' };
    }
    const typed = argument.value;
    if (!completion || typed.length > MAX_TYPED) return result([]);
    const signal = ctx.mcpReq.signal;
    let values: string[];
    if ('names' in completion) {
      const company = completion.names === 'contacts' ? request.params.context?.arguments?.company : undefined;
      values = await names(deps, call.principal, signal, completion.names, typed, company || undefined);
    } else {
      const list: readonly string[] =
        'list' in completion
          ? (await configurationFor(deps, call.principal, signal).catch(readFailure))[completion.list]
          : completion.values;
      values = list.filter((v) => v.toLowerCase().startsWith(typed.toLowerCase()));
    }
    deps.log.info('completion', {
      requestId: call.requestId,
      sub: call.principal.sub,
      ref: ref.type === 'ref/prompt' ? ref.name : ref.uri,
      argument: argument.name,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      count: values.length,
    });
    return result(values);
  });
}
