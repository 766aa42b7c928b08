import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference } from './reference.js';
import { configJsonSchema } from './validate.js';
import { REFERENCE_FILE, referenceFileText } from './write-schema.js';

describe('docs/config.md', () => {
  it('is what the schema generates (run `npm run build && npm run schema` after changing schema.ts)', () => {
    expect(readFileSync(REFERENCE_FILE, 'utf8')).toBe(referenceFileText());
  });

  it.each([
    ['a required field', '| `entryPoints.<name>.address` | string | required |'],
    ['a duration with its default', '| `entryPoints.<name>.timeouts.headers` | duration | `"10s"` |'],
    ['a bounded integer', '| `entryPoints.<name>.maxHeaderSize` | integer 1024–1048576 | `16384` |'],
    ['array items', '| `http.services.<name>.loadBalancer.servers[].url` | string | required |'],
    ['an enum', '`"fatal"` \\| `"error"`'],
  ])('lists %s', (_d, fragment) => {
    expect(configReference(configJsonSchema())).toContain(fragment);
  });
});
