import { describe, expect, it } from 'vitest';
import { GatehouseErrors } from '../errors.js';
import { parseJsonDocument } from './parse-json.js';

/** The formatted messages parseJsonDocument throws for `text`, or [] when it parses. */
function syntaxMessages(text: string): string[] {
  try {
    parseJsonDocument(text, 'c.json');
    return [];
  } catch (error) {
    if (!(error instanceof GatehouseErrors)) throw error;
    return error.errors.map((e) => e.toString());
  }
}

describe('parseJsonDocument syntax errors', () => {
  it.each([
    ['missing comma between properties', '{\n  "a": 1\n  "b": 2\n}', 'c.json:3:3: invalid JSON: expected a comma or closing brace [CONFIG_SYNTAX]'],
    ['missing comma in an array', '{"a": [1\n  2]}', 'c.json:2:3: invalid JSON: expected a comma or closing bracket [CONFIG_SYNTAX]'],
    ['unterminated block comment', '{ /* note "a": 1 }', 'c.json:1:3: invalid JSON: unterminated block comment: expected */ [CONFIG_SYNTAX]'],
    ['two commas in a row', '{"a": [1,, 2]}', 'c.json:1:10: invalid JSON: two commas in a row [CONFIG_SYNTAX]'],
    ['a comment and nothing else', '// only a note\n', 'c.json:2:1: invalid JSON: unexpected end of file: expected a value [CONFIG_SYNTAX]'],
    ['single quotes', "{'a': 1}", "c.json:1:2: invalid JSON: unexpected 'a': JSON strings use double quotes [CONFIG_SYNTAX]"],
    ['bare word', '{"a": yes}', 'c.json:1:7: invalid JSON: unexpected "yes" [CONFIG_SYNTAX]'],
    ['missing colon', '{"a" 1}', 'c.json:1:6: invalid JSON: expected a colon after the property name [CONFIG_SYNTAX]'],
    ['missing value', '{"a": }', 'c.json:1:7: invalid JSON: expected a value [CONFIG_SYNTAX]'],
    ['unterminated string', '{"a": "x\n}', 'c.json:1:7: invalid JSON: unterminated string (a string must end on the line it starts) [CONFIG_SYNTAX]'],
    ['bad escape', '{"a": "\\q"}', 'c.json:1:7: invalid JSON: invalid escape sequence in a string [CONFIG_SYNTAX]'],
    ['text after the value', '{"a": 1}}', 'c.json:1:9: invalid JSON: unexpected text after the end of the JSON value [CONFIG_SYNTAX]'],
    ['truncated file', '{"a": {"b": 1}', 'c.json:1:15: invalid JSON: unexpected end of file: expected a closing brace [CONFIG_SYNTAX]'],
    ['empty file', '', 'c.json:1:1: invalid JSON: the file is empty [CONFIG_SYNTAX]'],
    ['whitespace only', '  \n ', 'c.json:1:1: invalid JSON: the file is empty [CONFIG_SYNTAX]'],
    ['columns count after a byte order mark as editors do', '\uFEFF{"a" 1}', 'c.json:1:6: invalid JSON: expected a colon after the property name [CONFIG_SYNTAX]'],
  ])('%s', (_description, text, message) => {
    expect(syntaxMessages(text)).toEqual([message]);
  });

  it('reports every duplicate key, at the repeated key', () => {
    const text = '{\n  "a": 1,\n  "b": {"c": 1, "c": 2},\n  "a": 3\n}';
    expect(syntaxMessages(text)).toEqual([
      'c.json:3:17: duplicate key "c" (first at line 3) [CONFIG_SYNTAX]',
      'c.json:4:3: duplicate key "a" (first at line 2) [CONFIG_SYNTAX]',
    ]);
  });
});

describe('parseJsonDocument reads JSONC', () => {
  it.each([
    ['a line comment', '{\n  // note\n  "a": 1\n}', { a: 1 }],
    ['a block comment', '{ /* note */ "a": 1 }', { a: 1 }],
    ['a comment after a value', '{"a": 1 // one\n}', { a: 1 }],
    ['a trailing comma in an object', '{"a": 1,\n}', { a: 1 }],
    ['a trailing comma in an array', '{"a": [1, 2, ]}', { a: [1, 2] }],
    ['slashes inside a string are not a comment', '{"url": "http://x//y"}', { url: 'http://x//y' }],
  ])('%s', (_description, text, value) => {
    expect(parseJsonDocument(text).value).toEqual(value);
  });

  it('positions count the comments before a value', () => {
    const doc = parseJsonDocument('{\n  // the port\n  /* two\n  lines */ "port": 80,\n}');
    expect(doc.position(['port'])).toMatchObject({ line: 4, column: 20 });
    expect(doc.position(['port'], { at: 'key' })).toMatchObject({ line: 4, column: 12 });
  });
});

describe('parseJsonDocument values and positions', () => {
  const text = [
    '{',
    '  "name": "gate",',
    '  "list": [10, {"deep": true}],',
    '  "esc": "a\\u0041\\n${X}",',
    '  "nil": null',
    '}',
  ].join('\n');
  const doc = parseJsonDocument(text);

  it('gives the same value as JSON.parse', () => {
    expect(doc.value).toEqual(JSON.parse(text));
  });

  it.each([
    ['the root', [], {}, { line: 1, column: 1 }],
    ['a string value', ['name'], {}, { line: 2, column: 11 }],
    ['a key', ['name'], { at: 'key' as const }, { line: 2, column: 3 }],
    ['an array item by number', ['list', 0], {}, { line: 3, column: 12 }],
    ['an array item by string index (as Ajv gives it)', ['list', '1', 'deep'], {}, { line: 3, column: 25 }],
    ['a key inside an array item', ['list', 1, 'deep'], { at: 'key' as const }, { line: 3, column: 17 }],
    ['inside a string, past escapes', ['esc'], { index: 3 }, { line: 4, column: 20 }],
    ['null value', ['nil'], {}, { line: 5, column: 10 }],
  ])('finds %s', (_description, path, options, expected) => {
    expect(doc.position(path, options)).toMatchObject(expected);
  });

  it('gives undefined for a path that is not in the text', () => {
    expect(doc.position(['nope'])).toBeUndefined();
    expect(doc.position(['list', 5])).toBeUndefined();
    expect(doc.position(['name', 'x'])).toBeUndefined();
  });

  it('keeps a __proto__ key as own data, not as the prototype', () => {
    const value = parseJsonDocument('{"__proto__": {"polluted": 1}}').value as object;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
  });
});
