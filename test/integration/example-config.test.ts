/** The shipped config.example.json and the docs' examples stay valid: `gatehouse check` accepts them, defaults and all. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe("docs/acme.md's example, comments and all", () => {
  it('loads as a config file and passes check (JSONC: // comments and a trailing comma)', async () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/acme.md', import.meta.url)), 'utf8');
    const example = /```jsonc\n([\s\S]*?)\n```/.exec(doc)?.[1];
    expect(example).toContain('// ');
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-docs-'));
    try {
      const file = join(dir, 'config.acme.json');
      await writeFile(file, example!);
      const res = await runGatehouseCli(['check', file], {});
      expect(res.stderr).toBe('');
      expect(res.stdout).toContain('config ok');
      expect(res.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
