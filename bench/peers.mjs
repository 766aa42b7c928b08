// The real peers of the `peers` suite (issue 21): Debian's Caddy, HAProxy and nginx, each one process pinned to
// core 1 like gatehouse, started here from a config written to a temp directory that mirrors what gatehouse serves
// in bench/gatehouse.json and bench/gatehouse-tls.json:
// - `web`: plain HTTP on loopback, every path to the plain backend (backend.mjs), keep-alive to it (HAProxy's
//   default connection reuse, nginx `keepalive 64` + HTTP/1.1 + `Connection: ""`, Caddy's transport with 64 idle
//   connections per host), X-Forwarded-For/-Proto/-Host added (Caddy and HAProxy `option forwardfor` by default
//   or config; nginx by proxy_set_header), 1 MiB bodies streamed (nginx: `proxy_max_temp_file_size 0`, no temp file);
// - `secure`: the same behind TLS termination with the certificate gatehouse serves as its default
//   (test/fixtures/certs/wrong.pem, RSA 2048), HTTP/1.1, each peer's default TLS settings (1.2 and 1.3, tickets on);
// - `pass` (HAProxy, nginx; Debian's Caddy has no layer-4 proxy): SNI passthrough to tls-backend.mjs after reading
//   the ClientHello (HAProxy `tcp-request content accept if { req.ssl_hello_type 1 }`, nginx `ssl_preread on`), as
//   gatehouse's HostSNI(`*`) route peeks it.
// Access log: one line per request (per connection for passthrough). gatehouse, Caddy (zap, JSON) and HAProxy
// (`log stdout format raw`) write it to their stdout, which the runner reads and discards; nginx cannot open a
// socket as /dev/stdout (Node's stdio pipes are socketpairs), so it writes to a file in its temp directory.
// gatehouse batches its writes; nginx is given the same (`buffer=64k flush=1s`); HAProxy and Caddy write per line,
// their defaults.
// Threads: HAProxy `nbthread 1`, Caddy `GOMAXPROCS=1`, nginx `worker_processes 1` (its master idles; the runner's
// CPU figure sums the process tree).
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, spawnPinned, waitPort } from './processes.mjs';

const NGINX_STREAM = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** Whether `bin` runs here (`bin args` exits 0). */
function runs(bin, args) {
  try {
    execFileSync(bin, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why a peer cannot run here (with how to install it), or undefined when it can. */
export function peerMissing(peer, listener) {
  const pkg = { caddy: 'caddy', haproxy: 'haproxy', nginx: 'nginx-light' }[peer];
  const ok = { caddy: () => runs('caddy', ['version']), haproxy: () => runs('haproxy', ['-v']), nginx: () => runs('nginx', ['-v']) }[peer]();
  if (!ok) return `missing: ${peer} is not installed (apt-get install -y ${pkg})`;
  if (peer === 'nginx' && listener === 'pass' && !existsSync(NGINX_STREAM)) return `missing: nginx's stream module (apt-get install -y libnginx-mod-stream)`;
  if (peer === 'caddy' && listener === 'pass') return 'missing: Debian\'s caddy has no layer-4 (SNI passthrough) proxy';
  return undefined;
}

/**
 * Starts one peer serving `web`, `secure` and (HAProxy, nginx) `pass` on free loopback ports; resolves with
 * { pid, ports: { web, secure, pass } }. `backend` is host:port of backend.mjs, `tlsBackend` of tls-backend.mjs,
 * `cert` a PEM file with the certificate and its key, `dir` a temp directory for the config and state.
 */
export async function startPeer(peer, { backend, tlsBackend, cert, dir }) {
  const ports = { web: await freePort(), secure: await freePort(), pass: peer === 'caddy' || (peer === 'nginx' && !existsSync(NGINX_STREAM)) ? undefined : await freePort() };
  const child = { caddy: caddy, haproxy: haproxy, nginx: nginx }[peer]({ ports, backend, tlsBackend, cert, dir });
  child.stdout.resume(); // the access log, discarded
  for (const port of Object.values(ports)) if (port !== undefined) await waitPort(port, child);
  return { pid: child.pid, ports };
}

function caddy({ ports, backend, cert, dir }) {
  const proxy = {
    handler: 'reverse_proxy',
    upstreams: [{ dial: backend }],
    transport: { protocol: 'http', keep_alive: { max_idle_conns_per_host: 64 } },
  };
  const server = (port, tls) => ({
    listen: [`127.0.0.1:${port}`],
    protocols: ['h1'],
    automatic_https: { disable: true },
    logs: {},
    routes: [{ handle: [proxy] }],
    ...(tls ? { tls_connection_policies: [{ certificate_selection: { any_tag: ['bench'] } }] } : {}),
  });
  const config = {
    admin: { disabled: true },
    storage: { module: 'file_system', root: dir },
    logging: { logs: { default: { writer: { output: 'stdout' }, encoder: { format: 'json' }, level: 'INFO' } } },
    apps: {
      http: { servers: { web: server(ports.web, false), secure: server(ports.secure, true) } },
      tls: { certificates: { load_files: [{ certificate: cert, key: cert, tags: ['bench'] }] } },
    },
  };
  const file = path.join(dir, 'caddy.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return spawnPinned(1, 'caddy', ['run', '--config', file], { GOMAXPROCS: '1', HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir });
}

function haproxy({ ports, backend, tlsBackend, cert, dir }) {
  const config = `global
  nbthread 1
  maxconn 4096
  log stdout format raw local0

defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s

frontend web
  bind 127.0.0.1:${ports.web}
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend be

frontend secure
  bind 127.0.0.1:${ports.secure} ssl crt ${cert} alpn http/1.1
  option forwardfor
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend be

backend be
  server s1 ${backend}

frontend pass
  mode tcp
  option tcplog
  bind 127.0.0.1:${ports.pass}
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  default_backend pass_be

backend pass_be
  mode tcp
  server t1 ${tlsBackend}
`;
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  // -db: foreground, one process (no master-worker), so the PID is the one doing the work.
  return spawnPinned(1, 'haproxy', ['-db', '-f', file]);
}

/** The lines of an nginx `http` block both nginx configs share: temp paths in `dir`, long keep-alive to clients. */
function nginxHttpCommon(dir) {
  return ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t === 'body' ? 'client_body' : t}_temp_path ${dir}/${t};`)
    .concat('keepalive_timeout 60s;', 'keepalive_requests 100000000;')
    .join('\n  ');
}

function nginx({ ports, backend, tlsBackend, cert, dir }) {
  const location = `location / {
        proxy_pass http://be;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_max_temp_file_size 0;
      }`;
  const stream = existsSync(NGINX_STREAM);
  const config = `${stream ? `load_module ${NGINX_STREAM};` : ''}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log combined buffer=64k flush=1s;
  ${nginxHttpCommon(dir)}
  upstream be { server ${backend}; keepalive 64; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:${ports.web};
    ${location}
  }
  server {
    listen 127.0.0.1:${ports.secure} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${cert};
    ${location}
  }
}
${
  stream
    ? `stream {
  log_format pass '$remote_addr [$time_local] $ssl_preread_server_name $upstream_addr $bytes_sent $bytes_received $session_time';
  access_log ${dir}/access.log pass buffer=64k flush=1s;
  server { listen 127.0.0.1:${ports.pass}; ssl_preread on; proxy_pass ${tlsBackend}; }
}`
    : ''
}
`;
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, config);
  return spawnPinned(1, 'nginx', ['-p', dir, '-c', file, '-e', 'stderr']);
}

/**
 * BENCH_BACKEND=nginx: the plain backend as nginx serving backend.mjs's two answers from memory (`/small`: the same
 * 23 bytes, `/large`: 1 MiB from a file), one worker on core 0 with the load generator. Several times cheaper per
 * request than a Node backend, so that the backend's CPU does not cap what a multi-core proxy can show on this
 * machine (the workers rows). Resolves with host:port; the runner stops it by PID with the other backends.
 */
export async function startNginxBackend(dir) {
  const port = await freePort();
  writeFileSync(path.join(dir, 'large'), Buffer.alloc(1024 * 1024, 'x'));
  const config = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${nginxHttpCommon(dir)}
  default_type text/plain;
  server {
    listen 127.0.0.1:${port};
    location = /large { alias ${dir}/large; }
    location / { return 200 "hello from the backend\\n"; }
  }
}
`;
  const file = path.join(dir, 'nginx-backend.conf');
  writeFileSync(file, config);
  const child = spawnPinned(0, 'nginx', ['-p', dir, '-c', file, '-e', 'stderr']);
  child.stdout.resume();
  await waitPort(port, child);
  return { pid: child.pid, hostPort: `127.0.0.1:${port}` };
}
