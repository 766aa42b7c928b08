import { describe, expect, it } from 'vitest';
import { AcmeError, parseRetryAfter, problemText } from './problems.js';

const now = Date.UTC(2025, 0, 1, 12);

describe('parseRetryAfter (RFC 9110 §10.2.3)', () => {
  it.each<[string, unknown, number | undefined]>([
    ['seconds', '120', now + 120_000],
    ['an HTTP date', 'Wed, 01 Jan 2025 13:00:00 GMT', now + 3600_000],
    ['absent', undefined, undefined],
    ['garbage', 'soon', undefined],
    ['empty', '', undefined],
  ])('%s', (_d, value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('AcmeError', () => {
  it.each<[string, ConstructorParameters<typeof AcmeError>[2], boolean, boolean]>([
    ['rateLimited by type', { problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many', status: 429 } }, true, false],
    ['rateLimited by status alone', { problem: { type: '', detail: '', status: 429 } }, true, false],
    ['accountDoesNotExist', { problem: { type: 'urn:ietf:params:acme:error:accountDoesNotExist', detail: 'x', status: 400 } }, false, true],
    ["Pebble's forgotten account detail", { problem: { type: 'urn:ietf:params:acme:error:malformed', detail: 'Account https://127.0.0.1:14000/my-account/1 not found.', status: 400 } }, false, true],
    ['a validation failure is neither', { problem: { type: 'urn:ietf:params:acme:error:connection', detail: 'refused', status: 400 } }, false, false],
    ['no problem document is neither', {}, false, false],
  ])('%s', (_d, options, rateLimited, accountGone) => {
    const e = new AcmeError('ACME_ORDER_FAILED', 'order failed', options);
    expect(e.rateLimited).toBe(rateLimited);
    expect(e.accountGone).toBe(accountGone);
  });

  it('problemText names the problem type without its URN prefix', () => {
    expect(problemText(new Error('x'), { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates', status: 429 })).toBe('rateLimited: too many certificates');
    expect(problemText(new Error('plain'), undefined)).toBe('plain');
  });
});
