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

describe('gatehouse check on a file with schema problems', () => {
  it('still reports broken TCP routers', async () => {
    const res = await runGatehouseCli(['check'], {
      config: {
        entryPoints: { websecure: { address: '127.0.0.1:0', tls: {}, maxHeaderSize: 10 } },
        tcp: {
          routers: { vm: { rule: 'HostSNI(`vm.test`', service: 'vm' }, lost: { rule: 'HostSNI(`a.test`)', service: 'nowhere' } },
          services: { vm: { loadBalancer: { servers: [{ address: '127.0.0.1:9443' }] } } },
        },
      },
    });
    expect(res.code).toBe(1);
    const out = res.stdout + res.stderr;
    expect(out).toMatch(/maxHeaderSize/);
    expect(out).toMatch(/TCP router "vm".*RULE_SYNTAX/);
    expect(out).toMatch(/"nowhere".*CONFIG_REFERENCE/);
  });
});
