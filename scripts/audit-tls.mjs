// `npm run audit:tls`: testssl.sh (Debian package `testssl.sh`) against a gatehouse TLS entry point on loopback,
// serving the RSA test certificate. Fails when any finding is rated HIGH or CRITICAL; prints the rating summary.
// Everything it starts is stopped by PID; it talks to 127.0.0.1 only (testssl with --ip and --nodns none).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testssl = ['testssl', 'testssl.sh'].find((bin) => spawnSync('which', [bin]).status === 0);
if (!testssl) {
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['install', '-y', '-qq', 'testssl.sh'], { stdio: 'inherit' }).status === 0) {
    console.error('audit:tls: installed testssl.sh');
  } else {
    console.error('audit:tls: testssl.sh is missing; install it with `apt-get install testssl.sh` (Debian) and run again');
    process.exit(1);
  }
}
const bin = ['testssl', 'testssl.sh'].find((b) => spawnSync('which', [b]).status === 0);
if (!existsSync(join(root, 'dist/cli/main.js'))) {
  console.error('audit:tls: dist/ is missing; run `npm run build` first');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
const children = new Set();
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);

// A throwaway CA and a 90-day leaf, made now, so testssl can check the chain (--add-ca) and the lifetime is what a
// real ACME certificate has. Findings about this certificate itself (its revocation info, ...) concern the fixture,
// not gatehouse's TLS: they are listed but do not fail the audit.
const openssl = (...args) => {
  const r = spawnSync('openssl', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`audit:tls: openssl ${args[0]} failed: ${r.stderr}`);
    process.exit(1);
  }
};
openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30',
  '-subj', '/CN=gatehouse audit CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=right.example');
writeFileSync(join(work, 'leaf.ext'), 'subjectAltName=DNS:right.example\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '90', '-extfile', 'leaf.ext', '-out', 'leaf.crt');
mkdirSync(join(work, 'certs'));
writeFileSync(join(work, 'certs', 'right.pem'), readFileSync(join(work, 'leaf.crt'), 'utf8') + readFileSync(join(work, 'leaf.key'), 'utf8'));
const port = 20000 + Math.floor(Math.random() * 20000);
writeFileSync(
  join(work, 'config.json'),
  JSON.stringify({
    log: { level: 'warn' },
    entryPoints: { websecure: { address: `127.0.0.1:${port}`, tls: {} } },
    tls: { certsDir: join(work, 'certs') },
    stateDir: join(work, 'state'),
    http: {
      // The site's own headers, as an operator would set them with the headers middleware (testssl checks them too).
      routers: { hi: { rule: 'PathPrefix(`/`)', respond: { body: 'audit\n' }, middlewares: ['secure'] } },
      middlewares: {
        secure: {
          headers: {
            stsSeconds: 31536000,
            stsIncludeSubdomains: true,
            frameDeny: true,
            contentTypeNosniff: true,
            referrerPolicy: 'no-referrer',
            contentSecurityPolicy: "default-src 'none'",
          },
        },
      },
    },
  }),
);

const gh = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'start', '--config', join(work, 'config.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
children.add(gh);
gh.on('exit', () => children.delete(gh));
await waitPort(port);

const jsonFile = join(work, 'testssl.json');
const run = spawnSync(
  bin,
  ['--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none', '--ip', '127.0.0.1', '--sneaky', '--add-ca', join(work, 'ca.pem'), '--jsonfile', jsonFile, `right.example:${port}`],
  { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, encoding: 'utf8' },
);
gh.kill('SIGTERM');
if (!existsSync(jsonFile)) {
  console.error(`audit:tls: testssl produced no report (exit ${run.status})\n${run.stdout}\n${run.stderr}`);
  process.exit(1);
}
const findings = JSON.parse(readFileSync(jsonFile, 'utf8'));
const bySeverity = {};
for (const f of findings) bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
const aboutFixture = (f) => f.id.startsWith('cert_');
const bad = findings.filter((f) => (f.severity === 'HIGH' || f.severity === 'CRITICAL') && !aboutFixture(f));
const interesting = findings.filter((f) => ['WARN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(f.severity));
console.log(`${bin} against gatehouse on 127.0.0.1:${port}: ${Object.entries(bySeverity).map(([k, v]) => `${k} ${v}`).join(', ')}`);
for (const f of interesting) console.log(`  ${f.severity.padEnd(8)} ${f.id}: ${f.finding}${aboutFixture(f) ? '   (about the throwaway test certificate)' : ''}`);
for (const id of ['protocols', 'SSLv2', 'SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'cipher_order', 'FS', 'overall_grade']) {
  const f = findings.find((x) => x.id === id);
  if (f) console.log(`  ${id}: ${f.finding}`);
}
if (bad.length > 0) {
  console.error(`audit:tls: ${bad.length} finding(s) rated HIGH or CRITICAL`);
  process.exit(1);
}
console.log('audit:tls: no finding rated HIGH or CRITICAL');

async function waitPort(p) {
  const net = await import('node:net');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(p, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error('audit:tls: gatehouse did not listen within 15 s');
  process.exit(1);
}
