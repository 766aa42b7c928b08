import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dnsNames, pairCertificates, parsePemFile } from './pem.js';

const FIXTURES = new URL('../../test/fixtures/certs/', import.meta.url).pathname;
const read = (name: string) => readFileSync(FIXTURES + name, 'utf8');
const parse = (name: string, text = read(name)) => parsePemFile(name, text);

describe('dnsNames', () => {
  it.each([
    { description: 'several names, lower-cased', san: 'DNS:a.example, DNS:WWW.A.Example', names: ['a.example', 'www.a.example'] },
    { description: 'IP and email entries are not names', san: 'IP Address:127.0.0.1, DNS:a.example, email:x@a.example', names: ['a.example'] },
    { description: 'a trailing dot is dropped and duplicates merge', san: 'DNS:a.example., DNS:a.example', names: ['a.example'] },
    { description: 'a quoted entry is read as JSON', san: 'DNS:"b.example"', names: ['b.example'] },
    { description: 'no SAN at all', san: undefined, names: [] },
  ])('$description', ({ san, names }) => {
    expect(dnsNames(san)).toEqual(names);
  });
});

describe('parsePemFile', () => {
  it.each([
    { description: 'certificate, CA and key in one file', file: 'wrong.pem', certs: 2, keys: 1, problems: [] as RegExp[] },
    { description: 'a chain without key', file: 'left-fullchain.pem', certs: 2, keys: 0, problems: [] },
    { description: 'a key alone', file: 'left-key.pem', certs: 0, keys: 1, problems: [] },
    { description: 'a file cut in the middle of a block', file: 'wrong.pem', text: read('wrong.pem').slice(0, 1200), certs: 1, keys: 0, problems: [/no END line/] },
    { description: 'an encrypted key', file: 'x.pem', text: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n', certs: 0, keys: 0, problems: [/encrypted/] },
    { description: 'a certificate block that is not DER', file: 'x.pem', text: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', certs: 0, keys: 0, problems: [/unreadable certificate/] },
  ])('$description', ({ file, text, certs, keys, problems }) => {
    const parsed = parse(file, text);
    expect(parsed.certs).toHaveLength(certs);
    expect(parsed.keys).toHaveLength(keys);
    expect(parsed.problems).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(parsed.problems[i]).toMatch(p));
  });

  it('reads names, key type, CA flag and a public key id equal for certificate and key', () => {
    const chain = parse('left-fullchain.pem');
    const key = parse('left-key.pem').keys[0];
    expect(chain.certs[0]?.names).toEqual(['left.example']);
    expect(chain.certs[0]?.isCa).toBe(false);
    expect(chain.certs[1]?.isCa).toBe(true);
    expect(key?.keyType).toBe('ec');
    expect(parse('wrong.pem').keys[0]?.keyType).toBe('rsa');
    expect(chain.certs[0]?.publicKeyId).toBe(key?.publicKeyId);
  });
});

describe('pairCertificates', () => {
  it.each([
    { description: 'one combined file', files: ['wrong.pem'], pairs: [['wrong.pem', 'wrong.pem', 2]], problems: [] as string[] },
    { description: 'chain and key in separate files, either order', files: ['left-key.pem', 'left-fullchain.pem'], pairs: [['left-fullchain.pem', 'left-key.pem', 2]], problems: [] },
    { description: 'a CA file alone is chain material, not a problem', files: ['ca.pem'], pairs: [], problems: [] },
    { description: 'a certificate without its key', files: ['mismatch-cert.pem'], pairs: [], problems: ['mismatch-cert.pem'] },
    { description: 'a mismatched pair reports both files', files: ['mismatch-cert.pem', 'mismatch-key.pem'], pairs: [], problems: ['mismatch-cert.pem', 'mismatch-key.pem'] },
  ])('$description', ({ files, pairs, problems }) => {
    const result = pairCertificates(files.map((f) => parse(f)));
    expect(result.pairs.map((p) => [p.certFile, p.keyFile, p.chainPem.match(/BEGIN CERTIFICATE/g)?.length])).toEqual(pairs);
    expect(result.problems.map((p) => p.file)).toEqual(problems);
  });

  it('serves a leaf found in cert.pem and fullchain.pem from the longer chain (certbot layout)', () => {
    const leafOnly = parsePemFile('cert.pem', read('left-fullchain.pem').split(/(?<=-----END CERTIFICATE-----\n)/)[0] ?? '');
    const result = pairCertificates([leafOnly, parse('left-fullchain.pem'), parse('left-key.pem')]);
    expect(result.pairs.map((p) => p.certFile)).toEqual(['left-fullchain.pem']);
    expect(result.problems).toEqual([]);
  });
});
