/**
 * ACME under config reload, against a real Pebble: a name added to the file is ordered without a restart, an
 * order under way when the next edit lands carries on (each name ordered exactly once), and a removed name is no
 * longer managed (it stops renewing).
 */
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { type GatehouseProcess, runGatehouseCli, startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.2';
const pebble = usePebble();

function obtained(gh: GatehouseProcess, name: string): boolean {
  return gh.logs.some((l) => l.msg === 'certificate obtained' && Array.isArray(l['names']) && (l['names'] as string[]).includes(name));
}

async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('ACME across reloads', () => {
  it('a name added by an edit is ordered without a restart; an order under way survives the next edit; a removed name is dropped', async () => {
    const [one, two, three] = ['reload-one.lab.test', 'reload-two.lab.test', 'reload-three.lab.test'];
    for (const n of [one, two, three]) await pebble.setA(n, ADDRESS);
    const stateDir = await freshStateDir();
    const config = (names: string[]) => ({ ...acmeConfig(pebble, ADDRESS, names, ['http-01']), stateDir });
    const gh = await startGatehouse(config([one]));
    await until(() => obtained(gh, one), 20_000, `certificate for ${one}`);
    const ordersAtStart = pebble.orders();

    // Add `two`; as soon as its order is under way (its challenge is being answered or self-tested), add `three`.
    await writeFile(gh.file, JSON.stringify(config([one, two])));
    await until(() => gh.logs.some((l) => l.msg === 'certificate resolvers reloaded'), 5_000, 'first reload');
    await until(() => pebble.orders() > ordersAtStart, 10_000, `order for ${two} placed`);
    const reloadsBefore = gh.logs.filter((l) => l.msg === 'config reloaded').length;
    await writeFile(gh.file, JSON.stringify(config([one, two, three])));
    await until(() => gh.logs.filter((l) => l.msg === 'config reloaded').length > reloadsBefore, 5_000, 'second reload');
    await until(() => obtained(gh, two) && obtained(gh, three), 20_000, `certificates for ${two} and ${three}`);
    const at = (pred: (l: { msg?: unknown; names?: unknown }) => boolean) => gh.logs.findIndex(pred);
    const midOrder = at((l) => l.msg === 'certificate obtained' && (l.names as string[]).includes(two)) > at((l) => l.msg === 'config reloaded' && gh.logs.filter((x) => x.msg === 'config reloaded').indexOf(l as never) === 1);
    console.log(`second edit landed ${midOrder ? 'while' : 'after'} ${two} was being ordered`);
    // `one` was not ordered again by either new manager, `two` only once although its manager was replaced mid-order.
    expect(pebble.orders() - ordersAtStart).toBe(2);
    const root = await pebble.root();
    for (const n of [one, two, three]) {
      const served = await probe(ADDRESS, pebble.tlsPort, n, { ca: root });
      expect(served.authorized, `${n}: ${served.error}`).toBe(true);
      expect(served.cert?.subjectaltname).toContain(`DNS:${n}`);
    }

    // Remove `two`: the running instance no longer manages it.
    await writeFile(gh.file, JSON.stringify(config([one, three])));
    await until(() => gh.logs.filter((l) => l.msg === 'certificate resolvers reloaded').length >= 3, 5_000, 'third reload');
    const status = await runGatehouseCli(['status', '--config', gh.file]);
    expect(status.code, status.stderr).toBe(0);
    const shown = JSON.parse(status.stdout) as { certificates: { names: string[] }[] };
    const managed = shown.certificates.flatMap((c) => c.names);
    expect(managed.sort()).toEqual([three, one].sort());
    expect(pebble.orders() - ordersAtStart).toBe(2);
  }, 60_000);
});
