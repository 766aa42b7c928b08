/**
 * Staging rehearsal against two real Pebbles, one standing in for production and one for staging (each with its own
 * DNS): after `afterFailures` failed production orders, each attempt orders from staging first and asks production
 * only when staging succeeded. The staging certificate is never served.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse, type GatehouseProcess } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.2';
/** Where nothing listens: a validation sent there fails at once. */
const NOWHERE = '127.0.0.9';
// Two Pebbles, each with usePebble's hooks (stopping the gatehouses and state directories twice is harmless).
const production = usePebble();
const staging = usePebble();

async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const count = (gh: GatehouseProcess, msg: string) => gh.logs.filter((l) => l.msg === msg).length;

describe('rehearsal on staging after repeated production failures', () => {
  it('rehearses after 2 failures, never asks production while staging fails, and gets the production certificate once both work', async () => {
    const name = 'rehearse.lab.test';
    await production.setA(name, NOWHERE);
    await staging.setA(name, ADDRESS);
    const stateDir = await freshStateDir();
    // One bundle trusting both Pebbles' API certificates (the CA agent is shared by every resolver).
    const bundle = join(stateDir, 'both-cas.pem');
    await writeFile(bundle, (await readFile(production.apiCaFile, 'utf8')) + (await readFile(staging.apiCaFile, 'utf8')));
    const gh = await startGatehouse({
      stateDir,
      log: { level: 'info', accessLog: false },
      entryPoints: {
        // Each Pebble's VA validates http-01 at its own port.
        web: { address: `${ADDRESS}:${production.httpPort}` },
        webStaging: { address: `${ADDRESS}:${staging.httpPort}` },
        websecure: { address: `${ADDRESS}:${production.tlsPort}`, tls: {} },
      },
      certificateResolvers: {
        le: {
          acme: {
            caServer: production.directoryUrl,
            email: 'ops@lab.test',
            caBundle: bundle,
            challenges: ['http-01'],
            rehearsal: { afterFailures: 2, caServer: staging.directoryUrl },
          },
        },
      },
      http: { routers: { r: { rule: `Host(\`${name}\`)`, respond: { body: 'ok' }, tls: { certResolver: 'le' } } } },
    });

    // Failures 1 and 2 go to production (backoff 1 s, 2 s); the third attempt is rehearsed on staging, passes there,
    // and production fails again.
    await until(() => count(gh, 'staging rehearsal passed, ordering from production') >= 1, 20_000, 'a passed rehearsal').catch((err) => {
      console.log(gh.logs.filter((l) => /order|rehears|certificate/.test(String(l.msg))).map((l) => JSON.stringify(l)).join('\n'));
      throw err;
    });
    await until(() => count(gh, 'certificate order failed') >= 3, 10_000, 'third failure');
    expect(staging.orders()).toBe(1);
    expect(production.orders()).toBe(3);

    // Staging broken too: the next attempt fails on staging and production is not asked. (An attempt already under
    // way when the record changed may still pass its rehearsal and fail in production: the first failure that saw
    // staging fail is the one to check.)
    const from = gh.logs.length;
    await staging.setA(name, NOWHERE);
    const rehearsalFailed = () =>
      gh.logs.slice(from).find((l) => l.msg === 'certificate order failed' && String(l['reason']).startsWith('staging rehearsal failed'));
    await until(() => rehearsalFailed() !== undefined, 30_000, 'a failed rehearsal');
    expect(String(rehearsalFailed()!['reason'])).toMatch(/^staging rehearsal failed, production not asked/);
    const productionOrders = production.orders();
    await new Promise((r) => setTimeout(r, 500));
    expect(production.orders()).toBe(productionOrders);

    // Both fixed: rehearsal passes, production issues, and production's certificate is served.
    await staging.setA(name, ADDRESS);
    await production.setA(name, ADDRESS);
    await until(() => count(gh, 'certificate obtained') >= 1, 40_000, 'the production certificate');
    const obtained = gh.logs.find((l) => l.msg === 'certificate obtained')!;
    expect(obtained['ca']).toBe(production.directoryUrl);
    const served = await probe(ADDRESS, production.tlsPort, name, { ca: await production.root() });
    expect(served.authorized, served.error).toBe(true);
    console.log(`rehearsal: production orders ${production.orders()}, staging orders ${staging.orders()}`);
  }, 90_000);
});
