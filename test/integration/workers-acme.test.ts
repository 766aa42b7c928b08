/**
 * ACME with `workers: 2` against a real Pebble (issue 21): the primary orders, each worker answers. Pebble's VA
 * connections (and the primary's own self-test) are handed to the workers in turn, so a challenge must be in every
 * worker before the CA is told to validate: one name by tls-alpn-01 only, one by http-01 only, both answered by both
 * workers, and the certificates then served by both without a restart.
 */
import { describe, expect, it } from 'vitest';
import { freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.9';
const pebble = usePebble();

describe('ACME with workers: 2 against Pebble', () => {
  it('tls-alpn-01 and http-01 validations land on either worker and pass; both workers serve the certificates', async () => {
    const alpnName = 'alpn.workers.lab.test';
    const httpName = 'http.workers.lab.test';
    await pebble.setA(alpnName, ADDRESS);
    await pebble.setA(httpName, ADDRESS);
    const resolver = (challenges: string[]) => ({ acme: { caServer: pebble.directoryUrl, email: 'ops@lab.test', caBundle: pebble.apiCaFile, challenges } });
    const gh = await startGatehouse(
      {
        workers: 2,
        log: { level: 'info', accessLog: false },
        entryPoints: { web: { address: `${ADDRESS}:${pebble.httpPort}` }, websecure: { address: `${ADDRESS}:${pebble.tlsPort}`, tls: {} } },
        certificateResolvers: { alpn: resolver(['tls-alpn-01']), http: resolver(['http-01']) },
        http: {
          routers: {
            a: { rule: `Host(\`${alpnName}\`)`, respond: { body: 'a\n' }, tls: { certResolver: 'alpn' } },
            h: { rule: `Host(\`${httpName}\`)`, respond: { body: 'h\n' }, tls: { certResolver: 'http' } },
          },
        },
      },
      { env: { GATEHOUSE_STATE_DIR: await freshStateDir() }, startTimeoutMs: 30_000 },
    );
    const workers = new Set(gh.logs.filter((l) => l.msg === 'worker serving').map((l) => l['pid']));
    expect(workers.size).toBe(2);
    for (const name of [alpnName, httpName]) {
      const obtained = await gh.waitForLog((l) => (l.msg === 'certificate obtained' || l.msg === 'certificate order failed') && JSON.stringify(l).includes(name), 30_000);
      expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
      // The primary ordered it: no worker runs an ACME manager.
      expect(obtained['worker']).toBeUndefined();
    }

    // Every validation connection (Pebble's, and the self-test before it) was answered by a worker, and both
    // workers answered some: the challenge was in each of them.
    const alpnAnswers = gh.logs.filter((l) => l.msg === 'acme tls-alpn-01 challenge answered' && l['sni'] === alpnName);
    const httpAnswers = gh.logs.filter((l) => l.msg === 'acme challenge answered');
    expect(alpnAnswers.length).toBeGreaterThanOrEqual(2);
    expect(httpAnswers.length).toBeGreaterThanOrEqual(2);
    for (const l of [...alpnAnswers, ...httpAnswers]) expect(workers).toContain(l['pid']);
    expect(new Set([...alpnAnswers, ...httpAnswers].map((l) => l['pid']))).toEqual(workers);
    expect(gh.logs.some((l) => l.msg === 'acme challenge not answered' || l.msg === 'acme tls-alpn-01 challenge not answered')).toBe(false);

    // Both workers installed both certificates (sent by the primary), and every new connection is served one.
    for (const pid of workers) {
      for (const name of [alpnName, httpName]) {
        await gh.waitForLog((l) => l.msg === 'certificate installed' && l['pid'] === pid && JSON.stringify(l['names']).includes(name), 5_000);
      }
    }
    const root = await pebble.root();
    for (let i = 0; i < 4; i++) {
      for (const name of [alpnName, httpName]) {
        const served = await probe(ADDRESS, pebble.tlsPort, name, { ca: root });
        expect(served.authorized, served.error).toBe(true);
        expect(served.cert?.subjectaltname).toContain(`DNS:${name}`);
      }
    }
  }, 60_000);
});
