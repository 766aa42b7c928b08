/**
 * Building blocks shared by the parts of the config schema (schema.ts composes them): durations, names, header maps,
 * plugin references. Written once here so every part validates them alike.
 */
import { Type } from '@sinclair/typebox';

/** `500ms`, `10s`, `2m`, `1h`, or `0` (off). */
export const DURATION_PATTERN = '^(0|[0-9]+(\\.[0-9]+)?(ms|s|m|h))$';

/** A duration such as `500ms`, `10s`, `2m`, `1h`; `0` turns the timeout off. */
export const Duration = (description: string, def: string) =>
  Type.String({ pattern: DURATION_PATTERN, description, default: def, examples: ['500ms', '10s', '2m'] });

/** A name the config gives to an entry point, router, service, middleware or resolver. */
export const Name = Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]*$' });

/** Named entries; additionalProperties false, or keys that miss the name pattern would pass unchecked. */
export const NamedMap = <T extends Parameters<typeof Type.Record>[1]>(value: T, description: string) =>
  Type.Record(Name, value, { description, additionalProperties: false });

/** An HTTP field name is an RFC 9110 §5.6.2 token; anything else would throw when the response is written. */
const HeaderName = Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" });

/** Header name → value. */
export const StringMap = (description: string) =>
  Type.Record(HeaderName, Type.String(), { description, additionalProperties: false });

/** A custom handler or middleware registered through the library API. */
export const PluginSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name it was registered under with the library API.' }),
    options: Type.Optional(Type.Unknown({ description: 'Passed as is to the factory.' })),
  },
  { additionalProperties: false, description: 'A custom handler or middleware registered through the library API.' },
);
