/**
 * What the Traefik import's tests (src/import/traefik*.test.ts) share: a static config with the usual two entry
 * points, and a conversion of one dynamic file against it.
 */
import { convertTraefik, type TraefikImport } from '../../src/import/traefik.js';

/** A static config with `web` on :80 and `websecure` on :443, and nothing else. */
export const STATIC = { entryPoints: { web: { address: ':80' }, websecure: { address: ':443' } } };

/** Converts one dynamic file (as `dynamic.yml`) against `staticValue`, STATIC by default. */
export function conv(dynamic: object, staticValue: object = STATIC): TraefikImport {
  return convertTraefik(staticValue, [{ file: 'dynamic.yml', value: dynamic }]);
}
