// `gatehouse explain --running`: the question goes to the running instance of the config file (control socket), which
// answers from what it serves now: the config in force after a reload, its certificates, each server's health now.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { closeAllUpstreams, refusedPort, startEchoUpstream } from '../helpers/upstreams.js';

afterEach(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});
afterAll(stopAllGatehouses);

async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Served {
  matched: boolean;
  entryPoints: {
    explained: { match?: { name: string; target: { service?: { servers?: { url: string; up?: boolean }[] } } }; certificate?: { served: string; certificate?: { names: string[] } } }[];
  };
}

const explain = async (gh: GatehouseProcess, ...args: string[]) => {
  const r = await runGatehouseCli(['explain', ...args, '--config', gh.file, '--running', '--json']);
  return { code: r.code, stderr: r.stderr, out: r.code === 0 || r.code === 1 ? (JSON.parse(r.stdout) as Served) : undefined };
};

describe('explain --running', () => {
  it('answers from the running instance: servers health now, the config in force after a reload, the certificate served', async () => {
    const up = await startEchoUpstream();
    const down = `http://127.0.0.1:${await refusedPort()}`;
    const stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-explain-running-'));
    const fixture = fileURLToPath(new URL('../fixtures/certs/wrong.pem', import.meta.url));
    const config = (rule: string) => ({
      stateDir,
      lifecycle: { watch: false },
      tls: { certificates: [{ certFile: fixture, keyFile: fixture }] },
      entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
      http: {
        routers: { app: { rule, service: 'app' } },
        services: { app: { loadBalancer: { servers: [{ url: up.url }, { url: down }], healthCheck: { path: '/health', interval: '100ms', timeout: '200ms' } } } },
      },
    });
    const gh = await startGatehouse(config('Host(`app.test`)'));
    await until(() => gh.logs.some((l) => l.msg === 'upstream server taken out'), 5_000, 'the dead server taken out');

    const web = `http://app.test:${gh.ports['web']}/`;
    const first = await explain(gh, web);
    expect(first.code, first.stderr).toBe(0);
    const servers = first.out!.entryPoints.explained.find((e) => e.match)!.match!.target.service!.servers!;
    expect(servers.map((s) => [s.url, s.up])).toEqual([
      [up.url, true],
      [down, false],
    ]);

    // The certificate the running store serves for the name.
    const tls = await explain(gh, `https://right.example:${gh.ports['websecure']}/`);
    expect(tls.out!.entryPoints.explained.some((e) => e.certificate?.served === 'certificate' && e.certificate.certificate?.names.includes('right.example'))).toBe(true);

    // After a reload (not yet visible offline in a different file), the instance answers with the config in force.
    await writeFile(gh.file, JSON.stringify(config('Host(`other.test`)')));
    const before = gh.logs.filter((l) => l.msg === 'config reloaded').length;
    gh.signal('SIGHUP');
    await until(() => gh.logs.filter((l) => l.msg === 'config reloaded').length > before, 5_000, 'reload');
    const after = await explain(gh, web);
    expect(after.code).toBe(1);
    expect(after.out!.matched).toBe(false);

    // Text output says up/DOWN per server.
    const text = await runGatehouseCli(['explain', `http://other.test:${gh.ports['web']}/`, '--config', gh.file, '--running']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/ up\b/);
    expect(text.stdout).toMatch(/DOWN/);
  });

  it('without a running instance it says so and exits non-zero', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-explain-none-'));
    const file = join(stateDir, 'config.json');
    await writeFile(file, JSON.stringify({ stateDir, entryPoints: { web: { address: '127.0.0.1:0' } } }));
    const r = await runGatehouseCli(['explain', 'http://a.test/', '--config', file, '--running']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no running gatehouse/);
  });
});
