import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

describe('log redaction', () => {
  it.each([
    ['authorization header', { headers: { authorization: 'Basic c2VjcmV0' } }, 'c2VjcmV0'],
    ['proxy authorization', { headers: { 'proxy-authorization': 'Bearer tok-123' } }, 'tok-123'],
    ['cookie', { req: { headers: { cookie: 'session=abc123' } } }, 'abc123'],
    ['set-cookie', { res: { headers: { 'set-cookie': ['sid=zzz999'] } } }, 'zzz999'],
    ['private key', { privateKey: '-----BEGIN PRIVATE KEY-----xyz' }, 'BEGIN PRIVATE KEY'],
    ['nested account key', { acme: { accountKey: 'acct-secret-1' } }, 'acct-secret-1'],
  ])('censors %s', (_d, fields, secret) => {
    const { lines, log } = capture();
    log.info(fields, 'something happened');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).toContain('[redacted]');
  });

  it('keeps ordinary fields and writes the level as a label', () => {
    const { lines, log } = capture();
    log.info({ host: 'a.test', headers: { accept: 'text/html' } }, 'request');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'request', host: 'a.test', headers: { accept: 'text/html' } });
  });
});
