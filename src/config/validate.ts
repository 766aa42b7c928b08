/**
 * Schema validation of a config value against the JSON Schema generated from ConfigSchema, with Ajv's raw
 * errors turned into one readable sentence per problem: what was expected and what was found. Loads neither TypeBox
 * nor Ajv's compiler.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
// Compiled ahead of time from the schema file by `npm run schema` (src/config/compiled-validator.ts): compiling
// it here took Ajv 0.4-0.9 s on every start. A check (and a reload) only runs the compiled function.
import { validate as check } from '../../schema/gatehouse.validate.mjs';
import { suggestClosest } from '../suggest.js';

/** The published schema file: the same relative place from src/config and from dist/config. */
const SCHEMA_FILE = fileURLToPath(new URL('../../schema/gatehouse.schema.json', import.meta.url));

let schemaText: string | undefined;

/**
 * The published JSON Schema of the config (schema/gatehouse.schema.json, generated from ConfigSchema by
 * src/config/json-schema.ts). A fresh copy on every call, so a caller may change it freely.
 */
export function configJsonSchema(): Record<string, unknown> {
  schemaText ??= readFileSync(SCHEMA_FILE, 'utf8');
  return JSON.parse(schemaText) as Record<string, unknown>;
}

/** One schema problem: the path of the value (or of the key, for an unknown key) and a readable message. */
export interface SchemaProblem {
  path: string[];
  at: 'key' | 'value';
  message: string;
}

/** Every schema problem in `value`, one per cause: the failing branches of a union collapse into one line. */
export function schemaProblems(value: unknown): SchemaProblem[] {
  if (check(value)) return [];
  const errors = check.errors ?? [];
  // A union reports each failing branch and then itself; the union's own line says it all, unless the value is an
  // object (or array) and one branch alone takes that shape (`log.accessLog`: true, or an object): then what is
  // wrong inside that branch is the answer, not "expected one of boolean, an object; found an object".
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const chosen = new Map<ErrorObject, string>();
  for (const u of unions) {
    const branch = branchForShape(u);
    if (branch !== undefined) chosen.set(u, `${u.schemaPath}/${branch}/`);
  }
  const inUnion = (e: ErrorObject) =>
    unions.some((u) => u !== e && e.schemaPath.startsWith(`${u.schemaPath}/`) && !(chosen.has(u) && e.schemaPath.startsWith(chosen.get(u)!)));
  return errors.filter((e) => !inUnion(e) && !chosen.has(e)).map(toProblem);
}

/** The index of the one branch of a failed union whose type is the value's (object or array), if exactly one is. */
function branchForShape(union: ErrorObject): number | undefined {
  const shape = Array.isArray(union.data) ? 'array' : union.data !== null && typeof union.data === 'object' ? 'object' : undefined;
  if (shape === undefined || !Array.isArray(union.schema)) return undefined;
  const matching = (union.schema as Record<string, unknown>[]).flatMap((b, i) => (b.type === shape ? [i] : []));
  return matching.length === 1 ? matching[0] : undefined;
}

function toProblem(error: ErrorObject): SchemaProblem {
  const path = decodePointer(error.instancePath);
  const found = describeValue(error.data);
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const keyPath = [...path, key];
      const properties = parent.properties as Record<string, unknown> | undefined;
      if (!properties && parent.patternProperties) {
        const patterns = Object.keys(parent.patternProperties as object).join(' or ');
        return { path: keyPath, at: 'key', message: `invalid name "${key}": expected a name matching ${patterns}` };
      }
      const suggestion = suggestClosest(key, Object.keys(properties ?? {}));
      const hint = suggestion ? `; did you mean "${suggestion}"?` : '';
      return { path: keyPath, at: 'key', message: `unknown key "${key}"${hint}` };
    }
    case 'required':
      return { path, at: 'value', message: `missing required key "${String(params.missingProperty)}"` };
    case 'type':
      return valueProblem(path, typeName(params.type), found);
    case 'anyOf':
    case 'oneOf':
      return valueProblem(path, unionExpectation(error.schema), found);
    case 'const':
      return valueProblem(path, JSON.stringify(params.allowedValue), found);
    case 'enum':
      return valueProblem(path, oneOf((params.allowedValues as unknown[]).map((v) => JSON.stringify(v))), found);
    case 'pattern': {
      const pattern = String(params.pattern);
      if (isDurationPattern(pattern)) return valueProblem(path, 'a duration such as 500ms, 10s, 2m, 1h or 0', found);
      return valueProblem(path, `a string matching ${pattern}`, found);
    }
    case 'minLength':
      return valueProblem(path, params.limit === 1 ? 'a non-empty string' : `at least ${String(params.limit)} characters`, found);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return valueProblem(path, `a number ${String(params.comparison)} ${String(params.limit)}`, found);
    case 'minItems':
      return valueProblem(path, `at least ${plural(Number(params.limit), 'item')}`, `${plural(arrayLength(error.data), 'item')}`);
    case 'minProperties':
      return valueProblem(path, `at least ${plural(Number(params.limit), 'entry', 'entries')}`, 'none');
    case 'uniqueItems': {
      const [first, again] = [Number(params.i), Number(params.j)].sort((a, b) => a - b) as [number, number];
      const item = Array.isArray(error.data) ? describeValue(error.data[first]) : 'item';
      return { path: [...path, String(again)], at: 'value', message: `duplicate item ${item} (first at ${first})` };
    }
    default:
      return { path, at: 'value', message: error.message ?? `fails ${error.keyword}` };
  }
}

/** `expected X, found Y`; a semicolon when X itself is a list, so the sentence still reads. */
function valueProblem(path: string[], expected: string, found: string): SchemaProblem {
  return { path, at: 'value', message: `expected ${expected}${expected.includes(',') ? ';' : ','} found ${found}` };
}

function unionExpectation(branches: unknown): string {
  const list = Array.isArray(branches) ? (branches as Record<string, unknown>[]) : [];
  const each = list.map((b) => ('const' in b ? JSON.stringify(b.const) : typeName(b.type)));
  return oneOf([...new Set(each)]);
}

function oneOf(items: string[]): string {
  return items.length === 1 ? items[0]! : `one of ${items.join(', ')}`;
}

function typeName(type: unknown): string {
  if (Array.isArray(type)) return oneOf(type.map(typeName));
  if (type === 'object') return 'an object';
  if (type === 'array') return 'an array';
  return String(type);
}

/** What was found, short: strings quoted (and cut when long), numbers and booleans with their type. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    case 'number':
      return `number ${value}`;
    case 'boolean':
      return `boolean ${value}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** Recognises the schema's duration pattern by what it accepts, so its text is not copied here. */
function isDurationPattern(pattern: string): boolean {
  const re = new RegExp(pattern, 'u');
  return ['500ms', '10s', '2m', '1h', '0'].every((s) => re.test(s)) && !re.test('10 seconds');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return n === 0 ? 'none' : `${n} ${n === 1 ? one : many}`;
}

function arrayLength(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}
