import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, GatehouseError, formatLocation } from './errors.js';

const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = [...docs.matchAll(/^## ([A-Z_]+)$/gm)].map((m) => m[1]);

describe('error catalogue', () => {
  it.each(Object.keys(ERROR_CODES))('%s has a section in docs/errors.md', (code) => {
    expect(documented).toContain(code);
  });

  it('documents no code that the catalogue lacks', () => {
    expect(documented.filter((c) => !(c! in ERROR_CODES))).toEqual([]);
  });
});

describe('formatLocation', () => {
  it.each([
    ['nothing known', {}, ''],
    ['file only', { file: 'c.json' }, 'c.json: '],
    ['file, line, column, path', { file: 'c.json', line: 3, column: 7, path: '/http' }, 'c.json:3:7 at /http: '],
    ['path only', { path: '/entryPoints/web' }, 'at /entryPoints/web: '],
    ['root path', { path: '' }, 'at /: '],
  ])('%s', (_d, loc, expected) => {
    expect(formatLocation(loc)).toBe(expected);
  });

  it('puts the code at the end of toString', () => {
    const err = new GatehouseError('CONFIG_SCHEMA', 'bad', { location: { file: 'a.json', path: '/x' } });
    expect(err.toString()).toBe('a.json at /x: bad [CONFIG_SCHEMA]');
  });
});
