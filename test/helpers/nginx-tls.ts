/**
 * nginx as HTTPS upstreams: one `server` block per named backend, each on its own loopback port with its own
 * certificate (and, for mutual TLS, the CA its clients' certificates must chain to). Every backend answers
 * `<name> client=<client certificate subject> sni=<server name> host=<Host>` and logs one line per request with the
 * connection's serial number, its request count and whether the TLS session was resumed, so a test can count TLS
 * handshakes per request from the server's side. Foreground, no master process, its own prefix; stopped by its PID.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, nginxBinary, runNginx } from './nginx.js';
import type { PemPair } from './test-pki.js';

/** One HTTPS backend. */
export interface TlsBackendSpec {
  readonly name: string;
  readonly pair: PemPair;
  /** Require a client certificate signed by this CA (PEM); nginx answers 400 without one. */
  readonly clientCa?: string;
}

/** One request as the backend logged it. */
export interface BackendHit {
  readonly backend: string;
  /** nginx's connection serial number: equal for requests on one connection. */
  readonly connection: number;
  /** The request's position on its connection (1 = first). */
  readonly requestOnConnection: number;
  /** The TLS session was resumed (an abbreviated handshake). */
  readonly resumed: boolean;
  readonly protocol: string;
  /** The request's Host (without port). */
  readonly host: string;
}

/** A running nginx with its HTTPS backends. */
export interface NginxTls {
  readonly pid: number;
  /** Port of each backend, by name. */
  readonly ports: Readonly<Record<string, number>>;
  /** `https://127.0.0.1:<port>` of a backend. */
  url(name: string): string;
  /** Requests logged so far (nginx writes each line when the request ends). */
  hits(): Promise<BackendHit[]>;
  stop(): Promise<void>;
}

function serverBlock(dir: string, spec: TlsBackendSpec, port: number): string {
  const mtls = spec.clientCa ? `ssl_client_certificate ${dir}/${spec.name}-client-ca.pem; ssl_verify_client on;` : '';
  return `
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/${spec.name}.pem;
    ssl_certificate_key ${dir}/${spec.name}-key.pem;
    ssl_session_cache shared:${spec.name}:1m;
    ${mtls}
    access_log ${dir}/access.log hits;
    keepalive_requests 10000;
    location /ws { return 404; }
    location / { default_type text/plain; return 200 "${spec.name} client=$ssl_client_s_dn sni=$ssl_server_name host=$host\\n"; }
  }`;
}

/** Start nginx with `backends`; rejects (after stopping it) if it is not listening on all of them within 5 s. */
export async function startNginxTls(backends: readonly TlsBackendSpec[]): Promise<NginxTls> {
  nginxBinary(); // installs nginx or throws with the hint before anything is made
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-nginx-tls-'));
  await mkdir(join(dir, 'tmp'));
  const ports: Record<string, number> = {};
  for (const b of backends) {
    ports[b.name] = await freePort();
    await writeFile(join(dir, `${b.name}.pem`), b.pair.cert);
    await writeFile(join(dir, `${b.name}-key.pem`), b.pair.key, { mode: 0o600 });
    if (b.clientCa) await writeFile(join(dir, `${b.name}-client-ca.pem`), b.clientCa);
  }
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  log_format hits '$server_port $connection $connection_requests $ssl_session_reused $server_protocol $host';
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  ${backends.map((b) => serverBlock(dir, b, ports[b.name]!)).join('\n')}
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const { pid, stop } = await runNginx(dir, Object.values(ports));
  const byPort = new Map(Object.entries(ports).map(([name, port]) => [port, name]));
  return {
    pid,
    ports,
    url: (name) => `https://127.0.0.1:${ports[name]}`,
    hits: async () => {
      const text = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((line) => {
          const [port, connection, requests, reused, protocol, host] = line.split(' ');
          return {
            backend: byPort.get(Number(port)) ?? '?',
            connection: Number(connection),
            requestOnConnection: Number(requests),
            resumed: reused === 'r',
            protocol: protocol ?? '',
            host: host ?? '',
          };
        });
    },
    stop,
  };
}
