/**
 * UDP entry points through the CLI (issue 17): `explain --udp` offline and against the running instance,
 * `gatehouse health` on an instance with a UDP entry point (bound is healthy: no TCP connection is tried there), and
 * `import-traefik` carrying `/udp` entry points, UDP routers and services over into a config `check` accepts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';

afterEach(async () => {
  await stopAllGatehouses();
});
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const config = {
  entryPoints: {
    web: { address: '127.0.0.1:0' },
    dns: { address: '127.0.0.1:0/udp', udp: { timeout: '5s' } },
    wg: { address: '127.0.0.1:0/UDP' },
  },
  udp: {
    routers: { dns: { entryPoints: ['dns'], service: 'dns' }, broken: { entryPoints: ['wg'], service: 'nope' } },
    services: {
      dns: { weighted: { services: [{ name: 'pihole', weight: 3 }, { name: 'backup' }] } },
      pihole: { loadBalancer: { servers: [{ address: '10.0.0.53:53' }] } },
      backup: { loadBalancer: { servers: [{ address: '9.9.9.9:53' }] } },
    },
  },
  lifecycle: { watch: false },
};

describe('UDP in the CLI', () => {
  it('explain --udp names the router, service and servers of each UDP entry point, and why one has none', async () => {
    const text = await runGatehouseCli(['explain', '--udp'], { config });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('entry point "dns" (127.0.0.1:0/udp): every UDP entry point');
    expect(text.stdout).toContain('sessions: idle timeout 5s, at most 4096 open');
    expect(text.stdout).toContain('✓ UDP router "dns" → service "dns": 10.0.0.53:53, 9.9.9.9:53');
    expect(text.stdout).toMatch(/entry point "wg" .*\n.*\n {2}✗ UDP router "broken": UDP router "broken" is disabled: UDP service "nope" does not exist/);
    expect(text.stdout).toContain('→ no UDP router serves this entry point: every datagram is dropped');
    const one = await runGatehouseCli(['explain', '--udp', '--entry-point', 'wg', '--json'], { config });
    expect(one.code).toBe(1);
    expect(JSON.parse(one.stdout)).toMatchObject({ kind: 'udp', matched: false, entryPoints: { reason: '--entry-point', explained: [{ entryPoint: 'wg', timeout: '3s' }] } });
  });

  it('a running instance: health passes with a UDP entry point, explain --running --udp answers from it', async () => {
    const gh = await startGatehouse(config);
    expect(gh.logs.some((l) => l.msg === 'entry point listening' && l['entryPoint'] === 'dns' && l['protocol'] === 'udp')).toBe(true);
    const health = await runGatehouseCli(['health', gh.file]);
    expect(health.stderr).toBe('');
    expect(health.code).toBe(0);
    const running = await runGatehouseCli(['explain', '--udp', '--running', '--json', '--config', gh.file]);
    expect(running.code).toBe(0);
    expect(JSON.parse(running.stdout).entryPoints.explained[0]).toMatchObject({ entryPoint: 'dns', match: { router: 'dns', service: 'dns' } });
    expect(await gh.stop()).toBe(0);
  });

  it('import-traefik carries /udp entry points, UDP routers and services over; check accepts the result', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-udp-import-'));
    dirs.push(dir);
    await writeFile(join(dir, 'traefik.yml'), 'entryPoints:\n  web:\n    address: ":80"\n  dns:\n    address: ":53/udp"\n    udp:\n      timeout: 10\n  wg:\n    address: ":51820/udp"\n');
    await writeFile(
      join(dir, 'dynamic.yml'),
      [
        'udp:',
        '  routers:',
        '    dns: { entryPoints: [dns], service: dns@file }',
        '    wg: { entryPoints: [wg], service: wg }',
        '    elsewhere: { service: thing@docker }',
        '  services:',
        '    dns:',
        '      weighted:',
        '        services: [{ name: pihole, weight: 3 }, { name: backup }]',
        '    pihole: { loadBalancer: { servers: [{ address: "10.0.0.53:53" }] } }',
        '    backup: { loadBalancer: { servers: [{ address: "9.9.9.9:53" }] } }',
        '    wg: { loadBalancer: { servers: [{ address: "10.0.0.2:51820" }] } }',
        '',
      ].join('\n'),
    );
    const out = join(dir, 'config.json');
    const imported = await runGatehouseCli(['import-traefik', join(dir, 'traefik.yml'), join(dir, 'dynamic.yml'), '--out', out]);
    expect(imported.stderr).toContain('udp.routers.elsewhere.service: UDP service "thing@docker" is not in the imported files');
    expect(imported.code).toBe(2);
    const written = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(out, 'utf8'))) as Record<string, any>;
    expect(written['entryPoints']).toMatchObject({ dns: { address: ':53/udp', udp: { timeout: '10s' } }, wg: { address: ':51820/udp' } });
    expect(written['udp']).toEqual({
      routers: { dns: { entryPoints: ['dns'], service: 'dns' }, wg: { entryPoints: ['wg'], service: 'wg' } },
      services: {
        dns: { weighted: { services: [{ name: 'pihole', weight: 3 }, { name: 'backup' }] } },
        pihole: { loadBalancer: { servers: [{ address: '10.0.0.53:53' }] } },
        backup: { loadBalancer: { servers: [{ address: '9.9.9.9:53' }] } },
        wg: { loadBalancer: { servers: [{ address: '10.0.0.2:51820' }] } },
      },
    });
    const check = await runGatehouseCli(['check', out]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });
});
