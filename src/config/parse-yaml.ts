/**
 * A YAML config (`config.prod.yaml`) read into the same JsonDocument as a JSONC one, so substitution, the schema and
 * every message after it point at lines and columns the same way. YAML 1.2's core schema (`yes` stays a string);
 * anchors and aliases resolve, merge keys (`<<`) are not YAML 1.2 and are refused by the schema as unknown keys.
 * The `yaml` package is loaded on the first YAML file only: a JSON config never pays for it.
 */
import { createRequire } from 'node:module';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import { GatehouseError, GatehouseErrors } from '../errors.js';
import type { JsonDocument, JsonPath } from './parse-json.js';
import { positionsOf, type TextPosition } from './text-position.js';

type YamlModule = typeof import('yaml');
let yaml: YamlModule | undefined;

/** Whether `file` is read as YAML: by its extension, `.yaml` or `.yml`. */
export function isYamlFile(file: string | undefined): boolean {
  return file !== undefined && /\.ya?ml$/i.test(file);
}

/**
 * Parses `text` as one YAML document. Throws GatehouseErrors of code CONFIG_SYNTAX: every error the parser reports
 * (it reports each duplicate key, and does not echo one mistake as several), each at its line and column.
 */
export function parseYamlDocument(text: string, file?: string): JsonDocument {
  yaml ??= createRequire(import.meta.url)('yaml') as YamlModule;
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const at = positionsOf(source);
  const doc = yaml.parseDocument(source, { prettyErrors: false, uniqueKeys: true, strict: true, keepSourceTokens: false });
  if (doc.errors.length > 0) {
    // Every duplicate key, as for JSON; of other errors the first only (the later ones mostly echo it).
    const duplicates = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
    const shown = duplicates.length === doc.errors.length ? duplicates : [doc.errors.find((e) => e.code !== 'DUPLICATE_KEY')!];
    throw new GatehouseErrors(
      shown.map((e) => {
        // An indentation error points at the line's start: the column of what is misplaced says more.
        const { line, column } = at(e.pos[0] + /^[ ]*/.exec(source.slice(e.pos[0], e.pos[0] + 200))![0].length);
        const message = e.code === 'DUPLICATE_KEY' ? `duplicate key ${JSON.stringify(keyText(source, e.pos))}` : e.message.replace(/ at line \d+, column \d+[\s\S]*$/, '');
        return new GatehouseError('CONFIG_SYNTAX', `invalid YAML: ${message}`, { location: { file, line, column } });
      }),
    );
  }
  if (doc.contents === null) throw new GatehouseErrors([new GatehouseError('CONFIG_SYNTAX', 'invalid YAML: the file is empty', { location: { file, line: 1, column: 1 } })]);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new GatehouseErrors([new GatehouseError('CONFIG_SYNTAX', `invalid YAML: ${(err as Error).message}`, { location: { file, line: 1, column: 1 } })]);
  }
  return {
    value,
    position(path, options = {}) {
      const found = findNode(doc, path);
      if (!found) return undefined;
      const { node, pair } = found;
      const keyStart = (pair?.key as YamlNode | null | undefined)?.range?.[0];
      if (options.at === 'key' && keyStart !== undefined) return at(keyStart);
      const start = node?.range?.[0] ?? keyStart;
      if (start === undefined) return undefined;
      if (options.index !== undefined && node !== undefined && yaml!.isScalar(node) && typeof node.value === 'string') {
        const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
        return at(start + quoted + options.index);
      }
      return at(start);
    },
  };
}

/** The key a DUPLICATE_KEY error points at, as written (quotes and the colon dropped). */
function keyText(source: string, pos: [number, number]): string {
  const rest = source.slice(pos[0], source.indexOf('\n', pos[0]) === -1 ? undefined : source.indexOf('\n', pos[0]));
  return (/^("[^"]*"|'[^']*'|[^:]*)/.exec(rest)?.[1] ?? rest).replace(/^["']|["']$/g, '').trim();
}

/** The node at `path` and the map entry holding it (a key without a value has no node, only its pair). */
function findNode(doc: Document, path: JsonPath): { node: YamlNode | undefined; pair: Pair | undefined } | undefined {
  let node = doc.contents as YamlNode | null | undefined;
  let pair: Pair | undefined;
  for (const segment of path) {
    if (node === null || node === undefined) return undefined;
    if (yaml!.isMap(node)) {
      pair = node.items.findLast((p) => (yaml!.isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
      if (!pair) return undefined;
      node = (pair.value as YamlNode | null) ?? undefined;
    } else if (yaml!.isSeq(node)) {
      pair = undefined;
      node = node.items[Number(segment)] as YamlNode | undefined;
      if (node === undefined) return undefined;
    } else {
      return undefined;
    }
  }
  return { node: node ?? undefined, pair };
}

export type { TextPosition };
