import { describe, expect, it } from 'vitest';
import { defaultPriority } from './priority.js';

describe('defaultPriority', () => {
  it.each<[string, string, number]>([
    ['length of a simple rule', 'Host(`a.example`)', 17],
    ['longer rule, higher priority', 'Host(`a.example`) && PathPrefix(`/api`)', 39],
    ['whitespace counts, as in Traefik', 'Host(`a.example`)  ', 19],
    ['UTF-8 bytes, as Go len() counts', 'Path(`/é`)', 11],
    ['empty rule', '', 0],
  ])('%s', (_description, rule, priority) => {
    expect(defaultPriority(rule)).toBe(priority);
  });

  it('ranks a more specific rule over its prefix', () => {
    expect(defaultPriority('PathPrefix(`/api/v1`)')).toBeGreaterThan(defaultPriority('PathPrefix(`/api`)'));
  });
});
