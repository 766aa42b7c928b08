import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as acme from 'acme-client';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig, type Config } from '../config/index.js';
import { httpChallengeSettings } from './http-settings.js';
import { jwkThumbprint, statelessAnswers } from './http-stateless.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-stateless-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const ecSec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string;
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';

/** acme-client's own key authorization for an http-01 token (RFC 8555 §8.1): what the CA expects. */
async function acmeClientKeyAuthorization(accountKey: string): Promise<string> {
  const client = new acme.Client({ directoryUrl: 'https://127.0.0.1:1/dir', accountKey });
  return client.getChallengeKeyAuthorization({ type: 'http-01', token: TOKEN, url: 'https://127.0.0.1:1/chal', status: 'pending' });
}

describe('RFC 7638 thumbprint of the account key', () => {
  it.each([
    ['P-256, PKCS#8', ecKey],
    ['P-256, SEC1 (openssl ecparam)', ecSec1],
    ['RSA 2048', rsaKey],
  ])('%s: token.thumbprint equals acme-client\'s key authorization', async (_d, key) => {
    expect(`${TOKEN}.${jwkThumbprint(key)}`).toBe(await acmeClientKeyAuthorization(key));
  });

  it('RFC 7638 §3.1 example key gives the RFC\'s thumbprint', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    const key = createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    expect(jwkThumbprint(key)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('refuses a key type an ACME account cannot have', () => {
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => jwkThumbprint(ed)).toThrow(/OKP.*not an ACME account key type/);
  });
});

function config(acmeExtra: Record<string, unknown>, names = ['rr.lab.test', 'Www.Lab.Test']): Config {
  return validateConfig({
    entryPoints: { web: { address: '127.0.0.1:0' } },
    certificateResolvers: {
      le: { acme: { caServer: 'https://127.0.0.1:1/dir', email: 'ops@lab.test', challenges: ['http-01'], ...acmeExtra } },
      other: { acme: { caServer: 'https://127.0.0.1:1/dir', email: 'ops@lab.test', challenges: ['http-01'] } },
    },
    http: {
      routers: {
        a: { rule: names.map((n) => `Host(\`${n}\`)`).join(' || '), respond: { body: 'a' }, tls: { certResolver: 'le' } },
        b: { rule: 'Host(`b.lab.test`)', respond: { body: 'b' }, tls: { certResolver: 'other' } },
      },
    },
  });
}

const wanted = [
  { resolver: 'le', names: ['rr.lab.test', 'www.lab.test'] },
  { resolver: 'other', names: ['b.lab.test'] },
];

describe('stateless answers from the config', () => {
  it('maps each name of a stateless resolver to its thumbprint, relative to the config file; others get none', () => {
    writeFileSync(join(dir, 'account.pem'), ecKey, { mode: 0o600 });
    const answers = statelessAnswers(config({ stateless: true, accountKeyFile: 'account.pem' }), join(dir, 'gatehouse.json'), wanted);
    expect(answers.problems).toEqual([]);
    expect([...answers.thumbprints]).toEqual([
      ['rr.lab.test', jwkThumbprint(ecKey)],
      ['www.lab.test', jwkThumbprint(ecKey)],
    ]);
    const settings = httpChallengeSettings(config({ stateless: true, accountKeyFile: 'account.pem' }), join(dir, 'gatehouse.json'), wanted);
    expect([...settings.managedNames]).toEqual(['rr.lab.test', 'www.lab.test', 'b.lab.test']);
    expect(settings.peers).toBeUndefined();
  });

  it('a resolver that is not stateless answers nothing statelessly', () => {
    expect(statelessAnswers(config({ accountKeyFile: join(dir, 'account.pem') }), undefined, wanted).thumbprints.size).toBe(0);
  });

  it('stateless without accountKeyFile answers nothing here (acme/wanted.ts reports it and disables the resolver)', () => {
    const answers = statelessAnswers(config({ stateless: true }), undefined, wanted);
    expect(answers.thumbprints.size).toBe(0);
    expect(answers.problems).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a key file that does not exist', { stateless: true, accountKeyFile: 'missing.pem' }, '/certificateResolvers/le/acme/accountKeyFile', /missing\.pem cannot be read \(ENOENT\)/],
    ['a key file that is not a key', { stateless: true, accountKeyFile: 'garbage.pem' }, '/certificateResolvers/le/acme/accountKeyFile', /garbage\.pem is not a usable PEM key/],
  ])('%s is an ACME_CONFIG problem with its JSON path, and disables only stateless mode', (_d, extra, path, message) => {
    writeFileSync(join(dir, 'garbage.pem'), '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    const cfg = config(extra);
    const problems = statelessAnswers(cfg, join(dir, 'gatehouse.json'), wanted).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]!.code).toBe('ACME_CONFIG');
    expect(problems[0]!.location.path).toBe(path);
    expect(problems[0]!.message).toMatch(message);
    expect(problems[0]!.message).not.toContain('bm90IGEga2V5');
    expect(statelessAnswers(cfg, join(dir, 'gatehouse.json'), wanted).thumbprints.size).toBe(0);
  });
});
