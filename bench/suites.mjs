// What `npm run bench` measures, suite by suite. A suite is a list of rows (a target under a workload) and the
// ratio columns of its table; a target is a process (or an address) started once per suite. Processes shared by
// several targets (one gatehouse with two entry points) start once. Rows with the same URL and headers are one
// measurement (`direct-tls` serves S2 and S4).
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { peerMissing, startNginxBackend, startPeer } from './peers.mjs';
import { GATEHOUSE_NODE_FLAGS, freePort, root, start, waitListening, waitPort } from './processes.mjs';

/** The names of every suite, in the order a full run takes them. */
export const SUITE_NAMES = ['http', 'tls', 'chain', 'peers'];
/** Suites a full run (no BENCH_SUITE) leaves out: `peers` needs Debian's caddy, haproxy and nginx (BENCH_SUITE=peers). */
export const OPT_IN_SUITES = ['peers'];

const fixtureCert = path.join(root, 'test/fixtures/certs/wrong.pem'); // RSA 2048, right.example, cert + key
const logLevel = process.env.GATEHOUSE_LOG_LEVEL ?? 'info';
const CLOSE = ['Connection: close'];
// alice's bcrypt line in test/fixtures/htpasswd/users.htpasswd: a success is cached, so this measures the cache.
const AUTHORIZATION = [`Authorization: Basic ${Buffer.from('alice:alice-secret').toString('base64')}`];

/**
 * Shared state of one run: the backends (started on first use, on core 0 with the load generator), temp
 * directories (removed by `dispose`), and memoized processes.
 */
export function createContext() {
  const once = new Map();
  const dirs = [];
  const backendPids = new Set();
  const backend = async (script) => {
    const child = start(0, [script]);
    backendPids.add(child.pid);
    return `127.0.0.1:${await waitListening(child)}`;
  };
  const memo = (key, fn) => {
    if (!once.has(key)) once.set(key, fn());
    return once.get(key);
  };
  const tempDir = (prefix) => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  const ctx = {
    // BENCH_BACKEND=nginx: nginx answers /small and /large instead of backend.mjs (peers.mjs, startNginxBackend).
    backend: () =>
      memo('backend', async () => {
        if (process.env.BENCH_BACKEND !== 'nginx') return `http://${await backend('bench/backend.mjs')}`;
        const b = await startNginxBackend(tempDir('gatehouse-bench-nginx-backend-'));
        backendPids.add(b.pid);
        return `http://${b.hostPort}`;
      }),
    tlsBackend: () => memo('tls-backend', () => backend('bench/tls-backend.mjs')),
    /** PIDs of the backends, which outlive a suite. */
    backendPids: () => backendPids,
    certsDir: () =>
      memo('certs', () => {
        const d = tempDir('gatehouse-bench-certs-');
        copyFileSync(fixtureCert, path.join(d, 'wrong.pem'));
        return d;
      }),
    memo,
    tempDir,
    /** Forget the suite's processes (the runner stops them) but keep the backends. */
    endSuite: () => {
      for (const key of [...once.keys()]) if (!['backend', 'tls-backend', 'certs'].includes(key)) once.delete(key);
    },
    dispose: () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
  return ctx;
}

/** A Node script on core 1 forwarding to TARGET; resolves with its URL and PID. */
async function script(file, env, scheme = 'http') {
  const child = start(1, [file], env);
  const port = await waitListening(child);
  return { url: `${scheme}://127.0.0.1:${port}`, pid: child.pid };
}

/** The gatehouse CLI on core 1 with `config` and one port per name in `ports`; resolves with { pid, ports }. */
async function gatehouse(config, ports, env, level, gh = GH, core = 1) {
  const portOf = {};
  for (const name of ports) portOf[name] = await freePort();
  const child = start(core, [...profile, ...gh.flags, gh.main, 'start', '--config', config], {
    ...env,
    ...Object.fromEntries(Object.entries(portOf).map(([name, port]) => [name, String(port)])),
    GATEHOUSE_LOG_LEVEL: level,
  });
  child.stdout.resume(); // access log on, discarded (the bench measures the cost of writing it)
  for (const port of Object.values(portOf)) await waitPort(port, child);
  return { pid: child.pid, ports: portOf };
}

function tlsGatehouse(ctx, level, gh = GH) {
  return ctx.memo(`gatehouse-tls ${level} ${gh.main} ${gh.flags.join(' ')}`, async () =>
    gatehouse('bench/gatehouse-tls.json', ['GATEHOUSE_BENCH_PORT', 'GATEHOUSE_BENCH_PASS_PORT'], {
      GATEHOUSE_BENCH_BACKEND: await ctx.backend(),
      GATEHOUSE_BENCH_TLS_BACKEND: await ctx.tlsBackend(),
      GATEHOUSE_BENCH_CERTS: ctx.certsDir(),
      GATEHOUSE_BENCH_STATE: ctx.tempDir('gatehouse-bench-state-'),
    }, level, gh),
  );
}

function chainGatehouse(ctx, level) {
  return ctx.memo(`gatehouse-chain ${level}`, async () =>
    gatehouse('bench/gatehouse-chain.json', ['GATEHOUSE_BENCH_PORT', 'GATEHOUSE_BENCH_CHAIN_PORT'], { GATEHOUSE_BENCH_BACKEND: await ctx.backend() }, level),
  );
}

// BENCH_DIST: another build of gatehouse (e.g. .bench/<variant>/dist) to compare with dist/.
const DIST = process.env.BENCH_DIST ?? 'dist';
// BENCH_NODE_FLAGS: node's flags for gatehouse (default the launchers' own, GATEHOUSE_NODE_FLAGS).
const flagList = (text) => text.split(' ').filter(Boolean);
const NODE_FLAGS = flagList(process.env.BENCH_NODE_FLAGS ?? GATEHOUSE_NODE_FLAGS.join(' '));
/** A gatehouse to start: its CLI entry and node's flags for it. */
const GH = { main: `${DIST}/cli/main.js`, flags: NODE_FLAGS };
// BENCH_DIST_B, BENCH_NODE_FLAGS_B: a second build, or the same with other node flags, measured in the same run (a
// change before/after): the peers suite then has a twin `<target>@b` of each gatehouse row, started that way.
const GH_B = process.env.BENCH_DIST_B || process.env.BENCH_NODE_FLAGS_B !== undefined
  ? { main: `${process.env.BENCH_DIST_B || DIST}/cli/main.js`, flags: flagList(process.env.BENCH_NODE_FLAGS_B ?? NODE_FLAGS.join(' ')) }
  : undefined;
// BENCH_PROFILE_DIR: every gatehouse writes a V8 CPU profile there when it is stopped (open it in Chrome DevTools).
const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];

/** Every target: `start(ctx)` resolves with { url, pid? }; `needs` is a dist file without which it is skipped. */
const TARGETS = {
  direct: { start: async (ctx) => ({ url: await ctx.backend() }) },
  'bare-undici': { start: async (ctx) => script('bench/bare-undici.mjs', { TARGET: await ctx.backend() }) },
  'bare-http-proxy': { start: async (ctx) => script('bench/bare-http-proxy.mjs', { TARGET: await ctx.backend() }) },
  'upstream-only': { needs: 'dist/upstream/index.js', start: async (ctx) => script('bench/upstream-only.mjs', { TARGET: await ctx.backend() }) },
  gatehouse: {
    needs: GH.main,
    start: async (ctx) => {
      const g = await gatehouse('bench/gatehouse.json', ['GATEHOUSE_BENCH_PORT'], { GATEHOUSE_BENCH_BACKEND: await ctx.backend() }, logLevel);
      return { url: `http://127.0.0.1:${g.ports.GATEHOUSE_BENCH_PORT}`, pid: g.pid };
    },
  },
  'gatehouse-nolog': {
    needs: GH.main,
    start: async (ctx) => {
      // Level warn: no access log, what routing alone costs.
      const g = await gatehouse('bench/gatehouse.json', ['GATEHOUSE_BENCH_PORT'], { GATEHOUSE_BENCH_BACKEND: await ctx.backend() }, 'warn');
      return { url: `http://127.0.0.1:${g.ports.GATEHOUSE_BENCH_PORT}`, pid: g.pid };
    },
  },
  'direct-tls': { start: async (ctx) => ({ url: `https://${await ctx.tlsBackend()}` }) },
  'bare-https-undici': {
    start: async (ctx) => script('bench/bare-https-undici.mjs', { TARGET: await ctx.backend(), CERT: path.join(ctx.certsDir(), 'wrong.pem') }, 'https'),
  },
  'gatehouse-tls': { needs: GH.main, start: async (ctx) => tlsTarget(await tlsGatehouse(ctx, logLevel), 'GATEHOUSE_BENCH_PORT') },
  'gatehouse-tls-nolog': { needs: GH.main, start: async (ctx) => tlsTarget(await tlsGatehouse(ctx, 'warn'), 'GATEHOUSE_BENCH_PORT') },
  'bare-pipe': { start: async (ctx) => script('bench/bare-pipe.mjs', { TARGET: await ctx.tlsBackend() }, 'https') },
  'gatehouse-passthrough': { needs: GH.main, start: async (ctx) => tlsTarget(await tlsGatehouse(ctx, logLevel), 'GATEHOUSE_BENCH_PASS_PORT') },
  'gatehouse-plain': { needs: GH.main, start: async (ctx) => httpTarget(await chainGatehouse(ctx, 'warn'), 'GATEHOUSE_BENCH_PORT') },
  'gatehouse-chain': { needs: GH.main, start: async (ctx) => httpTarget(await chainGatehouse(ctx, 'warn'), 'GATEHOUSE_BENCH_CHAIN_PORT') },
  'gatehouse-plain-log': { needs: GH.main, start: async (ctx) => httpTarget(await chainGatehouse(ctx, logLevel), 'GATEHOUSE_BENCH_PORT') },
  'gatehouse-chain-log': { needs: GH.main, start: async (ctx) => httpTarget(await chainGatehouse(ctx, logLevel), 'GATEHOUSE_BENCH_CHAIN_PORT') },
};

// BENCH_WORKERS=N (issue 21): targets gatehouse-w1 and gatehouse-wN, bench/gatehouse.json with `workers` 1 and N, both
// unpinned (cores 0 and 1, shared with the load generator and the backend), in the http suite's rows: throughput and
// CPU per request (every process of the gatehouse counted) of N workers against one, in the same run.
const WORKERS = Number(process.env.BENCH_WORKERS ?? 0);
// gatehouse-wN-shared: the same with cluster's shared handles (NODE_CLUSTER_SCHED_POLICY=none: every worker accepts
// on the one socket, the kernel picks) instead of the primary's round-robin hand-off.
const workerTargets = WORKERS > 1 ? ['gatehouse-w1', `gatehouse-w${WORKERS}`, `gatehouse-w${WORKERS}-shared`] : [];
for (const [n, policy] of WORKERS > 1 ? [[1, 'rr'], [WORKERS, 'rr'], [WORKERS, 'none']] : []) {
  TARGETS[`gatehouse-w${n}${policy === 'none' ? '-shared' : ''}`] = {
    needs: GH.main,
    start: async (ctx) => {
      const file = path.join(ctx.tempDir('gatehouse-bench-workers-'), 'gatehouse.json');
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(path.join(root, 'bench/gatehouse.json'), 'utf8')), workers: n }));
      const g = await gatehouse(file, ['GATEHOUSE_BENCH_PORT'], { GATEHOUSE_BENCH_BACKEND: await ctx.backend(), NODE_CLUSTER_SCHED_POLICY: policy }, logLevel, GH, '0,1');
      return { url: `http://127.0.0.1:${g.ports.GATEHOUSE_BENCH_PORT}`, pid: g.pid };
    },
  };
}

if (GH_B) {
  TARGETS['gatehouse@b'] = {
    needs: GH_B.main,
    start: async (ctx) => {
      const g = await gatehouse('bench/gatehouse.json', ['GATEHOUSE_BENCH_PORT'], { GATEHOUSE_BENCH_BACKEND: await ctx.backend() }, logLevel, GH_B);
      return { url: `http://127.0.0.1:${g.ports.GATEHOUSE_BENCH_PORT}`, pid: g.pid };
    },
  };
  TARGETS['gatehouse-tls@b'] = { needs: GH_B.main, start: async (ctx) => tlsTarget(await tlsGatehouse(ctx, logLevel, GH_B), 'GATEHOUSE_BENCH_PORT') };
  TARGETS['gatehouse-passthrough@b'] = { needs: GH_B.main, start: async (ctx) => tlsTarget(await tlsGatehouse(ctx, logLevel, GH_B), 'GATEHOUSE_BENCH_PASS_PORT') };
}

// The real peers (bench/peers.mjs): one process per peer serving plain HTTP, TLS termination and (HAProxy, nginx) SNI
// passthrough on three ports, like gatehouse-tls serves two; target `<peer>` is its plain port, `<peer>-tls` its
// terminating one, `<peer>-pass` its passthrough one.
function peer(ctx, name) {
  return ctx.memo(`peer ${name}`, async () =>
    startPeer(name, {
      backend: (await ctx.backend()).replace('http://', ''),
      tlsBackend: await ctx.tlsBackend(),
      cert: path.join(ctx.certsDir(), 'wrong.pem'),
      dir: ctx.tempDir(`gatehouse-bench-${name}-`),
    }),
  );
}
for (const name of ['caddy', 'haproxy', 'nginx']) {
  TARGETS[name] = { peer: [name, 'web'], start: async (ctx) => httpTarget(await peer(ctx, name), 'web') };
  TARGETS[`${name}-tls`] = { peer: [name, 'secure'], start: async (ctx) => tlsTarget(await peer(ctx, name), 'secure') };
  TARGETS[`${name}-pass`] = { peer: [name, 'pass'], start: async (ctx) => tlsTarget(await peer(ctx, name), 'pass') };
}

// wrk sends the URL's host as SNI; 127.0.0.1 names no certificate, so termination serves the default one (set to
// the same RSA certificate the bare https server has) and passthrough's HostSNI(`*`) catch-all matches.
const tlsTarget = (g, port) => ({ url: `https://127.0.0.1:${g.ports[port]}`, pid: g.pid });
const httpTarget = (g, port) => ({ url: `http://127.0.0.1:${g.ports[port]}`, pid: g.pid });

/** Whether a target can run: its dist file exists. Returns the reason when it cannot. */
export function missing(name) {
  if (TARGETS[name].peer) return peerMissing(...TARGETS[name].peer);
  const needs = TARGETS[name].needs;
  return needs && !existsSync(path.resolve(root, needs)) ? `skipped: not built (${needs} missing; run npm run build)` : undefined;
}

/** Starts a target by name. */
export function startTarget(name, ctx) {
  return TARGETS[name].start(ctx);
}

const rows = (workload, targets) => targets.map((target) => ({ target, workload }));

/**
 * The suites. Each: `rows` ({ target, workload: { name, path, headers } }), `columns` (ratio columns: `base(row)`
 * names the target of the same workload to divide by; `cpu` divides CPU µs/req instead of req/s; `efficiency`: the
 * base's CPU µs/req ÷ this row's, per round (interleaved, so both ran in the same spell), median over rounds).
 */
export function suites(paths) {
  const keepAlive = { name: 'S2 https keep-alive', path: '/small', headers: [] };
  const handshake = { name: 'S3 handshake per request', path: '/small', headers: CLOSE };
  const passthrough = { name: 'S4 passthrough keep-alive', path: '/small', headers: [] };
  const bareTls = (row) => (row.workload === passthrough ? 'bare-pipe' : 'bare-https-undici');
  const chain = { name: 'chain /small', path: '/small', headers: AUTHORIZATION };
  const unchained = (row) => row.target.replace('chain', 'plain');
  // The peers suite (issue 21): gatehouse at one core against Caddy, HAProxy and nginx and the bare Node forwarder of
  // each scenario. `kind` picks each peer's listener: plain (`web`), terminating (`-tls`) or passthrough (`-pass`).
  const peerSmall = { name: 'small HTTP keep-alive', path: '/small', headers: [], kind: '' };
  const peerTls = { name: 'HTTPS termination keep-alive', path: '/small', headers: [], kind: '-tls' };
  const peerLarge = { name: '1 MiB responses', path: '/large', headers: [], kind: '' };
  const peerPass = { name: 'SNI passthrough keep-alive', path: '/small', headers: [], kind: '-pass' };
  // Handshakes: bench/handshake-load.mjs (a new connection per request; full: no session offered; resumed: the last
  // ticket offered), not wrk, which offers its last session to servers that may or may not resume it.
  const peerHandshake = { name: 'TLS full handshake per connection', path: '/small', headers: CLOSE, kind: '-tls', handshakes: 'full' };
  const peerResumed = { name: 'TLS resumed handshake per connection', path: '/small', headers: CLOSE, kind: '-tls', handshakes: 'resumed' };
  const peerWorkloads = [
    [peerSmall, 'direct', 'bare-undici', 'gatehouse'],
    [peerTls, undefined, 'bare-https-undici', 'gatehouse-tls'],
    [peerLarge, 'direct', 'bare-http-proxy', 'gatehouse'],
    [peerPass, undefined, 'bare-pipe', 'gatehouse-passthrough'],
    [peerHandshake, undefined, 'bare-https-undici', 'gatehouse-tls'],
    [peerResumed, undefined, 'bare-https-undici', 'gatehouse-tls'],
  ];
  const bareOf = (row) => peerWorkloads.find(([w]) => w === row.workload)[2];
  const peerOf = (name) => (row) => `${name}${row.workload.kind}`;
  return {
    peers: {
      title: 'Against the real peers, one core each (Caddy GOMAXPROCS=1, HAProxy nbthread 1, nginx worker_processes 1)',
      workloadHead: 'workload',
      rows: peerWorkloads.flatMap(([w, direct, bare, gh]) =>
        rows(w, [
          ...(direct ? [direct] : []),
          bare,
          gh,
          ...(GH_B ? [`${gh}@b`] : []),
          ...['caddy', 'haproxy', 'nginx'].map((p) => `${p}${w.kind}`),
        ]),
      ),
      columns: [
        { head: 'x bare', base: bareOf },
        { head: 'x Caddy', base: peerOf('caddy') },
        { head: 'x HAProxy', base: peerOf('haproxy') },
        { head: 'x nginx', base: peerOf('nginx') },
        { head: 'CPU x HAProxy', base: peerOf('haproxy'), cpu: true },
      ],
      // run.mjs prints gatehouse's row of each workload against each base, paired round by round: median and range.
      summary: {
        workloads: peerWorkloads.flatMap(([w, , bare, gh]) => {
          const bases = [['bare Node', bare], ['Caddy', `caddy${w.kind}`], ['HAProxy', `haproxy${w.kind}`], ['nginx', `nginx${w.kind}`]];
          // With BENCH_DIST_B: build A against B (above 1 in req/s, or below 1 in CPU: A is the better), then B against the peers.
          // The second build's row (BENCH_DIST_B) against the same bases, after the main one against it and them.
          const twins = GH_B ? [`${gh}@b`] : [];
          return [
            { workload: w, gatehouse: gh, bases: [...twins.map((t) => [t, t]), ...bases] },
            ...twins.map((t) => ({ workload: w, gatehouse: t, bases, label: ` (for ${t})` })),
          ];
        }),
        // Issue 21's targets at one worker: a req/s ratio (`min`) or a CPU-per-connection ratio (`maxCpu`).
        targets: [
          { workload: peerTls, base: 'Caddy', min: 1.3 },
          { workload: peerLarge, base: 'Caddy', min: 1.0 },
          { workload: peerPass, base: 'HAProxy', min: 1.0 },
          { workload: peerPass, base: 'bare Node', min: 1.0 },
          { workload: peerHandshake, base: 'HAProxy', maxCpu: 1.5 },
          { workload: peerResumed, base: 'HAProxy', maxCpu: 1.5 },
        ],
      },
    },
    http: {
      title: 'HTTP forwarding',
      workloadHead: 'path',
      rows: paths.flatMap((p) =>
        rows({ name: `/${p}`, path: `/${p}`, headers: [] }, ['direct', 'bare-undici', 'bare-http-proxy', 'upstream-only', 'gatehouse', 'gatehouse-nolog', ...workerTargets]),
      ),
      columns: [
        { head: 'x direct', base: () => 'direct' },
        { head: 'x bare-undici', base: () => 'bare-undici' },
        { head: 'x bare-http-proxy', base: () => 'bare-http-proxy' },
        // CPU per request, paired by round: above 1, this target spends less CPU per request than the base.
        { head: 'CPU eff. x bare-undici', base: () => 'bare-undici', efficiency: true },
        { head: 'CPU eff. x bare-http-proxy', base: () => 'bare-http-proxy', efficiency: true },
        // BENCH_WORKERS: gatehouse-wN against one worker (throughput ratio; CPU per request: w1's ÷ wN's).
        ...(workerTargets.length > 0 ? [{ head: 'x gatehouse-w1', base: () => 'gatehouse-w1' }, { head: 'CPU eff. x gatehouse-w1', base: () => 'gatehouse-w1', efficiency: true }] : []),
      ],
    },
    tls: {
      title: 'TLS edge (S2 termination, S3 full handshakes, S4 SNI passthrough)',
      workloadHead: 'workload',
      rows: [
        ...rows(keepAlive, ['direct', 'direct-tls', 'bare-https-undici', 'gatehouse-tls', 'gatehouse-tls-nolog']),
        ...rows(handshake, ['direct-tls', 'bare-https-undici', 'gatehouse-tls', 'gatehouse-tls-nolog']),
        ...rows(passthrough, ['direct-tls', 'bare-pipe', 'gatehouse-passthrough']),
      ],
      columns: [
        { head: 'x direct', base: () => 'direct' },
        { head: 'x direct-tls', base: () => 'direct-tls' },
        { head: 'x bare', base: bareTls },
        { head: 'CPU x bare', base: bareTls, cpu: true },
      ],
    },
    chain: {
      title: 'Middleware chain (headers + basicAuth, cached + rateLimit) against the same route without middlewares',
      workloadHead: 'workload',
      rows: rows(chain, ['gatehouse-plain', 'gatehouse-chain', 'gatehouse-plain-log', 'gatehouse-chain-log']),
      columns: [
        { head: 'x no middleware', base: unchained },
        { head: 'CPU x no middleware', base: unchained, cpu: true },
      ],
    },
  };
}
