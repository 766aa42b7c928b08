/**
 * Two instances on one shared state directory (the default backend on a shared mount), against a real Pebble: the
 * O_EXCL lock file lets one of them order, the other takes the stored certificate when it finds the lock free again
 * (a shared directory cannot push a message), and both serve the same serial. A directory cannot share pending
 * challenges in time, so the instances answer tls-alpn-01 through `challenges.peers`, as docs/acme.md says.
 * Then a lock file left by a crashed holder (a dead PID of this host) does not hold a new order back.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse } from '../helpers/gatehouse-process.js';

const INSTANCES = ['127.0.0.2', '127.0.0.3'] as const;
const pebble = usePebble();

/** A certificate lock file as another holder would leave it, expiring in an hour; returns its path. */
async function writeLock(stateDir: string, name: string, holder: string): Promise<string> {
  const caId = `127.0.0.1_${new URL(pebble.directoryUrl).port}-dir`;
  const file = join(stateDir, 'locks', `cert_${caId}_${name}.lock`);
  await mkdir(join(stateDir, 'locks'), { recursive: true });
  await writeFile(file, JSON.stringify({ token: 'other', expiresAt: Date.now() + 3600_000, holder }));
  return file;
}

const config = (address: string, names: string[]) => ({
  ...acmeConfig(pebble, address, names, ['tls-alpn-01']),
  challenges: { peers: { addresses: [...INSTANCES], httpPort: pebble.httpPort, tlsPort: pebble.tlsPort, timeout: '3s' } },
});

describe('several instances on one shared state directory', () => {
  it('one order under the lock file; the other instance serves the same serial from the directory', async () => {
    const name = 'shared-dir.lab.test';
    await pebble.setA(name, ...INSTANCES);
    const stateDir = await freshStateDir();
    const before = pebble.orders();
    // Both start while a third holder (another host) has the lock, so both listen before either orders (an order
    // placed before the other instance listens could fail its validation there, and the retry be a second order).
    // Removing its lock file lets them race for it, at their next look (within 5 s).
    const lock = await writeLock(stateDir, name, 'elsewhere.example:1');
    const ghs = await Promise.all(INSTANCES.map((a) => startGatehouse(config(a, [name]), { env: { GATEHOUSE_STATE_DIR: stateDir }, startTimeoutMs: 20_000 })));
    await Promise.all(ghs.map((g) => g.waitForLog((l) => l.msg === 'certificate being ordered by another instance')));
    await rm(lock);
    const t0 = performance.now();
    const root = await pebble.root();
    let serials: (string | undefined)[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const served = await Promise.all(INSTANCES.map((a) => probe(a, pebble.tlsPort, name, { ca: root })));
      serials = served.map((s) => (s.authorized ? s.cert?.serialNumber : undefined));
      if (serials.every((s) => s !== undefined && s === serials[0])) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(serials[0]).toBeDefined();
    expect(serials[1], `serials served: ${serials.join(', ')}`).toBe(serials[0]);
    console.log(`shared directory: 2 instances serving the same serial ${Math.round(performance.now() - t0)} ms after the lock was freed`);
    expect(pebble.orders() - before).toBe(1);
    const orderers = ghs.filter((g) => g.logs.some((l) => l.msg === 'acme order placed'));
    expect(orderers).toHaveLength(1);
    const other = ghs.find((g) => g !== orderers[0])!;
    await other.waitForLog((l) => l.msg === 'certificate loaded from storage' && l['reason'] === 'locked');
  }, 40_000);

  it('a lock file left by a crashed process of this host does not hold the order back', async () => {
    const name = 'crashed-holder.lab.test';
    await pebble.setA(name, INSTANCES[0]);
    const stateDir = await freshStateDir();
    // A holder that no longer runs (PID 2^22 + 1 is above Linux's pid_max), with an expiry far ahead.
    await writeLock(stateDir, name, `${hostname()}:4194305`);
    const gh = await startGatehouse(acmeConfig(pebble, INSTANCES[0], [name], ['tls-alpn-01']), { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 20_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    expect(gh.logs.some((l) => l.msg === 'certificate being ordered by another instance')).toBe(false);
  }, 30_000);
});
