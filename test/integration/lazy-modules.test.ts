/**
 * A running gatehouse loads the heavy optional packages only when its config uses them (src/storage/index.ts,
 * src/acme/index.ts, src/certs/self-signed.ts, src/cli/main.ts): a plain HTTP gatehouse holds neither acme-client,
 * the Redis client, node-forge nor the YAML/TOML parsers; one with a certificate resolver loads acme-client (and
 * the Redis client only with `storage.redis`). Each case runs the built library in a fresh Node process, which
 * lists the CommonJS packages in its require cache after start().
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const API = fileURLToPath(new URL('../../dist/api.js', import.meta.url));
const HEAVY = ['acme-client', 'redis', '@redis/client', 'node-forge', 'yaml', 'smol-toml'];

/** Starts a gatehouse with `config` in a child process; resolves with the packages it loaded. */
async function loadedPackages(config: object, stateDir: string): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    const { createGatehouse } = await import(${JSON.stringify(API)});
    const gh = createGatehouse({ config: ${JSON.stringify(config)}, env: { GATEHOUSE_STATE_DIR: ${JSON.stringify(stateDir)} } });
    await gh.start();
    const cache = Object.keys(createRequire(import.meta.url).cache);
    const packages = new Set(cache.flatMap((f) => {
      const i = f.lastIndexOf('node_modules/');
      if (i < 0) return [];
      const parts = f.slice(i + 'node_modules/'.length).split('/');
      return [parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]];
    }));
    await gh.stop();
    process.stdout.write(JSON.stringify([...packages]));
  `;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
  );
  return JSON.parse(out.slice(out.lastIndexOf('['))) as string[];
}

describe('optional packages are loaded only when the config uses them', () => {
  it('a plain HTTP gatehouse loads none of them; one with a resolver loads acme-client, not the Redis client', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-lazy-'));
    try {
      const plain = { log: { level: 'silent' }, entryPoints: { web: { address: '127.0.0.1:0' } }, http: { routers: { r: { rule: 'PathPrefix(`/`)', respond: { body: 'ok' } } } } };
      const loaded = await loadedPackages(plain, stateDir);
      expect(loaded).toContain('undici'); // the check sees CommonJS packages at all
      for (const p of HEAVY) expect(loaded, p).not.toContain(p);

      const acme = {
        ...plain,
        entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
        // Nothing is ordered within the test: the CA is a closed port, and the order's failure is only logged.
        certificateResolvers: { le: { acme: { caServer: 'https://127.0.0.1:9/dir', email: 'ops@lab.test', challenges: ['tls-alpn-01'] } } },
        http: { routers: { r: { rule: 'Host(`lazy.lab.test`)', respond: { body: 'ok' }, tls: { certResolver: 'le' } } } },
      };
      const withAcme = await loadedPackages(acme, stateDir);
      expect(withAcme).toContain('acme-client');
      expect(withAcme).not.toContain('@redis/client');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 60_000);
});
