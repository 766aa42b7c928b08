import { describe, expect, it } from 'vitest';
import { defaultPriority, defaultTcpPriority, routerPriority } from './priority.js';

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

describe('defaultTcpPriority and routerPriority', () => {
  it.each<[description: string, priority: number | undefined, rule: string, kind: 'http' | 'tcp', expected: number]>([
    ['HostSNI(`*`) is -1 (Traefik tcp mux_test.go TestGetRulePriority)', undefined, 'HostSNI(`*`)', 'tcp', -1],
    ['however spaced', undefined, '   HostSNI ( `*` )       ', 'tcp', -1],
    ['any spelling Traefik accepts', undefined, 'hostsni(`*`)', 'tcp', -1],
    ['a named HostSNI is its length', undefined, 'HostSNI(`example.org`)', 'tcp', 22],
    ['HostSNI(`*`) inside a larger rule is its length', undefined, 'HostSNI(`*`) && ALPN(`h2`)', 'tcp', 26],
    ['HostSNIRegexp(`.*`) is not the catch-all', undefined, 'HostSNIRegexp(`.*`)', 'tcp', 19],
    ['HTTP rule length (Traefik http mux_test.go TestGetRulePriority)', undefined, 'Host(`example.org`)', 'http', 19],
    ['0 means unset (HTTP)', 0, 'Host(`example.org`)', 'http', 19],
    ['0 means unset (TCP catch-all)', 0, 'HostSNI(`*`)', 'tcp', -1],
    ['0 means unset (TCP)', 0, 'ALPN(`h2`)', 'tcp', 10],
    ['a set priority wins', 5, 'HostSNI(`*`)', 'tcp', 5],
    ['HTTP has no catch-all special case', undefined, 'Host(`*`)', 'http', 9],
  ])('%s', (_d, priority, rule, kind, expected) => {
    expect(routerPriority(priority, rule, kind)).toBe(expected);
  });

  it('ranks ALPN(`h2`) above HostSNI(`*`), though shorter', () => {
    expect(defaultTcpPriority('ALPN(`h2`)')).toBeGreaterThan(defaultTcpPriority('HostSNI(`*`)'));
  });
});
