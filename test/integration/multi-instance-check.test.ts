// A multi-instance set-up whose ACME challenges some instance could not answer, as the operator meets it:
// `gatehouse check` exits 1 naming the option that fixes it; `start` serves anyway with those certificates disabled
// and says why in one log line. The rules themselves are tabled in src/acme/wanted.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { freshStateDir, removeStateDirs } from '../helpers/acme-lab.js';
import { runGatehouseCli, startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';

afterAll(async () => {
  await stopAllGatehouses();
  await removeStateDirs();
});

const config = (acme: object, extra: object = {}) => ({
  log: { level: 'info', accessLog: false },
  entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
  certificateResolvers: { le: { acme: { caServer: 'https://127.0.0.1:9/dir', email: 'ops@lab.test', ...acme } } },
  http: { routers: { rr: { rule: 'Host(`rr.lab.test`)', respond: { body: 'rr\n' }, tls: { certResolver: 'le' } } } },
  ...extra,
});

describe('gatehouse check on a multi-instance config', () => {
  it.each([
    { description: 'stateless without accountKeyFile', config: config({ stateless: true, challenges: ['http-01'] }), message: 'set accountKeyFile, the same key on every instance', path: '/certificateResolvers/le/acme/stateless' },
    {
      description: 'stateless with tls-alpn-01 and neither peers nor Redis',
      config: config({ stateless: true, accountKeyFile: 'account.pem' }),
      message: "use challenges: ['http-01'], or add challenges.peers, or storage.redis",
      path: '/certificateResolvers/le/acme/challenges',
    },
  ])('$description: exits 1 with the fix', async ({ config: bad, message, path }) => {
    const res = await runGatehouseCli(['check'], { config: bad });
    expect(res.code, res.stdout + res.stderr).toBe(1);
    const out = res.stdout + res.stderr;
    expect(out).toContain('ACME_CONFIG');
    expect(out).toContain(message);
    expect(out).toContain(path);
  });

  it.each([
    { description: 'stateless with http-01 and a shared key', config: config({ stateless: true, accountKeyFile: 'account.pem', challenges: ['http-01'] }) },
    { description: 'stateless with tls-alpn-01 and peers', config: config({ stateless: true, accountKeyFile: 'account.pem' }, { challenges: { peers: { addresses: ['127.0.0.2', '127.0.0.3'] } } }) },
    { description: 'peers with tls-alpn-01 only and own keys', config: config({ challenges: ['tls-alpn-01'] }, { challenges: { peers: { addresses: ['127.0.0.2', '127.0.0.3'] } } }) },
  ])('$description: exits 0', async ({ config: good }) => {
    const res = await runGatehouseCli(['check'], { config: good });
    expect(res.code, res.stdout + res.stderr).toBe(0);
  });

  it('start serves with the certificate disabled and logs why', async () => {
    const gh = await startGatehouse(config({ stateless: true, accountKeyFile: 'account.pem' }), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } });
    const line = await gh.waitForLog((l) => l.msg === 'certificate disabled');
    expect(line['code']).toBe('ACME_CONFIG');
    expect(String(line['reason'])).toContain("use challenges: ['http-01'], or add challenges.peers, or storage.redis");
    // Nothing is ordered for it: the (unreachable) CA is never asked.
    await new Promise((r) => setTimeout(r, 300));
    expect(gh.logs.some((l) => l.msg === 'certificate order failed' || l.msg === 'acme order placed')).toBe(false);
    expect(await gh.stop()).toBe(0);
  });
});
