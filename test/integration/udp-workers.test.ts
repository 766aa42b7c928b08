/**
 * UDP entry points with workers (issue 17 with issue 21's node:cluster): a UDP socket is one process's (its sessions
 * live with it, and two workers cannot bind one port exclusively), so the first worker binds the UDP entry points and
 * the others leave them alone; HTTP entry points are shared by all of them as before.
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';

afterEach(async () => {
  await stopAllGatehouses();
});

describe('UDP with workers', () => {
  it('with workers: 2 the first worker owns the UDP entry point (one exclusive socket), and it forwards', async () => {
    const server = createSocket('udp4');
    server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('echo '), m]), r.port, r.address));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', () => resolve()));
    const client = createSocket('udp4');
    try {
      const gh = await startGatehouse({
        workers: 2,
        entryPoints: { web: { address: '127.0.0.1:0' }, dns: { address: '127.0.0.1:0/udp', udp: { timeout: '300ms' } } },
        udp: { routers: { r: { service: 's' } }, services: { s: { loadBalancer: { servers: [{ address: `127.0.0.1:${server.address().port}` }] } } } },
        lifecycle: { watch: false },
      });
      await gh.waitForLog((l) => l.msg === 'worker serving' && l['worker'] === 2);
      const udpLines = gh.logs.filter((l) => l.msg === 'entry point listening' && l['entryPoint'] === 'dns');
      expect(udpLines.map((l) => l['worker'])).toEqual([1]);
      const answer = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer through the UDP entry point')), 2000);
        client.once('message', (m) => {
          clearTimeout(timer);
          resolve(m.toString());
        });
        client.send('hello', gh.ports['dns']!, '127.0.0.1');
      });
      expect(answer).toBe('echo hello');
      expect(await gh.stop()).toBe(0);
    } finally {
      client.close();
      server.close();
    }
  });
});
