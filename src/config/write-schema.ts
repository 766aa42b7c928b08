/**
 * Writes schema/gatehouse.schema.json and docs/config.md from ConfigSchema (`npm run schema`). The file is committed so editors
 * and the npm package can point at it; a test fails when it is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configReference } from './reference.js';
import { configJsonSchema } from './validate.js';

/** Where the schema file lives: the same relative place from src/config and from dist/config. */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/gatehouse.schema.json', import.meta.url));

/** Where the generated config reference lives. */
export const REFERENCE_FILE = fileURLToPath(new URL('../../docs/config.md', import.meta.url));

/** The exact text of docs/config.md. */
export function referenceFileText(): string {
  return configReference(configJsonSchema());
}

/** The exact text of the schema file: two-space indented, with a trailing newline. */
export function schemaFileText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

// Only when run as a script, so the test can import schemaFileText without writing anything.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(SCHEMA_FILE, schemaFileText());
  writeFileSync(REFERENCE_FILE, referenceFileText());
  process.stdout.write(`wrote ${SCHEMA_FILE} and ${REFERENCE_FILE}\n`);
}
