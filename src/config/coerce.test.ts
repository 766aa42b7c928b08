import { describe, expect, it } from 'vitest';
import { parseConfigText } from './load.js';

const env = { PORT: '443', ON: 'true', SIZE: '8192', NAME: '8080', LEVEL: 'debug' };
const load = (extra: object) => parseConfigText(JSON.stringify({ entryPoints: { web: { address: ':80' } }, ...extra }), { env });

describe('numbers and booleans from variables', () => {
  it.each([
    ['an integer field', { entryPoints: { web: { address: ':80', maxHeaderSize: '${SIZE}' } } }, (c: any) => c.entryPoints.web.maxHeaderSize, 8192],
    ['an integer with a default', { entryPoints: { web: { address: ':80', maxHeaderSize: '${NOPE:-4096}' } } }, (c: any) => c.entryPoints.web.maxHeaderSize, 4096],
    ['a boolean field', { log: { accessLog: '${ON}' } }, (c: any) => c.log.accessLog, true],
    ['an enum of integers', { http: { routers: { r: { rule: 'Path(`/`)', redirect: { location: '/x', status: '${CODE:-308}' } } } } }, (c: any) => c.http.routers.r.redirect.status, 308],
    ['a string field keeps a numeric string', { entryPoints: { web: { address: ':${NAME}' } } }, (c: any) => c.entryPoints.web.address, ':8080'],
    ['a string enum is left alone', { log: { level: '${LEVEL}' } }, (c: any) => c.log.level, 'debug'],
  ])('%s', (_d, extra, pick, expected) => {
    expect(pick(load(extra))).toBe(expected);
  });

  it('does not coerce a number the user wrote as a string', () => {
    expect(() => load({ entryPoints: { web: { address: ':80', maxHeaderSize: '8192' } } })).toThrow(/expected integer, found "8192"/);
  });

  it('still refuses a substituted value that is not a number', () => {
    expect(() => load({ entryPoints: { web: { address: ':80', maxHeaderSize: '${LEVEL}' } } })).toThrow(/expected integer, found "debug" \(substituted from "\$\{LEVEL\}"\)/);
  });
});
