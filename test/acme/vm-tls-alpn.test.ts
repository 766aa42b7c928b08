/**
 * Scenario (d), tls-alpn-01 part (../shared/acme/README.md; field note 001), against a real Pebble: a backend "VM"
 * with its own ACME client answers tls-alpn-01 itself, behind gatehouse's SNI passthrough route. The VA's
 * acme-tls/1 handshake reaches the VM untouched (SNI and ALPN), the VM gets its certificate, then serves it through
 * gatehouse; gatehouse never holds the VM's key. Without the passthrough route the VM's order fails.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { createSecureContext, createServer, type SecureContext, type Server } from 'node:tls';
import * as acme from 'acme-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse } from '../helpers/gatehouse-process.js';

const GH = '127.0.0.2';
const VM = '127.0.0.4';
const pebble = usePebble();

beforeAll(async () => {
  acme.axios.defaults.httpsAgent = new Agent({ ca: pebble.apiCertPem });
  (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 1;
}, 30_000);

/** The VM: a TLS server answering acme-tls/1 with its pending challenge certificates, and its own certificate once issued. */
async function startVm(): Promise<{ port: number; server: Server; handshakes: { sni: string; alpn: string[] }[]; order(name: string): Promise<{ certPem: string; keyPem: string }> }> {
  const pending = new Map<string, SecureContext>();
  const issued = new Map<string, SecureContext>();
  const handshakes: { sni: string; alpn: string[] }[] = [];
  const server = createServer({
    ALPNCallback: ({ servername, protocols }) => {
      handshakes.push({ sni: servername, alpn: protocols });
      return protocols.includes('acme-tls/1') && pending.has(servername) ? 'acme-tls/1' : protocols.includes('http/1.1') ? 'http/1.1' : undefined;
    },
    SNICallback: (name, cb) => cb(null, pending.get(name) ?? issued.get(name)),
  });
  server.on('secureConnection', (s) => s.end('vm\n'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, VM, () => r()));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const order = async (name: string) => {
    const client = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey(), backoffMin: 100, backoffMax: 500, backoffAttempts: 20 });
    const key = await acme.crypto.createPrivateEcdsaKey();
    const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, key);
    const done = client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['tls-alpn-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, _chal, keyAuthorization) => {
        const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
        pending.set(authz.identifier.value, createSecureContext({ key: alpnKey, cert: alpnCert }));
      },
      challengeRemoveFn: async (authz) => void pending.delete(authz.identifier.value),
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`VM order for ${name} took over 20 s`)), 20_000)));
    try {
      const certPem = await Promise.race([done, bound]);
      issued.set(name, createSecureContext({ key, cert: certPem }));
      return { certPem, keyPem: key.toString() };
    } finally {
      clearTimeout(timer);
    }
  };
  return { port, server, handshakes, order };
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else if (entry.isFile() && (await stat(p)).size < 1_000_000) out.push(p);
  }
  return out;
}

describe('(d) tls-alpn-01: a backend VM with its own ACME client behind an SNI passthrough route', () => {
  it('the VA reaches the VM untouched, the VM is issued and serves its certificate through gatehouse, which never holds its key; no route → the order fails', async () => {
    const [name, off] = ['vmtls.lab.test', 'vmtls-off.lab.test'];
    await pebble.setA(name, GH);
    await pebble.setA(off, GH);
    const vm = await startVm();
    const stateDir = await freshStateDir();
    try {
      const gh = await startGatehouse({
        stateDir,
        log: { level: 'info', accessLog: false },
        entryPoints: { websecure: { address: `${GH}:${pebble.tlsPort}`, tls: {} } },
        http: { routers: { other: { rule: 'Host(`other.lab.test`)', respond: { body: 'gatehouse' } } } },
        tcp: {
          routers: { vm: { rule: `HostSNI(\`${name}\`)`, service: 'vm' } },
          services: { vm: { loadBalancer: { servers: [{ address: `${VM}:${vm.port}` }] } } },
        },
      });
      const t0 = performance.now();
      const { certPem, keyPem } = await vm.order(name);
      console.log(`(d) VM's own tls-alpn-01 order through gatehouse's passthrough: ${Math.round(performance.now() - t0)} ms`);
      expect(acme.crypto.readCertificateInfo(certPem).domains.altNames).toContain(name);
      // The VA's handshakes reached the VM with their SNI and only acme-tls/1 offered.
      expect(vm.handshakes.some((h) => h.sni === name && h.alpn.length === 1 && h.alpn[0] === 'acme-tls/1')).toBe(true);

      // Through gatehouse, a client now gets the VM's own certificate (passthrough, not terminated).
      const served = await probe(GH, pebble.tlsPort, name, { ca: await pebble.root() });
      expect(served.authorized, served.error).toBe(true);
      expect(served.cert?.fingerprint256).toBe(new (await import('node:crypto')).X509Certificate(certPem).fingerprint256);

      // gatehouse never held the VM's key: not in its state directory, not in its log.
      const keyBody = keyPem.split('\n').slice(1, -2).join('');
      for (const f of await filesUnder(stateDir)) expect((await readFile(f, 'utf8')).replace(/\n/g, '')).not.toContain(keyBody.slice(0, 40));
      expect(gh.logs.some((l) => JSON.stringify(l).includes(keyBody.slice(0, 40)))).toBe(false);

      // Negative control: a name with no passthrough route. gatehouse holds no challenge for it and refuses the
      // acme-tls/1 handshake, so the VM's order fails, and the VM never sees the VA.
      const failed = await vm.order(off).then(() => 'issued', (e: Error) => e.message);
      expect(failed).not.toBe('issued');
      expect(vm.handshakes.some((h) => h.sni === off)).toBe(false);
    } finally {
      await new Promise((r) => vm.server.close(r));
    }
  }, 60_000);
});
