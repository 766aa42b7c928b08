/** `explain --tcp` on a config file, in process: routes by ClientIP, middlewares for the client, the service. */
import { afterAll, describe, expect, it } from 'vitest';
import { stopAllGatehouses, writeConfigFile } from '../../test/helpers/gatehouse-process.js';
import { formatExplanation } from './format.js';
import { loadOffline, type OfflineModel } from './offline.js';
import { answerQuery } from './query.js';

const models: OfflineModel[] = [];
afterAll(async () => {
  await Promise.all(models.map((m) => m.dispose()));
  await stopAllGatehouses();
});

const config = {
  entryPoints: { ssh: { address: ':2222' }, mc: { address: ':25565' }, web: { address: ':80' }, secure: { address: ':443', tls: {} } },
  http: { routers: { site: { rule: 'PathPrefix(`/`)', respond: { status: 200 } } } },
  tcp: {
    routers: {
      git: { rule: 'HostSNI(`*`)', entryPoints: ['ssh'], middlewares: ['lan', 'few'], service: 'gitea' },
      kids: { rule: 'HostSNI(`*`) && ClientIP(`192.168.1.50`)', entryPoints: ['mc'], service: 'worlds' },
      rest: { rule: 'HostSNI(`*`)', entryPoints: ['mc'], service: 'survival' },
    },
    middlewares: { lan: { ipAllowList: { sourceRange: ['192.168.0.0/16'] } }, few: { inFlightConn: { amount: 3 } } },
    services: {
      gitea: { loadBalancer: { servers: [{ address: '10.0.0.7:22' }], proxyProtocol: { version: 2 }, healthCheck: {} } },
      worlds: { weighted: { services: [{ name: 'survival', weight: 3 }, { name: 'creative' }] } },
      survival: { loadBalancer: { servers: [{ address: '10.0.0.8:25565' }] } },
      creative: { loadBalancer: { servers: [{ address: '10.0.0.9:25565' }] } },
    },
  },
};

async function model(): Promise<OfflineModel> {
  const m = await loadOffline(await writeConfigFile(config));
  models.push(m);
  return m;
}

const ask = async (clientIp: string, entryPoint?: string) =>
  answerQuery(await model(), { alpn: [], headers: [], clientIp, tcp: true, ...(entryPoint !== undefined && { entryPoint }) });

describe('explain --tcp', () => {
  it('a LAN client on the SSH port passes the allow list and goes to gitea with a PROXY header', async () => {
    const e = await ask('192.168.1.20', 'ssh');
    expect(e.kind).toBe('tcp');
    expect(e.matched).toBe(true);
    const text = formatExplanation(e);
    expect(text).toContain('✓ middleware "lan" (ipAllowList): 192.168.1.20 is in sourceRange');
    expect(text).toContain('✓ middleware "few" (inFlightConn): admitted while 192.168.1.20 holds fewer than 3 connections through this router');
    expect(text).toContain('→ piped byte for byte to TCP service "gitea" (10.0.0.7:22), after a PROXY v2 header');
  });

  it('a client outside the allow list is refused before any backend', async () => {
    const e = await ask('203.0.113.9', 'ssh');
    expect(e.matched).toBe(false);
    expect(formatExplanation(e)).toContain('→ closed by TCP middleware "lan" before any backend is dialled');
  });

  it('ClientIP picks the router on the Minecraft port; every plain TCP entry point without --entry-point', async () => {
    const text = formatExplanation(await ask('192.168.1.50'));
    expect(text).toContain('entry point "mc" (:25565): every plain entry point that TCP routers name');
    expect(text).toMatch(/kids {2}priority \d+ {2}HostSNI\(`\*`\) && ClientIP\(`192\.168\.1\.50`\) {3}← match/);
    expect(text).toContain('service "worlds": service survival (weight 3), service creative (weight 1)');
    expect(text).not.toContain('entry point "web"');
  });

  it.each([
    ['an HTTP entry point', 'web', /entry point "web" carries HTTP: no TCP router names it/],
    ['a TLS entry point', 'secure', /is a TLS entry point \(explain --sni NAME tells what its TCP routers do\)/],
    ['a typo', 'shh', /entry point "shh" does not exist; did you mean "ssh"\?/],
  ])('--entry-point naming %s is a usage error', async (_d, entryPoint, message) => {
    await expect(ask('192.168.1.20', entryPoint)).rejects.toThrow(message);
  });
});
