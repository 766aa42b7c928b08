/**
 * JSONC (JSON with `//` and `/* *\/` comments and trailing commas, as VS Code reads its own settings) parsed into a
 * value that remembers where each part came from, so every later message can point at a line and column. Configs
 * are read and annotated by hand for years; comments cost nothing at run time, and editors that know JSONC still
 * complete from `$schema`.
 */
import { parseTree, printParseErrorCode, visit, type Node } from 'jsonc-parser';
import { GatehouseError, GatehouseErrors } from '../errors.js';
import { positionsOf, type TextPosition } from './text-position.js';

export type { TextPosition };

/** JSON path segments: object keys and array indexes (Ajv's pointers give indexes as strings; both work). */
export type JsonPath = readonly (string | number)[];

/** A parsed JSON text: its value and a way back from a path in that value to the text. */
export interface JsonDocument {
  readonly value: unknown;
  /**
   * Where the value at `path` starts (`at: 'key'`: where its key starts). `index` moves into a string value
   * by that many decoded characters, so a message can point inside the string. Undefined for a path that
   * is not in the text.
   */
  position(path: JsonPath, options?: { at?: 'key' | 'value'; index?: number }): TextPosition | undefined;
}

const JSONC = { disallowComments: false, allowTrailingComma: true, allowEmptyContent: false } as const;

/**
 * Parses `text` as JSONC. Throws GatehouseErrors of code CONFIG_SYNTAX: the first syntax error only
 * (the parser's recovery guesses make the later ones mostly echoes of the first), or every duplicate key.
 */
export function parseJsonDocument(text: string, file?: string): JsonDocument {
  // An editor's byte order mark is not content; dropping it keeps columns as the editor shows them.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const at = positionsOf(source);

  const syntax = firstSyntaxError(source);
  if (syntax) {
    const { line, column } = at(syntax.offset);
    throw new GatehouseErrors([
      new GatehouseError('CONFIG_SYNTAX', `invalid JSON: ${syntax.message}`, { location: { file, line, column } }),
    ]);
  }
  const root = parseTree(source, [], JSONC);
  if (!root) throw new GatehouseErrors([new GatehouseError('CONFIG_SYNTAX', 'invalid JSON: the file is empty', { location: { file, line: 1, column: 1 } })]);

  const duplicates: GatehouseError[] = [];
  const value = buildValue(root, (key, first, again) => {
    const { line, column } = at(again.offset);
    const message = `duplicate key "${key}" (first at line ${at(first.offset).line})`;
    duplicates.push(new GatehouseError('CONFIG_SYNTAX', message, { location: { file, line, column } }));
  });
  if (duplicates.length > 0) throw new GatehouseErrors(duplicates);

  return {
    value,
    position(path, options = {}) {
      const node = findNode(root, path);
      if (!node) return undefined;
      if (options.at === 'key') return node.parent?.type === 'property' ? at(node.parent.children![0]!.offset) : at(node.offset);
      if (options.index !== undefined && node.type === 'string') return at(rawOffset(source, node.offset, options.index));
      return at(node.offset);
    },
  };
}

/** Offset in the text of the `index`-th decoded character of the string literal starting at `start`. */
function rawOffset(text: string, start: number, index: number): number {
  let offset = start + 1; // past the opening quote
  for (let decoded = 0; decoded < index && offset < text.length; decoded++) {
    offset += text[offset] !== '\\' ? 1 : text[offset + 1] === 'u' ? 6 : 2;
  }
  return offset;
}

interface SyntaxProblem {
  offset: number;
  message: string;
}

function firstSyntaxError(text: string): SyntaxProblem | undefined {
  if (text.trim() === '') return { offset: 0, message: 'the file is empty' };
  let first: SyntaxProblem | undefined;
  // Which container we are in decides whether a missing comma is "closing brace" or "closing bracket".
  const containers: ('object' | 'array')[] = [];
  visit(
    text,
    {
      onObjectBegin: () => void containers.push('object'),
      onObjectEnd: () => void containers.pop(),
      onArrayBegin: () => void containers.push('array'),
      onArrayEnd: () => void containers.pop(),
      onError: (code, offset, length) => {
        first ??= { offset, message: syntaxMessage(printParseErrorCode(code), text, offset, length, containers.at(-1)) };
      },
    },
    JSONC,
  );
  return first;
}

function syntaxMessage(code: string, text: string, offset: number, length: number, container: 'object' | 'array' | undefined): string {
  const found = text.slice(offset, offset + length);
  const closer = container === 'array' ? 'closing bracket' : 'closing brace';
  const atEnd = text.slice(offset).trim() === '';
  switch (code) {
    case 'InvalidSymbol':
      return found.startsWith("'") ? `unexpected ${found}: JSON strings use double quotes` : `unexpected ${JSON.stringify(found)}`;
    case 'InvalidNumberFormat':
    case 'UnexpectedEndOfNumber':
      return `invalid number ${JSON.stringify(found)}`;
    case 'PropertyNameExpected':
      return 'expected a property name in double quotes';
    case 'ValueExpected':
      if (afterComma(text, offset) && found === ',') return 'two commas in a row';
      return atEnd ? 'unexpected end of file: expected a value' : 'expected a value';
    case 'ColonExpected':
      return 'expected a colon after the property name';
    case 'CommaExpected':
      return `expected a comma or ${closer}`;
    case 'CloseBraceExpected':
      return atEnd ? 'unexpected end of file: expected a closing brace' : 'expected a comma or closing brace';
    case 'CloseBracketExpected':
      return atEnd ? 'unexpected end of file: expected a closing bracket' : 'expected a comma or closing bracket';
    case 'EndOfFileExpected':
      return 'unexpected text after the end of the JSON value';
    case 'InvalidCommentToken':
    case 'UnexpectedEndOfComment':
      return 'unterminated block comment: expected */';
    case 'UnexpectedEndOfString':
      return 'unterminated string (a string must end on the line it starts)';
    case 'InvalidUnicode':
      return 'invalid \\u escape in a string';
    case 'InvalidEscapeCharacter':
      return 'invalid escape sequence in a string';
    case 'InvalidCharacter':
      return 'control character in a string (escape it, e.g. \\n or \\t)';
    default:
      return code;
  }
}

function afterComma(text: string, offset: number): boolean {
  return text.slice(0, offset).trimEnd().endsWith(',');
}

/** Plain objects and arrays from the tree; `__proto__` keys stay own properties instead of setting prototypes. */
function buildValue(node: Node, onDuplicate: (key: string, first: Node, again: Node) => void): unknown {
  switch (node.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const seen = new Map<string, Node>();
      for (const property of node.children ?? []) {
        const [keyNode, valueNode] = property.children ?? [];
        if (!keyNode || !valueNode) continue;
        const key = String(keyNode.value);
        const first = seen.get(key);
        if (first) onDuplicate(key, first, keyNode);
        else seen.set(key, keyNode);
        Object.defineProperty(out, key, { value: buildValue(valueNode, onDuplicate), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'array':
      return (node.children ?? []).map((child) => buildValue(child, onDuplicate));
    default:
      return node.value as unknown;
  }
}

/** The value node at `path`; for a repeated key the last one, which is the one JSON.parse keeps. */
function findNode(root: Node, path: JsonPath): Node | undefined {
  let node: Node | undefined = root;
  for (const segment of path) {
    if (!node) return undefined;
    if (node.type === 'object') {
      const property: Node | undefined = node.children?.findLast((p) => p.children?.[0]?.value === String(segment));
      node = property?.children?.[1];
    } else if (node.type === 'array') {
      node = node.children?.[Number(segment)];
    } else {
      return undefined;
    }
  }
  return node;
}
