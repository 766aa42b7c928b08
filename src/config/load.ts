/**
 * The config load pipeline: file → JSONC (or YAML, for a .yaml/.yml file) with positions → ${VAR} substitution → schema validation → a
 * deep-frozen Config. Every problem found is reported at once, sorted by where it sits in the file, so one
 * edit-and-retry round fixes them all.
 */
import { readFileSync } from 'node:fs';
import { GatehouseError, GatehouseErrors, type ErrorCode } from '../errors.js';
import { parseJsonDocument, type JsonDocument, type JsonPath } from './parse-json.js';
import { isYamlFile, parseYamlDocument } from './parse-yaml.js';
import type { Config } from './schema.js';
import { substituteVariables } from './substitute.js';
import { coerceSubstituted } from './coerce.js';
import { configJsonSchema, schemaProblems } from './validate.js';

const SCHEMA = configJsonSchema();

/**
 * Reads, substitutes and validates a config file (JSONC, or YAML when its name ends in .yaml or .yml). Returns a deep-frozen Config, or throws GatehouseErrors
 * holding every problem (CONFIG_READ, CONFIG_SYNTAX, CONFIG_VARIABLE, CONFIG_SCHEMA). `env` defaults to
 * process.env.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const reason = osReason(cause);
    throw new GatehouseErrors([
      new GatehouseError('CONFIG_READ', `cannot read the config file: ${reason}`, { cause, location: { file } }),
    ]);
  }
  return parseConfigText(text, { file, env });
}

/** Same as loadConfigFile, from text; `file` only names the source in messages. */
export function parseConfigText(text: string, options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const { file, env = process.env } = options;
  const doc = parseDocument(text, file);
  const replaced = substituteVariables(doc.value, env);
  const substituted = { ...replaced, value: coerceSubstituted(replaced.value, doc.value, SCHEMA) };
  const found: Located[] = substituted.problems.map((p) =>
    locate(doc, file, 'CONFIG_VARIABLE', p.path, p.message, { index: p.index }),
  );
  // A string whose variable failed keeps its raw text; the schema would only complain about that text again.
  const failed = new Set(substituted.problems.map((p) => toPointer(p.path)));
  for (const p of schemaProblems(substituted.value)) {
    if (p.at === 'value' && failed.has(toPointer(p.path))) continue;
    // The file shows `${VAR}`, the message the value it became: name both, or the two seem to disagree.
    const raw = p.at === 'value' ? valueAt(doc.value, p.path) : undefined;
    const note = typeof raw === 'string' && raw !== valueAt(substituted.value, p.path) ? ` (substituted from ${JSON.stringify(raw)})` : '';
    found.push(locate(doc, file, 'CONFIG_SCHEMA', p.path, p.message + note, { at: p.at }));
  }
  if (found.length > 0) throw new GatehouseErrors(sortUnique(found));
  return deepFreeze(substituted.value) as Config;
}

/**
 * The file's value after substitution, not validated: for `gatehouse check`, which keeps looking for router
 * problems in a file that also has schema problems. Undefined when the file cannot be read or parsed.
 */
export function readConfigDraft(file: string, env: NodeJS.ProcessEnv = process.env): unknown {
  try {
    return substituteVariables(parseDocument(readFileSync(file, 'utf8'), file).value, env).value;
  } catch {
    return undefined;
  }
}

/** The file's text as a document with positions: YAML by a .yaml/.yml name, JSONC otherwise. */
function parseDocument(text: string, file: string | undefined): JsonDocument {
  return isYamlFile(file) ? parseYamlDocument(text, file) : parseJsonDocument(text, file);
}

/**
 * Validates an already-built config object (the library API's path): schema only, no substitution. Returns a
 * deep-frozen copy; the caller's object is left as it was.
 */
export function validateConfig(value: unknown, options: { file?: string } = {}): Config {
  const found: Located[] = schemaProblems(value).map((p) => ({
    offset: undefined,
    error: new GatehouseError('CONFIG_SCHEMA', p.message, { location: { file: options.file, path: toPointer(p.path) } }),
  }));
  if (found.length > 0) throw new GatehouseErrors(sortUnique(found));
  return deepFreeze(copyPlain(value)) as Config;
}

interface Located {
  offset: number | undefined;
  error: GatehouseError;
}

function locate(
  doc: JsonDocument,
  file: string | undefined,
  code: ErrorCode,
  path: JsonPath,
  message: string,
  where: { at?: 'key' | 'value'; index?: number },
): Located {
  const position = doc.position(path, where);
  const location = { file, path: toPointer(path), line: position?.line, column: position?.column };
  return { offset: position?.offset, error: new GatehouseError(code, message, { location }) };
}

/** In file order (problems without a position last, by path); the same message at the same place once. */
function sortUnique(found: Located[]): GatehouseError[] {
  const sorted = [...found].sort(
    (a, b) =>
      (a.offset ?? Infinity) - (b.offset ?? Infinity) ||
      (a.error.location.path ?? '').localeCompare(b.error.location.path ?? ''),
  );
  const seen = new Set<string>();
  return sorted
    .map((f) => f.error)
    .filter((e) => {
      const key = e.toString();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

function valueAt(value: unknown, path: JsonPath): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** RFC 6901 JSON Pointer of a path. */
function toPointer(path: JsonPath): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** The OS's words without Node's `ENOENT: ... open 'path'` wrapping: "no such file or directory (ENOENT)". */
function osReason(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as NodeJS.ErrnoException).code;
  const words = /^[A-Z]+: (.*?), \w+(?: '.*')?$/.exec(cause.message)?.[1] ?? cause.message;
  return code ? `${words} (${code})` : words;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of the plain objects and arrays in `value`. Anything else (a function or class instance that the
 * library API passes in plugin options) is kept by reference: copying or freezing it would break it.
 */
function copyPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyPlain);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    Object.defineProperty(out, key, { value: copyPlain(child), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Freezes plain objects and arrays all the way down, so a config snapshot cannot change under a reload. */
function deepFreeze(value: unknown): unknown {
  if (Array.isArray(value) || isPlainObject(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
