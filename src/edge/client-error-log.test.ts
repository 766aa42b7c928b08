import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../log.js';
import { CLIENT_ERROR_LINES, CLIENT_ERROR_WINDOW_MS, clientErrorLog } from './client-error-log.js';

interface Logged {
  fields: Record<string, unknown>;
  msg: string;
}

function logger(): { log: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const log = { info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  return { log, lines };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('client error lines', () => {
  it(`logs the first ${CLIENT_ERROR_LINES} of a window one by one and sums up the rest by code when it ends`, () => {
    const { log, lines } = logger();
    const logError = clientErrorLog(log, 'web');
    for (let i = 0; i < 1000; i++) logError(i % 2 === 0 ? 'TOO_MANY_HEADERS' : 'HPE_INVALID_METHOD', { clientIp: '127.0.0.1' });
    expect(lines).toHaveLength(CLIENT_ERROR_LINES);
    expect(lines[0]).toEqual({ fields: { entryPoint: 'web', code: 'TOO_MANY_HEADERS', clientIp: '127.0.0.1' }, msg: 'client error' });
    vi.advanceTimersByTime(CLIENT_ERROR_WINDOW_MS);
    expect(lines).toHaveLength(CLIENT_ERROR_LINES + 1);
    expect(lines.at(-1)).toEqual({
      fields: { entryPoint: 'web', errors: 1000 - CLIENT_ERROR_LINES, codes: { TOO_MANY_HEADERS: 490, HPE_INVALID_METHOD: 490 }, windowMs: CLIENT_ERROR_WINDOW_MS },
      msg: 'client errors not logged one by one',
    });
    // A new window: one by one again, and no summary when nothing was held back.
    logError('HPE_INVALID_METHOD', {});
    expect(lines.at(-1)?.msg).toBe('client error');
    vi.advanceTimersByTime(2 * CLIENT_ERROR_WINDOW_MS);
    expect(lines).toHaveLength(CLIENT_ERROR_LINES + 2);
  });

  it('shares one budget per entry point and logger: the HTTP/1.1 and HTTP/2 servers of an entry point, not two instances', () => {
    const a = logger();
    const b = logger();
    expect(clientErrorLog(a.log, 'web')).toBe(clientErrorLog(a.log, 'web'));
    for (let i = 0; i < CLIENT_ERROR_LINES; i++) clientErrorLog(a.log, 'web')('X', {});
    clientErrorLog(a.log, 'web')('X', {});
    clientErrorLog(a.log, 'secure')('X', {});
    clientErrorLog(b.log, 'web')('X', {});
    expect(a.lines.filter((l) => l.fields['entryPoint'] === 'web')).toHaveLength(CLIENT_ERROR_LINES);
    expect(a.lines.filter((l) => l.fields['entryPoint'] === 'secure')).toHaveLength(1);
    expect(b.lines).toHaveLength(1);
  });
});
