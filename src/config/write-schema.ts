/**
 * Writes schema/gatehouse.schema.json, its compiled validator schema/gatehouse.validate.mjs and docs/config.md from
 * ConfigSchema (`npm run schema`). The files are committed so editors and the npm package can point at them and the
 * proxy runs the validator without compiling it; a test fails when one is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VALIDATOR_FILE, validatorModuleText } from './compiled-validator.js';
import { buildConfigJsonSchema } from './json-schema.js';
import { configReference } from './reference.js';

/**
 * Where the schema file lives: the same relative place from src/config and from dist/config. (Not imported from
 * validate.ts, which loads the generated validator: this script must run when that file is missing or stale.)
 */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/gatehouse.schema.json', import.meta.url));

/** Where the generated config reference lives. */
export const REFERENCE_FILE = fileURLToPath(new URL('../../docs/config.md', import.meta.url));

/** The exact text of docs/config.md. */
export function referenceFileText(): string {
  return configReference(buildConfigJsonSchema());
}

/** The exact text of the schema file: two-space indented, with a trailing newline. */
export function schemaFileText(): string {
  return `${JSON.stringify(buildConfigJsonSchema(), null, 2)}\n`;
}

// Only when run as a script, so the test can import schemaFileText without writing anything.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(SCHEMA_FILE, schemaFileText());
  writeFileSync(REFERENCE_FILE, referenceFileText());
  // From the schema just built, not the file's previous content.
  writeFileSync(VALIDATOR_FILE, validatorModuleText(buildConfigJsonSchema()));
  process.stdout.write(`wrote ${SCHEMA_FILE}, ${VALIDATOR_FILE} and ${REFERENCE_FILE}\n`);
}
