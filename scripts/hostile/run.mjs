#!/usr/bin/env node
/**
 * `npm run hostile`: issue 20's hostile-client set, run for longer than the test suite can, against gatehouse and
 * beside nginx, HAProxy and Caddy (Debian's nginx-light, haproxy, caddy), each started here on loopback, pinned to
 * core 1, with the configs of the peers benchmark (bench/peers.mjs: same backend, keep-alive upstream, TLS with the
 * same certificate, each peer's documented defaults for client timeouts), and stopped by PID. Prints one table.
 *
 * Rows (each against every target, while legitimate requests are probed at 20/s on new connections, probe.mjs):
 *   quiet           no attack: the probe alone over HTTP, the floor every other row's p99 sits on
 *   quiet-tls       the same over HTTPS
 *   idle            HOSTILE_IDLE (5000) TCP connections that never send a byte, reopened when closed (idle-flood.mjs)
 *   idle-tls        the same on the TLS port (no ClientHello), probed over HTTPS
 *   slowloris       slowhttptest -H: HOSTILE_SLOW (1000) connections trickling header lines
 *   slow-body       slowhttptest -B: as many trickling a POST body
 *   slow-read       slowhttptest -X: as many reading a 1 MiB response through a tiny window
 *   range           slowhttptest -R: overlapping byte ranges ("Apache killer")
 *   headers         header-flood.mjs: 50 connections at a time sending 1000 header lines each (statuses counted)
 *   testssl         testssl.sh against the TLS port: findings by severity (minutes per target)
 *   split-write     a Python http.server backend writing head and body apart (HTTP/1.1 keep-alive): median per
 *                   request on a keep-alive client connection and on a new connection each, direct and through each
 *                   target (gatehouse also with a serversTransport maxIdleConnsPerHost -1: no upstream reuse)
 * Then scripts/hostile/slow-readers.sh (rows 1 and 2, its own table) when it exists.
 *
 * Environment: HOSTILE_SECONDS (30 per row), HOSTILE_TARGETS (gatehouse,nginx,haproxy,caddy), HOSTILE_ROWS (all
 * of the above, comma-separated), HOSTILE_IDLE, HOSTILE_SLOW, GATEHOUSE_DIST (the build to run, default dist), HOSTILE_NODE_FLAGS (gatehouse's node flags), HOSTILE_GATEHOUSE_LOG (a file for gatehouse's stdout). Needs a built gatehouse (npm run build), python3,
 * and: apt-get install -y slowhttptest testssl.sh nginx-light haproxy caddy. The machine's load average is printed
 * with every row: on a shared machine, compare targets within one run, never across runs.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { peerMissing, startPeer } from '../../bench/peers.mjs';
import { GATEHOUSE_NODE_FLAGS, freePort, root, spawnPinned, start, stop, stopAll, waitListening, waitPort } from '../../bench/processes.mjs';
import { loadAverage, pct, probe, treeRssMB } from './probe.mjs';

const SECONDS = Number(process.env.HOSTILE_SECONDS ?? 30);
const IDLE = Number(process.env.HOSTILE_IDLE ?? 5000);
const SLOW = Number(process.env.HOSTILE_SLOW ?? 1000);
const TARGETS = (process.env.HOSTILE_TARGETS ?? 'gatehouse,nginx,haproxy,caddy').split(',').filter(Boolean);
const ALL_ROWS = ['quiet', 'quiet-tls', 'idle', 'idle-tls', 'slowloris', 'slow-body', 'slow-read', 'range', 'headers', 'testssl', 'split-write'];
const ROWS = (process.env.HOSTILE_ROWS ?? ALL_ROWS.join(',')).split(',').filter(Boolean);
// gatehouse's node flags: the launchers' own, or HOSTILE_NODE_FLAGS (space-separated) to compare others.
const NODE_FLAGS = process.env.HOSTILE_NODE_FLAGS?.split(' ').filter(Boolean) ?? GATEHOUSE_NODE_FLAGS;
const CERT = path.join(root, 'test/fixtures/certs/wrong.pem'); // RSA 2048, cert + key, as the peers benchmark serves

const has = (bin) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-hostile-'));
const results = new Map(); // row -> target -> cell text
const notes = [];
const cell = (row, target, text) => {
  if (!results.has(row)) results.set(row, new Map());
  results.get(row).set(target, text);
  console.error(`  ${row} / ${target}: ${text}`);
};

/** Start gatehouse like the peers: `web` and `secure` to `backend`, with the documented defaults. */
async function startGatehouse(backend, extra = {}) {
  const dir = mkdtempSync(path.join(work, 'gatehouse-'));
  const ports = { web: await freePort(), secure: await freePort() };
  const config = {
    log: { level: 'info' },
    stateDir: dir,
    entryPoints: { web: { address: `127.0.0.1:${ports.web}` }, secure: { address: `127.0.0.1:${ports.secure}`, tls: {} } },
    tls: { certificates: [{ certFile: CERT, keyFile: CERT }] },
    http: {
      routers: {
        web: { rule: 'PathPrefix(`/`)', service: 'backend', entryPoints: ['web'] },
        secure: { rule: 'PathPrefix(`/`)', service: 'backend', entryPoints: ['secure'], tls: {} },
        ...(extra.fresh ? { fresh: { rule: 'PathPrefix(`/fresh`)', service: 'fresh', entryPoints: ['web'], priority: 100 } } : {}),
      },
      ...(extra.fresh ? { serversTransports: { 'no-reuse': { maxIdleConnsPerHost: -1 } } } : {}),
      services: {
        backend: { loadBalancer: { servers: [{ url: `http://${backend}` }] } },
        ...(extra.fresh ? { fresh: { loadBalancer: { servers: [{ url: `http://${backend}` }], serversTransport: 'no-reuse' } } } : {}),
      },
    },
  };
  const file = path.join(dir, 'gatehouse.json');
  writeFileSync(file, JSON.stringify(config));
  const child = start(1, [...NODE_FLAGS, path.join(process.env.GATEHOUSE_DIST ? path.resolve(process.env.GATEHOUSE_DIST) : path.join(root, 'dist'), 'cli/main.js'), 'start', '--config', file]);
  // HOSTILE_GATEHOUSE_LOG: keep gatehouse's stdout (its log, and what node flags such as --trace-gc print) in a file.
  if (process.env.HOSTILE_GATEHOUSE_LOG) child.stdout.pipe(createWriteStream(process.env.HOSTILE_GATEHOUSE_LOG, { flags: 'a' }));
  else child.stdout.resume();
  for (const port of Object.values(ports)) await waitPort(port, child);
  return { pid: child.pid, ports, child };
}

async function startTarget(name, backend, extra) {
  if (name === 'gatehouse') return startGatehouse(backend, extra);
  const why = peerMissing(name, 'web');
  if (why) throw new Error(why);
  const dir = mkdtempSync(path.join(work, `${name}-`));
  return startPeer(name, { backend, tlsBackend: backend, cert: CERT, dir });
}

async function stopTarget(t) {
  if (t.child) return stop(t.child);
  try {
    process.kill(t.pid, 'SIGTERM');
  } catch {}
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline) {
    try {
      process.kill(t.pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(t.pid, 'SIGKILL');
  } catch {}
}

/**
 * Warm a fresh target up (code loaded and compiled, buffers allocated) with 200 requests on each port, so the RSS
 * growth measured during an attack is the attack's; resolves with the RSS after it.
 */
async function warmUp(t) {
  for (const url of [`http://127.0.0.1:${t.ports.web}/`, `https://127.0.0.1:${t.ports.secure}/`]) {
    await probe({ url, pid: t.pid, seconds: 2, rate: 100 });
  }
  return treeRssMB(t.pid);
}

const figure = (p) => `p99 ${p.p99} ms, ${p.answeredPct}% answered, RSS +${p.rssGrowthMB} MB, kernel TCP memory peak ${p.tcpPeakMB} MB (slowest: ${p.slowest})`;

/** The kernel's TCP memory in use, MB (all sockets of the host: /proc/net/sockstat counts pages). */
function kernelTcpMB() {
  const m = /^TCP:.* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return m ? Math.round((Number(m[1]) * 4) / 1024) : NaN;
}

/** The setting that decides whether slow readers can fill the kernel's TCP memory (docs/hostile.md). */
function notsentLowat() {
  try {
    const v = readFileSync('/proc/sys/net/ipv4/tcp_notsent_lowat', 'utf8').trim();
    return `net.ipv4.tcp_notsent_lowat ${v === '4294967295' ? 'unlimited (the kernel default)' : v}`;
  } catch {
    return 'net.ipv4.tcp_notsent_lowat unknown';
  }
}

/** Run `attack` (a child process) while probing `url`; stop the attack by PID; the probe's figures. */
async function during(attack, t, url) {
  await new Promise((r) => setTimeout(r, 2_000)); // let the attack build up
  let tcpPeakMB = kernelTcpMB();
  const sampler = setInterval(() => (tcpPeakMB = Math.max(tcpPeakMB, kernelTcpMB())), 250);
  const p = await probe({ url, pid: t.pid, seconds: SECONDS, baselineRssMB: t.warmRssMB });
  clearInterval(sampler);
  const extra = await attack.stop();
  return { ...p, tcpPeakMB, extra };
}

/** slowhttptest with `args` against `url`, stopped by PID after the probe; its last status block, summarized. */
function slowhttptest(args) {
  const child = spawn('slowhttptest', [...args, '-l', String(SECONDS + 10)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d) => (out = (out + d).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return {
    stop: async () => {
      await stop(child);
      // eslint-disable-next-line no-control-regex
      const text = out.replace(/\x1b\[[0-9;]*m/g, '');
      // The most seen at once in its status reports (its last report, after the stop, counts nothing).
      const most = (k) => Math.max(0, ...[...text.matchAll(new RegExp(`${k}:\\s+(\\d+)`, 'g'))].map((m) => Number(m[1])));
      const unavailable = [...text.matchAll(/service available:\s+NO/g)].length;
      return `slowhttptest: up to ${most('connected')} connected, ${most('closed')} closed by target, service unavailable in ${unavailable} reports`;
    },
  };
}

function forkAttack(script, args) {
  const child = fork(path.join(root, 'scripts/hostile', script), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ready = new Promise((resolve) => {
    child.once('message', resolve);
    setTimeout(resolve, 10_000).unref();
  });
  return {
    ready,
    stop: () =>
      new Promise((resolve) => {
        const timer = setTimeout(() => (child.kill('SIGKILL'), resolve(undefined)), 10_000);
        child.once('message', (m) => (clearTimeout(timer), child.kill('SIGKILL'), resolve(m)));
        child.send('stop');
      }),
  };
}

/** No attack: `during` without a child, so the probe alone gives the row its floor. */
const NO_ATTACK = { ready: Promise.resolve(), stop: async () => undefined };

const ATTACKS = {
  async quiet(t) {
    return figure(await during(NO_ATTACK, t, `http://127.0.0.1:${t.ports.web}/`));
  },
  async 'quiet-tls'(t) {
    return figure(await during(NO_ATTACK, t, `https://127.0.0.1:${t.ports.secure}/`));
  },
  async idle(t) {
    const a = forkAttack('idle-flood.mjs', ['--role', 'flood', '--target', `127.0.0.1:${t.ports.web}`, '--connections', String(IDLE)]);
    await a.ready;
    const r = await during(a, t, `http://127.0.0.1:${t.ports.web}/`);
    return `${figure(r)}; ${r.extra?.closedByTarget ?? '?'} idle closed by target`;
  },
  async 'idle-tls'(t) {
    const a = forkAttack('idle-flood.mjs', ['--role', 'flood', '--target', `127.0.0.1:${t.ports.secure}`, '--connections', String(IDLE)]);
    await a.ready;
    const r = await during(a, t, `https://127.0.0.1:${t.ports.secure}/`);
    return `${figure(r)}; ${r.extra?.closedByTarget ?? '?'} idle closed by target`;
  },
  async slowloris(t) {
    const a = slowhttptest(['-H', '-c', String(SLOW), '-i', '10', '-r', '200', '-t', 'GET', '-u', `http://127.0.0.1:${t.ports.web}/`, '-x', '24', '-p', '3']);
    const r = await during(a, t, `http://127.0.0.1:${t.ports.web}/`);
    return `${figure(r)}; ${r.extra}`;
  },
  async 'slow-body'(t) {
    const a = slowhttptest(['-B', '-c', String(SLOW), '-i', '10', '-r', '200', '-s', '8192', '-t', 'POST', '-u', `http://127.0.0.1:${t.ports.web}/`, '-x', '10', '-p', '3']);
    const r = await during(a, t, `http://127.0.0.1:${t.ports.web}/`);
    return `${figure(r)}; ${r.extra}`;
  },
  async 'slow-read'(t) {
    const a = slowhttptest(['-X', '-c', String(SLOW), '-r', '200', '-w', '512', '-y', '1024', '-n', '5', '-z', '32', '-k', '3', '-u', `http://127.0.0.1:${t.ports.web}/large`, '-p', '3']);
    const r = await during(a, t, `http://127.0.0.1:${t.ports.web}/`);
    return `${figure(r)}; ${r.extra}`;
  },
  async range(t) {
    const a = slowhttptest(['-R', '-c', String(SLOW), '-a', '10', '-b', '3000', '-r', '200', '-u', `http://127.0.0.1:${t.ports.web}/large`, '-p', '3']);
    const r = await during(a, t, `http://127.0.0.1:${t.ports.web}/`);
    return `${figure(r)}; ${r.extra}`;
  },
  async headers(t) {
    const a = forkAttack('header-flood.mjs', [`127.0.0.1:${t.ports.web}`, '1000', '50', String(SECONDS + 30)]);
    const r = await during(a, t, `http://127.0.0.1:${t.ports.web}/`);
    const statuses = Object.entries(r.extra ?? {})
      .map(([k, v]) => `${k}×${v}`)
      .join(' ');
    return `${figure(r)}; 1000-line requests answered ${statuses || '?'}`;
  },
  async testssl(t) {
    const json = path.join(work, `testssl-${t.name}.json`);
    try {
      execFileSync('testssl', ['--quiet', '--color', '0', '--warnings', 'batch', '--jsonfile', json, `127.0.0.1:${t.ports.secure}`], { stdio: 'ignore', timeout: 15 * 60_000 });
    } catch {
      // testssl.sh exits non-zero when it finds something; the JSON says what.
    }
    if (!existsSync(json)) return 'no report';
    const findings = JSON.parse(readFileSync(json, 'utf8'));
    const bySeverity = {};
    const serious = [];
    for (const f of findings) {
      bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
      if (['CRITICAL', 'HIGH', 'MEDIUM'].includes(f.severity)) serious.push(f.id);
    }
    return `${['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'].map((s) => `${s} ${bySeverity[s] ?? 0}`).join(', ')}${serious.length ? ` (${serious.join(', ')})` : ''}`;
  },
};

/** Per-request latency (median over 100 sequential requests) to `url`, keep-alive or a new connection each. */
async function latencies(url) {
  const { Agent, request } = await import('undici');
  const run = async (keepAlive) => {
    const ms = [];
    for (let i = 0; i < 100; i++) {
      const agent = keepAlive ? (run.agent ??= new Agent({ connections: 1 })) : new Agent({ connections: 1 });
      const t0 = performance.now();
      const res = await request(url, { dispatcher: agent, reset: !keepAlive });
      await res.body.text();
      ms.push(performance.now() - t0);
      if (!keepAlive) await agent.close();
    }
    if (run.agent) await run.agent.close();
    run.agent = undefined;
    ms.sort((a, b) => a - b);
    return Math.round(pct(ms, 50) * 10) / 10;
  };
  return { keepAlive: await run(true), fresh: await run(false) };
}

async function splitWrite() {
  const port = await freePort();
  const py = spawnPinned(0, 'python3', [path.join(root, 'scripts/hostile/split-write-backend.py'), String(port)]);
  await waitPort(port, py);
  const backend = `127.0.0.1:${port}`;
  const direct = await latencies(`http://${backend}/`);
  cell('split-write', 'direct', `median ${direct.keepAlive} ms keep-alive, ${direct.fresh} ms new connection each (load ${loadAverage()})`);
  for (const name of TARGETS) {
    let t;
    try {
      t = await startTarget(name, backend, { fresh: true });
      const l = await latencies(`http://127.0.0.1:${t.ports.web}/`);
      let text = `median ${l.keepAlive} ms keep-alive, ${l.fresh} ms new connection each`;
      if (name === 'gatehouse') {
        const f = await latencies(`http://127.0.0.1:${t.ports.web}/fresh`);
        text += `; maxIdleConnsPerHost -1: ${f.keepAlive} / ${f.fresh} ms`;
      }
      cell('split-write', name, `${text} (load ${loadAverage()})`);
    } catch (err) {
      cell('split-write', name, `not run: ${err.message}`);
    } finally {
      if (t) await stopTarget(t);
    }
  }
  await stop(py);
}

async function main() {
  const missing = [];
  if (!existsSync(path.join(root, 'dist/cli/main.js'))) missing.push('a built gatehouse (npm run build)');
  for (const [bin, pkg] of [['slowhttptest', 'slowhttptest'], ['testssl', 'testssl.sh'], ['python3', 'python3']]) if (!has(bin)) missing.push(`${bin} (apt-get install -y ${pkg})`);
  if (missing.length) notes.push(`missing: ${missing.join(', ')}; the rows that need them say so`);
  console.error(`hostile: ${SECONDS} s per row, ${IDLE} idle, ${SLOW} slow connections; targets ${TARGETS.join(', ')}; rows ${ROWS.join(', ')}; ${notsentLowat()}`);

  const backendChild = start(0, [path.join(root, 'bench/backend.mjs')]);
  const backend = `127.0.0.1:${await waitListening(backendChild)}`;
  const rows = ROWS.filter((r) => r in ATTACKS);
  for (const name of TARGETS) {
    for (const row of rows) {
      if (row.startsWith('slow') || row === 'range') {
        if (!has('slowhttptest')) {
          cell(row, name, 'not run: apt-get install -y slowhttptest');
          continue;
        }
      }
      if (row === 'testssl' && !has('testssl')) {
        cell(row, name, 'not run: apt-get install -y testssl.sh');
        continue;
      }
      // A fresh target per row: one attack's leftovers (memory, closing sockets) never weigh on the next.
      let t;
      try {
        t = await startTarget(name, backend);
        t.name = name;
        t.warmRssMB = await warmUp(t);
        const text = await ATTACKS[row](t);
        cell(row, name, `${text} (load ${loadAverage()})`);
      } catch (err) {
        cell(row, name, `not run: ${err.message}`);
      } finally {
        if (t) await stopTarget(t);
      }
    }
  }
  await stop(backendChild);
  if (ROWS.includes('split-write')) await splitWrite();

  const columns = ['direct', ...TARGETS].filter((c) => [...results.values()].some((m) => m.has(c)));
  console.log(`\n## Hostile clients (issue 20): ${SECONDS} s per row, load average now ${loadAverage()}, ${notsentLowat()}\n`);
  console.log(`| row | ${columns.join(' | ')} |`);
  console.log(`|---|${columns.map(() => '---').join('|')}|`);
  for (const [row, m] of results) console.log(`| ${row} | ${columns.map((c) => m.get(c) ?? '').join(' | ')} |`);
  for (const n of notes) console.log(`\n${n}`);

  const slowReaders = path.join(root, 'scripts/hostile/slow-readers.sh');
  if (existsSync(slowReaders) && ROWS.includes('slow-read')) {
    console.log('\n## Slow readers (scripts/hostile/slow-readers.sh)\n');
    try {
      execFileSync('bash', [slowReaders, ...TARGETS], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
    } catch (err) {
      console.log(`slow-readers.sh failed: ${err.message}`);
    }
  }
}

const cleanup = async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
};
process.once('SIGINT', () => cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => cleanup().then(() => process.exit(143)));
try {
  await main();
} finally {
  await cleanup();
}
