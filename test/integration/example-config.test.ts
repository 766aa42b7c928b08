/** The shipped config.example.json stays valid: `gatehouse check` accepts it, defaults and all. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runGatehouseCli } from '../helpers/gatehouse-process.js';

describe('config.example.json', () => {
  it('passes gatehouse check', async () => {
    const file = fileURLToPath(new URL('../../config.example.json', import.meta.url));
    const res = await runGatehouseCli(['check', '--config', file], {});
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('config ok');
  });
});
