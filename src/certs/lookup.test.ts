import { describe, expect, it } from 'vitest';
import { buildSniIndex, type IndexedCert } from './lookup.js';

const year = (y: number) => new Date(`${y}-01-01T00:00:00Z`);
const cert = (source: string, names: string[], notAfter = year(2030)): IndexedCert<string> => ({ source, names, notAfter, value: source });

const index = buildSniIndex(
  [
    cert('a', ['a.example', 'www.a.example']),
    cert('wild', ['*.wild.example']),
    cert('apex', ['wild.example']),
    cert('old', ['dup.example'], year(2027)),
    cert('new', ['dup.example'], year(2029)),
    cert('partial', ['w*.part.example', 'x.*.example']),
    cert('deep', ['*.b.deep.example']),
  ],
  'default',
);

describe('buildSniIndex select', () => {
  it.each([
    { description: 'exact name', sni: 'a.example', expected: 'a' },
    { description: 'second SAN of the same certificate', sni: 'www.a.example', expected: 'a' },
    { description: 'upper case is the same name (RFC 4343)', sni: 'WWW.A.Example', expected: 'a' },
    { description: 'trailing dot of the absolute form', sni: 'a.example.', expected: 'a' },
    { description: 'one label under a wildcard', sni: 'x.wild.example', expected: 'wild' },
    { description: 'the apex has its own certificate, not the wildcard', sni: 'wild.example', expected: 'apex' },
    { description: 'two labels under a wildcard fall to the default', sni: 'a.b.wild.example', expected: 'default' },
    { description: 'a deeper wildcard covers its own label', sni: 'a.b.deep.example', expected: 'deep' },
    { description: 'nor does a deeper wildcard cover its parent', sni: 'b.deep.example', expected: 'default' },
    { description: 'the later notAfter wins a shared name', sni: 'dup.example', expected: 'new' },
    { description: 'partial wildcards are not honoured (RFC 6125 §6.4.3)', sni: 'www.part.example', expected: 'default' },
    { description: 'unknown name', sni: 'nothing.example', expected: 'default' },
    { description: 'no SNI', sni: undefined, expected: 'default' },
    { description: 'empty SNI', sni: '', expected: 'default' },
    { description: 'a leading dot is not a label', sni: '.wild.example', expected: 'default' },
  ])('$description', ({ sni, expected }) => {
    expect(index.select(sni)).toBe(expected);
  });

  it('reports names claimed twice with the winner', () => {
    expect(index.conflicts).toEqual([{ name: 'dup.example', chosen: 'new', others: ['old'] }]);
  });

  it('refuses (undefined) when there is no fallback', () => {
    const strict = buildSniIndex([cert('a', ['a.example'])], undefined);
    expect(strict.select('a.example')).toBe('a');
    expect(strict.select('b.example')).toBeUndefined();
    expect(strict.select(undefined)).toBeUndefined();
  });

  it('gives a tie to the certificate listed later (a put after the files)', () => {
    const tie = buildSniIndex([cert('file', ['t.example']), cert('put', ['t.example'])], undefined);
    expect(tie.select('t.example')).toBe('put');
  });
});
