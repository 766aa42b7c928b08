/**
 * The container we ship is the container we test: the real Dockerfile, built on the base image that
 * scripts/docker-base.sh makes without a registry, run the way the README's "In a container" section says (config
 * directory mounted read-only at /etc/gatehouse, state directory owned by uid 1000 at /var/lib/gatehouse,
 * GATEHOUSE_CONFIG, ports published on loopback), in front of a backend on this host's docker0 address.
 *
 * Not part of `npm test`: run with `npm run test:container` (vitest.container.config.ts). Needs Docker; as root
 * with apt-get it installs docker.io and starts dockerd itself when none answers, otherwise it fails saying how to
 * enable Docker. The tests run in order and share one container: each step builds on the previous one.
 */
import { chmod, chown, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeGateway, containerName, docker, dockerOk, ensureDocker, publishedPort, removeContainers, run, stopDocker, waitFor } from '../helpers/docker.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMAGE = 'gatehouse:test';
const SIZE_LIMIT = 200 * 1000 * 1000; // bytes; `docker images` counts MB as 10^6
const SLOW_MS = 4_000;

interface Reply {
  status: number;
  body: string;
  fingerprint?: string;
}

/** One request through the published port, no keep-alive, bounded; HTTPS accepts the self-signed default certificate. */
function get(scheme: 'http' | 'https', port: number, path: string, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path, agent: false as const, timeout: timeoutMs, headers: { host: 'gatehouse.test' } };
    const onResponse = (res: IncomingMessage): void => {
      const fingerprint = scheme === 'https' ? (res.socket as TLSSocket).getPeerCertificate().fingerprint256 : undefined;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(fingerprint ? { fingerprint } : {}) }));
      res.on('error', reject);
    };
    const req =
      scheme === 'http'
        ? httpRequest(options, onResponse)
        : httpsRequest({ ...options, rejectUnauthorized: false, servername: 'gatehouse.test' }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`${scheme}://127.0.0.1:${port}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The config file the test mounts; `version` answers on /version, `watch` turns the config watch on or off. */
function configText(backend: string, version: string, watch: boolean): string {
  const config = {
    log: { level: 'info' },
    entryPoints: { web: { address: ':8080' }, websecure: { address: ':8443', tls: {} } },
    lifecycle: { watch, graceTimeout: '20s' },
    http: {
      routers: {
        backend: { rule: 'PathPrefix(`/`)', service: 'backend' },
        'backend-tls': { rule: 'PathPrefix(`/`)', service: 'backend', tls: {} },
        version: { rule: 'Path(`/version`)', priority: 1000, respond: { status: 200, body: `${version}\n` } },
      },
      services: { backend: { loadBalancer: { servers: [{ url: backend }] } } },
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Writes the config the way an editor does: a new file in the same directory, renamed over the old one. */
async function replaceConfig(dir: string, text: string): Promise<void> {
  const tmp = join(dir, `.config.prod.json.${process.pid}.tmp`);
  await writeFile(tmp, text, { mode: 0o644 });
  await chmod(tmp, 0o644);
  await rename(tmp, join(dir, 'config.prod.json'));
}

/** A host directory the container's uid 1000 may write, as the README says (chown 1000:1000). */
async function stateDirFor(uid: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-state-'));
  try {
    await chown(dir, uid, uid);
  } catch {
    // Not root: the test cannot hand the directory to uid 1000, so let everyone write it.
    await chmod(dir, 0o777);
  }
  return dir;
}

describe('the gatehouse container image', () => {
  const tempDirs: string[] = [];
  let backend: Server | undefined;
  let backendUrl = '';
  let slowArrived: (() => void) | undefined;
  let configDir = '';
  let stateDir = '';
  const main = containerName('main');
  let httpPort = 0;
  let httpsPort = 0;
  let firstFingerprint = '';
  const timings: Record<string, number> = {};

  const logs = async (name: string): Promise<string> => {
    const r = await docker(['logs', name], 30_000);
    return r.stdout + r.stderr;
  };
  const count = (text: string, needle: string): number => text.split(needle).length - 1;
  const state = (name: string, field: string): Promise<string> => dockerOk(['inspect', '-f', `{{${field}}}`, name], 15_000);

  /** `docker run -d` of the README's command line (ports on loopback, chosen by Docker). */
  const runArgs = (name: string, state: string): string[] => [
    '--name', name,
    '-v', `${configDir}:/etc/gatehouse:ro`,
    '-v', `${state}:/var/lib/gatehouse`,
    '-e', 'GATEHOUSE_CONFIG=/etc/gatehouse/config.prod.json',
    '-p', '127.0.0.1::8080',
    '-p', '127.0.0.1::8443',
    '--sysctl', 'net.ipv4.tcp_notsent_lowat=131072',
    IMAGE,
  ];

  /** Waits until the container's log shows its `n`-th "gatehouse started", then reads the published ports. */
  const awaitStarted = async (name: string, n: number): Promise<void> => {
    await waitFor(
      `"gatehouse started" #${n} in docker logs ${name}`,
      async () => {
        const text = await logs(name);
        if (count(text, 'gatehouse started') >= n) return true;
        if ((await state(name, '.State.Running')) !== 'true') throw new Error(`the container is not running; its log:\n${text.slice(-3000)}`);
        return undefined;
      },
      30_000,
    );
    httpPort = await publishedPort(name, '8080/tcp');
    httpsPort = await publishedPort(name, '8443/tcp');
  };

  beforeAll(async () => {
    let t = Date.now();
    const daemon = await ensureDocker();
    console.log(`docker: server ${daemon.version}${daemon.startedHere ? ' (dockerd started by this test)' : ''}`);

    t = Date.now();
    const base = await run('bash', [join(ROOT, 'scripts/docker-base.sh')], { timeoutMs: 25 * 60_000, cwd: ROOT });
    timings['base image'] = Date.now() - t;
    if (base.code !== 0) throw new Error(`scripts/docker-base.sh failed (exit ${base.code}${base.timedOut ? ', timed out' : ''}):\n${base.stderr.slice(-4000)}`);

    t = Date.now();
    const previous = (await docker(['image', 'inspect', '-f', '{{.Id}}', IMAGE], 15_000)).stdout.trim();
    const build = await run('docker', ['build', '-t', IMAGE, '.'], { timeoutMs: 20 * 60_000, cwd: ROOT });
    timings['docker build'] = Date.now() - t;
    if (build.code !== 0) throw new Error(`docker build -t ${IMAGE} . failed (exit ${build.code}${build.timedOut ? ', timed out' : ''}):\n${(build.stdout + build.stderr).slice(-6000)}`);
    // The image this build replaced is left without a name: remove it (refused, harmlessly, while a container uses it).
    const current = await dockerOk(['image', 'inspect', '-f', '{{.Id}}', IMAGE], 15_000);
    if (previous !== '' && previous !== current) await docker(['rmi', previous], 60_000);

    // The backend listens on docker0's address only: the container reaches the host there, nothing else does.
    const gateway = await bridgeGateway();
    backend = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://backend');
      if (url.pathname === '/slow') {
        slowArrived?.();
        setTimeout(() => res.end('slow done\n'), Number(url.searchParams.get('ms') ?? SLOW_MS));
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ backend: true, path: url.pathname, proto: req.headers['x-forwarded-proto'] ?? null }));
    });
    await new Promise<void>((resolve, reject) => {
      backend!.once('error', reject);
      backend!.listen(0, gateway, () => resolve());
    });
    backendUrl = `http://${gateway}:${(backend.address() as AddressInfo).port}`;

    configDir = await mkdtemp(join(tmpdir(), 'gatehouse-config-'));
    tempDirs.push(configDir);
    await chmod(configDir, 0o755); // mkdtemp makes 0700: uid 1000 could not enter the mounted directory
    await replaceConfig(configDir, configText(backendUrl, 'v1', true));
    stateDir = await stateDirFor(1000);
    tempDirs.push(stateDir);
  }, 50 * 60_000);

  afterAll(async () => {
    await removeContainers();
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
    backend?.closeAllConnections();
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
    await stopDocker();
    console.log(`container test timings: ${Object.entries(timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}`);
  }, 120_000);

  it('serves HTTP and HTTPS (the self-signed default certificate) from a backend on the host', async () => {
    await dockerOk(['run', '-d', ...runArgs(main, stateDir)], 60_000);
    await awaitStarted(main, 1);

    const plain = await waitFor('an HTTP answer through the container', () => get('http', httpPort, '/hello'), 15_000);
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body)).toEqual({ backend: true, path: '/hello', proto: 'http' });

    const secure = await get('https', httpsPort, '/secure');
    expect(secure.status).toBe(200);
    expect(JSON.parse(secure.body)).toEqual({ backend: true, path: '/secure', proto: 'https' });
    expect(secure.fingerprint).toMatch(/^[0-9A-F:]{95}$/);
    firstFingerprint = secure.fingerprint!;

    // The default certificate went into the mounted state directory, owned by the container's user.
    const entries = await readdir(stateDir);
    expect(entries).toContain('default-cert');
    expect((await stat(join(stateDir, 'default-cert'))).uid).toBe(1000);
    // The README's command sets the container's own tcp_notsent_lowat: nothing to warn about.
    expect(await logs(main)).not.toContain('HOST_TUNING');
  });

  it("warns at start when the container's network namespace lets slow readers queue megabytes, naming docker run's flag", async () => {
    const name = containerName('lowat');
    await dockerOk(['run', '-d', '--name', name, '--sysctl', 'net.ipv4.tcp_notsent_lowat=4294967295', IMAGE], 60_000);
    const text = await waitFor('"gatehouse started" in the demo container', async () => {
      const t = await logs(name);
      return t.includes('gatehouse started') ? t : undefined;
    }, 30_000);
    const warning = text.split('\n').find((l) => l.includes('HOST_TUNING'));
    expect(warning, text).toBeDefined();
    expect(warning).toContain('net.ipv4.tcp_notsent_lowat is unlimited');
    expect(warning).toContain('docker run --sysctl net.ipv4.tcp_notsent_lowat=131072');
    await docker(['rm', '-f', name], 30_000);
  }, 90_000);

  it('sees an edit of the mounted config directory (new file renamed over the old one)', async () => {
    expect((await get('http', httpPort, '/version')).body).toBe('v1\n');
    // v2 also turns the watch off, so that the next test can tell a SIGHUP reload from a watched one.
    await replaceConfig(configDir, configText(backendUrl, 'v2', false));
    const reply = await waitFor(
      '/version to answer v2 after the rename',
      async () => {
        const r = await get('http', httpPort, '/version');
        return r.body === 'v2\n' ? r : undefined;
      },
      20_000,
    );
    expect(reply.status).toBe(200);
    expect(await logs(main)).toContain('config reloaded');
  });

  it('reloads on docker kill -s HUP (tini forwards it to node)', async () => {
    const reloadsBefore = count(await logs(main), 'config reloaded');
    await replaceConfig(configDir, configText(backendUrl, 'v3', false));
    // The watch is off now: the edit alone changes nothing.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await get('http', httpPort, '/version')).body).toBe('v2\n');

    await dockerOk(['kill', '-s', 'HUP', main], 15_000);
    await waitFor(
      '/version to answer v3 after SIGHUP',
      async () => ((await get('http', httpPort, '/version')).body === 'v3\n' ? true : undefined),
      15_000,
    );
    expect(count(await logs(main), 'config reloaded')).toBe(reloadsBefore + 1);
    expect(await state(main, '.State.Running')).toBe('true');
  });

  it('runs node as uid 1000 under tini as PID 1', async () => {
    expect(await dockerOk(['exec', main, 'id', '-u'], 15_000)).toBe('1000');
    // (node names its main thread "MainThread", so its comm says nothing: its command line does, with the
    // young-generation cap of README "Memory".)
    const script = 'cat /proc/1/comm; grep ^Uid: /proc/1/status; c=$(cat /proc/1/task/1/children); set -- $c; grep ^Uid: /proc/$1/status; tr "\\0" " " </proc/$1/cmdline';
    const [pid1, pid1Uid, childUid, childCmd] = (await dockerOk(['exec', main, 'sh', '-c', script], 15_000)).split('\n');
    expect(pid1).toBe('tini');
    expect(pid1Uid).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/);
    expect(childUid).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/);
    expect(childCmd?.trim()).toBe('node --max-semi-space-size=8 --heap-growing-percent=50 /app/dist/cli/main.js start');
  });

  it('turns healthy (HEALTHCHECK: gatehouse health)', async () => {
    // Healthy, or unhealthy (three failed checks): either ends the wait; the check's own output says why.
    const status = await waitFor(
      'the HEALTHCHECK to report healthy or unhealthy',
      async () => {
        const s = await state(main, '.State.Health.Status');
        return s === 'healthy' || s === 'unhealthy' ? s : undefined;
      },
      60_000,
      1_000,
    );
    const checks = JSON.parse(await state(main, 'json .State.Health.Log')) as { ExitCode: number; Output: string }[];
    expect(status, `health checks: ${checks.map((c) => `exit ${c.ExitCode}: ${c.Output.trim()}`).join(' | ')}`).toBe('healthy');
    expect(checks.at(-1)?.Output).toMatch(/: healthy \(/);
  }, 90_000);

  it('docker stop lets an in-flight request finish, then exits 0 with "gatehouse stopped"', async () => {
    const arrived = new Promise<void>((resolve) => (slowArrived = resolve));
    const slow = get('http', httpPort, `/slow?ms=${SLOW_MS}`, 30_000);
    await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error('the slow request never reached the backend')), 10_000))]);
    slowArrived = undefined;

    const t = Date.now();
    const stop = docker(['stop', '-t', '30', main], 60_000);
    const reply = await slow;
    expect(reply).toEqual({ status: 200, body: 'slow done\n' });
    const stopped = await stop;
    timings['docker stop'] = Date.now() - t;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(timings['docker stop']).toBeLessThan(20_000); // drained, not killed at docker's 30 s
    expect(await state(main, '.State.ExitCode')).toBe('0');
    expect(await logs(main)).toContain('gatehouse stopped');
  }, 90_000);

  it('keeps the default certificate across a restart on the same state directory; SIGINT (docker kill -s INT) stops it with exit 0', async () => {
    await dockerOk(['start', main], 60_000);
    await awaitStarted(main, 2);
    const secure = await waitFor('an HTTPS answer after the restart', () => get('https', httpsPort, '/again'), 15_000);
    expect(secure.status).toBe(200);
    expect(secure.fingerprint).toBe(firstFingerprint);
    await dockerOk(['kill', '-s', 'INT', main], 15_000);
    expect((await dockerOk(['wait', main], 30_000)).trim()).toBe('0');
    expect(count(await logs(main), 'gatehouse stopped')).toBe(2);
  }, 90_000);

  it('holds no dev dependency, test, source, .git or private key, and is under 200 MB', async () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => p.dev === true && path.startsWith('node_modules/')).map(([path]) => path);
    expect(devOnly).toContain('node_modules/vitest');
    expect(devOnly).toContain('node_modules/typescript');

    const script = [
      'cd /app || exit 1',
      'for p in "$@"; do [ -e "$p" ] && echo "dev dependency: /app/$p"; done',
      '[ -d node_modules/undici ] || echo "missing production dependency: undici"',
      '[ -f dist/cli/main.js ] || echo "missing dist/cli/main.js"',
      'for d in test src bench .git .ci state; do [ -e "$d" ] && echo "in the image: /app/$d"; done',
      'find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o \\( -name .git -o -name "*.test.js" -o -name "*.test.ts" \\) -print | sed "s/^/in the image: /"',
      // Key material by name outside the system CA store, and by content anywhere (PEM private key blocks). Not
      // every name with "key" in it: the Debian archive keyrings are public keys, and @peculiar/asn1-* or typebox
      // have modules named private_key_info.js or mapped-key.js.
      'find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /etc/ssl/certs -o -path /usr/share/ca-certificates \\) -prune -o -type f \\( -name "*.pem" -o -name "*.key" -o -name "*.p12" -o -name "*.pfx" -o -name "*.jks" \\) -print | sed "s/^/key-like file: /"',
      'find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type f -size -2M -print0 | xargs -0 grep -lE "^-----BEGIN ([A-Z0-9]+ )?PRIVATE KEY-----" 2>/dev/null | sed "s/^/private key: /"',
      'true',
    ].join('\n');
    const name = containerName('contents');
    const out = await dockerOk(['run', '--rm', '--name', name, '--user', '0', '--entrypoint', 'sh', IMAGE, '-c', script, 'sh', ...devOnly], 120_000);
    expect(out).toBe('');

    expect(await dockerOk(['run', '--rm', '--name', containerName('version'), '--entrypoint', 'node', IMAGE, '--version'], 60_000)).toMatch(/^v24\./);
    expect(await dockerOk(['run', '--rm', '--name', containerName('npm'), '--entrypoint', 'sh', IMAGE, '-c', 'command -v npm || echo none'], 60_000)).toBe('none');

    const size = Number(await dockerOk(['image', 'inspect', '-f', '{{.Size}}', IMAGE], 15_000));
    console.log(`image ${IMAGE}: ${(size / 1e6).toFixed(1)} MB`);
    expect(size).toBeLessThan(SIZE_LIMIT);
  }, 180_000);

  it('refuses a state directory uid 1000 cannot write: exits non-zero at once, naming the directory, the uid and the fix', async () => {
    const rootOwned = await mkdtemp(join(tmpdir(), 'gatehouse-state-root-'));
    tempDirs.push(rootOwned);
    await chmod(rootOwned, 0o755);
    const name = containerName('unwritable');
    const t = Date.now();
    const r = await docker(['run', ...runArgs(name, rootOwned)], 60_000);
    const elapsed = Date.now() - t;
    const output = r.stdout + r.stderr;
    expect(r.code, output).not.toBe(0);
    expect(r.code, output).not.toBeNull();
    expect(output).toContain('/var/lib/gatehouse');
    expect(output).toMatch(/uid 1000/);
    expect(output).toMatch(/chown/);
    expect(await state(name, '.State.ExitCode')).not.toBe('0');
    expect(elapsed).toBeLessThan(20_000);
    expect(await readdir(rootOwned)).toEqual([]);
  }, 90_000);
});
