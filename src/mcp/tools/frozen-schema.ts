/**
 * A tool schema whose JSON Schema is computed once, at start-up. The stateless server builds an
 * McpServer per request, and the SDK memoises a tool's JSON Schema on the registered tool, i.e. per
 * request: without this, every tools/list and every tools/call (which projects the result against
 * the output schema) would convert zod to JSON Schema again, the largest item of a call's CPU.
 *
 * `trusted` marks a schema that describes only what this server itself produces (a tool's output):
 * validating it again on every call proves nothing the tests do not, so its check accepts the value
 * as it is. Clients still validate structured content against the advertised schema.
 */
import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';

type JsonSchemaOptions = Parameters<StandardSchemaWithJSON['~standard']['jsonSchema']['input']>[0];

export function frozenSchema<In, Out>(
  schema: StandardSchemaWithJSON<In, Out>,
  { trusted = false } = {},
): StandardSchemaWithJSON<In, Out> {
  const standard = schema['~standard'];
  const converted = new Map<string, Record<string, unknown>>();
  const convert = (io: 'input' | 'output', options: JsonSchemaOptions) => {
    const key = `${io}\0${JSON.stringify(options)}`;
    let json = converted.get(key);
    if (!json) converted.set(key, (json = standard.jsonSchema[io](options)));
    return json;
  };
  const frozen: StandardSchemaWithJSON<In, Out>['~standard'] = {
    version: standard.version,
    vendor: standard.vendor,
    validate: trusted ? (value: unknown) => ({ value: value as Out }) : standard.validate,
    jsonSchema: { input: (options) => convert('input', options), output: (options) => convert('output', options) },
  };
  return { '~standard': frozen };
}
