/**
 * The published JSON Schema of the config, built from ConfigSchema (TypeBox): what `npm run schema` writes to
 * schema/gatehouse.schema.json. Only the generator and tests load this (and TypeBox); the running proxy reads the
 * committed file and runs the validator compiled from it (src/config/validate.ts).
 */
import { ConfigSchema } from './schema.js';

/** Draft-07: what Ajv's default class speaks and what editors support most completely. */
const JSON_SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#';

/** ConfigSchema without TypeBox's symbol keys, with `$schema` first; a fresh copy on every call. */
export function buildConfigJsonSchema(): Record<string, unknown> {
  const schema = JSON.parse(JSON.stringify(ConfigSchema)) as Record<string, unknown>;
  // The identifying keys first, so the file reads from the top.
  const { $id, title, description } = schema;
  return { $schema: JSON_SCHEMA_DRAFT, $id, title, description, ...schema };
}
