import { describe, expect, it } from 'vitest';
import type { RequestContext } from './context.js';
import { compileLocation } from './redirect.js';

const ctx = (over: Partial<RequestContext>) =>
  ({ scheme: 'http', host: 'a.test', hostPort: '8080', path: '/p/q', query: 'x=1', ...over }) as RequestContext;

describe('compileLocation', () => {
  it.each([
    ['fixed URL', 'https://example.com/', {}, 'https://example.com/'],
    ['https upgrade keeps the uri', 'https://{host}{uri}', {}, 'https://a.test/p/q?x=1'],
    ['uri without query', 'https://{host}{uri}', { query: '' }, 'https://a.test/p/q'],
    ['query placeholder has its ?', 'https://b.test{path}{query}', {}, 'https://b.test/p/q?x=1'],
    ['empty query placeholder', 'https://b.test{path}{query}', { query: '' }, 'https://b.test/p/q'],
    ['scheme and port', '{scheme}://{host}:{port}/', {}, 'http://a.test:8080/'],
    ['placeholders side by side', '{host}{host}', {}, 'a.testa.test'],
  ])('%s', (_d, template, over, expected) => {
    expect(compileLocation(template)(ctx(over))).toBe(expected);
  });

  it('refuses an unknown placeholder, naming it and the known ones', () => {
    expect(() => compileLocation('https://{hots}/')).toThrow(/unknown placeholder \{hots\}.*\{host\}/);
  });
});
