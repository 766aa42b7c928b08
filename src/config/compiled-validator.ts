/**
 * The config validator as code, generated ahead of time: Ajv compiles the config schema in 0.4–0.9 s, which every
 * start, `check` and `health` paid before serving anything. `npm run schema` writes the compiled function with Ajv's
 * standalone mode to schema/gatehouse.validate.mjs (beside the schema file, the same relative place from src/config
 * and dist/config), and src/config/validate.ts imports it; a test fails when the committed file is out of date.
 *
 * Annotations (description, default, examples, title) are stripped before compiling: they do not take part in
 * validation, so a reworded description does not change the generated code. Sections are moved into definitions
 * and referenced (Ajv's inlineRefs off), so each is its own function: V8 compiles a function when it is first
 * called, and a config without middlewares, TCP or ACME never pays for compiling their checks (one inlined
 * function: 35-75 ms on the first validation; split: 2-5 ms).
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';

/** Where the generated validator lives. */
export const VALIDATOR_FILE = fileURLToPath(new URL('../../schema/gatehouse.validate.mjs', import.meta.url));

/**
 * The options the runtime validator is compiled with: every error at once (a check lists all problems), and
 * verbose errors (the failing schema and data), which src/config/validate.ts turns into its sentences.
 */
const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true } as const;

/** JSON Schema keywords that only annotate: removed from the copy that is compiled. */
const ANNOTATIONS = new Set(['description', 'default', 'examples', 'title', '$comment']);
/** Keywords whose value is a map of name → subschema. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependencies']);
/** Keywords whose value is a subschema or a list of them. */
const SUBSCHEMAS = new Set(['items', 'additionalItems', 'additionalProperties', 'propertyNames', 'contains', 'not', 'if', 'then', 'else', 'anyOf', 'oneOf', 'allOf']);

/** `schema` without annotations, walked by keyword (a property named "description" is kept). */
export function stripAnnotations(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripAnnotations);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(key)) continue;
    if (SCHEMA_MAPS.has(key) && value !== null && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, stripAnnotations(sub)]));
    } else if (SUBSCHEMAS.has(key)) {
      out[key] = stripAnnotations(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Subschemas smaller than this (JSON characters) stay inline: a function call costs more than they do. */
const MIN_SPLIT_SIZE = 200;

/**
 * `schema` with every sizeable subschema reached through `properties`/`patternProperties` chains moved into
 * `definitions` and replaced by a `$ref`. Never a branch of a union (anyOf/oneOf): validate.ts collapses a union's
 * failing branches by their schemaPath under the union's, which a `$ref` would move elsewhere.
 */
export function splitIntoDefinitions(schema: Record<string, unknown>): Record<string, unknown> {
  const definitions: Record<string, unknown> = {};
  const hoist = (node: unknown, name: string): unknown => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
    const out: Record<string, unknown> = { ...(node as Record<string, unknown>) };
    for (const keyword of ['properties', 'patternProperties']) {
      const map = out[keyword] as Record<string, unknown> | undefined;
      if (map === undefined) continue;
      out[keyword] = Object.fromEntries(
        Object.entries(map).map(([key, sub], i) => {
          const subName = `${name}_${keyword === 'properties' ? key.replace(/[^A-Za-z0-9]/g, '') : `pattern${i}`}`;
          const inner = hoist(sub, subName);
          if (JSON.stringify(inner).length < MIN_SPLIT_SIZE) return [key, inner];
          definitions[subName] = inner;
          return [key, { $ref: `#/definitions/${subName}` }];
        }),
      );
    }
    return out;
  };
  const split = hoist(schema, 'config') as Record<string, unknown>;
  return { ...split, definitions };
}

/** The exact text of schema/gatehouse.validate.mjs for the published config schema `schema`. */
export function validatorModuleText(schema: Record<string, unknown>): string {
  const compiled = splitIntoDefinitions(stripAnnotations(schema) as Record<string, unknown>);
  const ajv = new Ajv({ ...AJV_OPTIONS, inlineRefs: false, code: { source: true, esm: true } });
  let code = standalone.default(ajv, ajv.compile(compiled));
  // Ajv's ESM output still require()s its runtime helpers (ajv#2209): import them instead, from the package. They are
  // CommonJS with `exports.default`: Node's default import is the exports object, a bundler's (vitest) the function.
  const imports: string[] = [];
  const helpers: string[] = [];
  code = code.replace(/require\("(ajv\/dist\/runtime\/[a-z0-9]+)"\)\.default/gi, (_m, path: string) => {
    const name = `runtime_${path.slice(path.lastIndexOf('/') + 1)}`;
    if (!imports.some((line) => line.includes(` ${name}_module `))) {
      imports.push(`import ${name}_module from "${path}.js";`);
      helpers.push(`const ${name} = typeof ${name}_module === "function" ? ${name}_module : ${name}_module.default;`);
    }
    return name;
  });
  if (/\brequire\(/.test(code)) throw new Error('the standalone validator requires something that is not an Ajv runtime helper');
  const hash = createHash('sha256').update(JSON.stringify(compiled)).digest('hex').slice(0, 16);
  return [
    `// Generated by \`npm run schema\` (src/config/compiled-validator.ts) from schema/gatehouse.schema.json; do not edit.`,
    `// Ajv standalone validator, options ${JSON.stringify(AJV_OPTIONS)}, annotations stripped, sections split (sha256 ${hash}).`,
    ...imports,
    ...helpers,
    code.replace(/^"use strict";/, ''),
    '',
  ].join('\n');
}
