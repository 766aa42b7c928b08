/**
 * nginx as the receiving side of the PROXY protocol: a real server that understands v1 and v2, answering every
 * request with the client address it read from the header (`$proxy_protocol_addr:$proxy_protocol_port`). It runs
 * in the foreground without a master process, from its own temp prefix, config and pid file, on 127.0.0.1 only,
 * and is stopped by its PID. When nginx is missing, the helper installs nginx-light with apt-get if it runs as
 * root, and otherwise fails with the command to run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureAptTools } from './apt.js';
import { freePort } from './ports.js';
export { freePort };

const CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/bin/nginx'];
const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 5000;

/** A running nginx. */
export interface Nginx {
  readonly pid: number;
  /** Plain HTTP, `listen ... proxy_protocol`. */
  readonly httpPort: number;
  /** TLS with the backend fixture certificate (test/fixtures/tls), `listen ... ssl proxy_protocol`. */
  readonly tlsPort: number;
  stop(): Promise<void>;
}

/** Path of the nginx binary, installing nginx-light first when it is missing and we may; throws with a hint otherwise. */
export function nginxBinary(): string {
  const find = () => CANDIDATES.find((p) => existsSync(p));
  ensureAptTools({ what: 'nginx', packages: ['nginx-light'], present: () => find() !== undefined, timeoutMs: 180_000 });
  return find()!; // ensureAptTools returns only once present() holds
}


function config(dir: string, httpPort: number, tlsPort: number): string {
  const fixtures = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
  const answer = 'location / { default_type text/plain; return 200 "$proxy_protocol_addr:$proxy_protocol_port\\n"; }';
  return `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server { listen 127.0.0.1:${httpPort} proxy_protocol; ${answer} }
  server {
    listen 127.0.0.1:${tlsPort} ssl proxy_protocol;
    ssl_certificate ${fixtures}backend.pem;
    ssl_certificate_key ${fixtures}backend-key.pem;
    ${answer}
  }
}
`;
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A running nginx started by `runNginx`. */
export interface NginxProcess {
  readonly pid: number;
  /** SIGQUIT (SIGKILL past STOP_TIMEOUT_MS), then its directory is removed. */
  stop(): Promise<void>;
}

/**
 * Run nginx from `dir` (its nginx.conf, error.log and temp paths there) until every one of `ports` on 127.0.0.1
 * accepts a connection; rejects (after stopping it and removing `dir`) with nginx's stderr and error log if that
 * takes over START_TIMEOUT_MS or nginx exits.
 */
export async function runNginx(dir: string, ports: readonly number[]): Promise<NginxProcess> {
  const child: ChildProcess = spawn(nginxBinary(), ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGQUIT');
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const until = Date.now() + START_TIMEOUT_MS;
  while (!(await Promise.all(ports.map(reachable))).every(Boolean)) {
    if (child.exitCode !== null || Date.now() > until) {
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      await stop();
      throw new Error(`nginx did not start listening on 127.0.0.1:${ports.join(', ')}: ${stderr}${log}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { pid: child.pid!, stop };
}

/** Start nginx on two free loopback ports; rejects (after stopping it) if it is not listening within 5 s. */
export async function startNginx(): Promise<Nginx> {
  nginxBinary(); // installs nginx or throws with the hint before anything is made
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-nginx-'));
  await mkdir(join(dir, 'tmp'));
  const httpPort = await freePort();
  const tlsPort = await freePort();
  await writeFile(join(dir, 'nginx.conf'), config(dir, httpPort, tlsPort));
  const { pid, stop } = await runNginx(dir, [httpPort, tlsPort]);
  return { pid, httpPort, tlsPort, stop };
}
