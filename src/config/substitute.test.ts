import { describe, expect, it } from 'vitest';
import { expandString, substituteVariables } from './substitute.js';

const env = { HOST: 'example.test', PORT: '8443', EMPTY: '', DOLLAR: '$${X}' };

describe('expandString', () => {
  it.each([
    ['no reference', 'plain text', 'plain text'],
    ['whole string', '${HOST}', 'example.test'],
    ['inside a string', 'https://${HOST}/', 'https://example.test/'],
    ['several in one string', '${HOST}:${PORT}', 'example.test:8443'],
    ['adjacent references', '${PORT}${PORT}', '84438443'],
    ['default unused when set', '${PORT:-80}', '8443'],
    ['default used when unset', '${NOPE:-80}', '80'],
    ['default used when empty (shell :-)', '${EMPTY:-fallback}', 'fallback'],
    ['empty but set gives empty', 'a${EMPTY}b', 'ab'],
    ['empty default', '${NOPE:-}', ''],
    ['default with punctuation', '${NOPE:-http://127.0.0.1:3000/a-b}', 'http://127.0.0.1:3000/a-b'],
    ['$${ is a literal ${', 'costs $${AMOUNT}', 'costs ${AMOUNT}'],
    ['escape next to a reference', '$${HOST}=${HOST}', '${HOST}=example.test'],
    ['a value is not expanded again', '${DOLLAR}', '$${X}'],
    ['$ without brace is text', '$HOME and $5 and $$', '$HOME and $5 and $$'],
    ['lone closing brace is text', 'a}b', 'a}b'],
    ['underscore and digits in names', '${NOPE_2:-x}', 'x'],
  ])('%s: %s', (_description, input, expected) => {
    expect(expandString(input, env)).toEqual({ value: expected, problems: [] });
  });

  it.each([
    ['unset without default', 'url ${NOPE}', [{ index: 4, message: 'environment variable NOPE is not set (write ${NOPE:-value} to give a default)' }]],
    ['two unset in one string', '${A}-${B}', [
      { index: 0, message: 'environment variable A is not set (write ${A:-value} to give a default)' },
      { index: 5, message: 'environment variable B is not set (write ${B:-value} to give a default)' },
    ]],
    ['unterminated', 'x${HOST', [{ index: 1, message: 'unterminated variable reference "${HOST": missing "}" (write $${ for a literal ${)' }]],
    ['lone ${', '${', [{ index: 0, message: 'unterminated variable reference "${": missing "}" (write $${ for a literal ${)' }]],
    ['empty name', '${}', [{ index: 0, message: 'invalid variable reference "${}": no variable name; expected ${NAME} or ${NAME:-default}' }]],
    ['empty name with default', '${:-x}', [{ index: 0, message: 'invalid variable reference "${:-x}": no variable name; expected ${NAME} or ${NAME:-default}' }]],
    ['name starts with a digit', '${1X}', [{ index: 0, message: 'invalid variable reference "${1X}": a name must not start with a digit' }]],
    ['bash-only form ${VAR-x}', '${HOST-x}', [{ index: 0, message: 'invalid variable reference "${HOST-x}": expected ${NAME} or ${NAME:-default}, with a name of letters, digits and _' }]],
    ['space in name', '${MY HOST}', [{ index: 0, message: 'invalid variable reference "${MY HOST}": expected ${NAME} or ${NAME:-default}, with a name of letters, digits and _' }]],
    ['nested default', 'a${X:-${HOST}}b', [{ index: 1, message: 'a default cannot contain another reference: "${X:-${HOST}}"' }]],
  ])('reports %s', (_description, input, problems) => {
    expect(expandString(input, env).problems).toEqual(problems);
  });

  it('looks up only own properties of env', () => {
    expect(expandString('${toString:-own only}', {}).value).toBe('own only');
  });
});

describe('substituteVariables', () => {
  it('expands string values at every depth and leaves keys, numbers, booleans and null alone', () => {
    const input = { '${HOST}': 'k', list: ['${PORT}', 1, true, null, { deep: 'a${EMPTY}b' }], n: 5 };
    const { value, problems } = substituteVariables(input, env);
    expect(problems).toEqual([]);
    expect(value).toEqual({ '${HOST}': 'k', list: ['8443', 1, true, null, { deep: 'ab' }], n: 5 });
  });

  it('reports each problem with the path of its string and does not change the input', () => {
    const input = { a: { b: ['ok', 'x${NOPE}'] }, c: '${1}' };
    const snapshot = structuredClone(input);
    const { value, problems } = substituteVariables(input, env);
    expect(problems).toEqual([
      { path: ['a', 'b', 1], index: 1, message: 'environment variable NOPE is not set (write ${NOPE:-value} to give a default)' },
      { path: ['c'], index: 0, message: 'invalid variable reference "${1}": a name must not start with a digit' },
    ]);
    expect(input).toEqual(snapshot);
    expect(value).not.toBe(input);
  });

  it('keeps a __proto__ key as an own property instead of setting the prototype', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "${HOST}"}}') as object;
    const { value } = substituteVariables(input, env);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
