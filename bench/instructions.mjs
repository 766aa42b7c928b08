// Instructions per request of the TLS and chain scenarios, counted by valgrind (callgrind): untouched by the
// neighbours that make CPU time on this shared 2-core VM swing ±40 %, though V8 keeps re-optimizing for thousands of
// requests under valgrind (counts of one route drifted 350 k → 220 k), hence the turns of the chain group. Each target runs under callgrind (all threads), backends natively; a
// fixed number of requests goes over keep-alive connections after a warm-up, counters zeroed before and dumped
// after. User space only (kernel copies and syscalls are not counted): compare variants, not milliseconds.
// Usage: `npm run build && node bench/instructions.mjs [group...]`, groups: chain, tls (S2), passthrough (S4).
//   env: REQUESTS (1000), WARMUP (2000), CONNECTIONS (10), START_TIMEOUT_MS (300000), BENCH_DIST (dist),
//   KEEP (a directory the callgrind files are copied to), PARTS (chain group: routes of bench/gatehouse-chain-parts.json to compare, PLAIN,CHAIN; also HEADERS, AUTH, LIMIT).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { freePort, root, spawnPinned, start, stopAll, waitListening, waitPort } from './processes.mjs';

const requests = Number(process.env.REQUESTS ?? 1000);
const warmup = Number(process.env.WARMUP ?? 2000);
const connections = Number(process.env.CONNECTIONS ?? 10);
const startTimeoutMs = Number(process.env.START_TIMEOUT_MS ?? 300_000);
const dist = process.env.BENCH_DIST ?? 'dist';
const AUTHORIZATION = `Basic ${Buffer.from('alice:alice-secret').toString('base64')}`;

/** Sends `n` GETs of /small over `connections` keep-alive connections (TLS unverified: a throughput probe). */
async function send(url, n, headers) {
  const pool = new Pool(url, { connections, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000, connect: { rejectUnauthorized: false } });
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const { statusCode, body } = await pool.request({ path: '/small', method: 'GET', headers });
      for await (const _ of body);
      if (statusCode !== 200) throw new Error(`status ${statusCode} from ${url}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
}

/** Starts node `args` under callgrind on core 1; resolves with the child once `ready(child)` resolves. */
async function underCallgrind(dir, name, args, env, ready) {
  const out = path.join(dir, `${name}.cg`);
  const valgrind = ['--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--smc-check=all-non-file', process.execPath, ...args];
  const child = spawnPinned(1, 'valgrind', valgrind, env);
  child.stdout.resume();
  await ready(child);
  return child;
}

/** Instructions per request of one URL of a running target (valgrind's PID is node's), after `warm` requests. */
async function count(dir, name, child, url, headers, warm = warmup) {
  if (warm > 0) await send(url, warm, headers);
  execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
  await send(url, requests, headers);
  execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`${name}.cg.`)).sort((a, b) => Number(a.split('.').at(-1)) - Number(b.split('.').at(-1)));
  const text = readFileSync(path.join(dir, dumps.at(-1)), 'utf8');
  return Number(/^(?:summary|totals):\s+(\d+)/m.exec(text)[1]) / requests;
}

/** A gatehouse CLI under callgrind with `config` and the named port variables; resolves with { child, ports }. */
async function gatehouse(dir, name, config, portNames, env) {
  const ports = {};
  for (const p of portNames) ports[p] = await freePort();
  const portEnv = Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)]));
  const child = await underCallgrind(dir, name, [`${dist}/cli/main.js`, 'start', '--config', config], { ...env, ...portEnv, GATEHOUSE_LOG_LEVEL: 'warn' }, async (c) => {
    for (const port of Object.values(ports)) await waitPort(port, c, startTimeoutMs);
  });
  return { child, ports };
}

/** A bench script under callgrind; resolves with { child, url }. */
async function script(dir, name, file, env, scheme) {
  let port;
  const child = await underCallgrind(dir, name, [file], env, async (c) => (port = await waitListening(c, startTimeoutMs)));
  return { child, url: `${scheme}://127.0.0.1:${port}` };
}

/** Each group: rows of [variant, instructions/request], measured in the order given. */
const GROUPS = {
  async chain(dir, b) {
    // One entry point per middleware alone, the whole chain, and none (bench/gatehouse-chain-parts.json).
    const parts = (process.env.PARTS ?? 'PLAIN,CHAIN').split(',');
    const g = await gatehouse(dir, 'chain', 'bench/gatehouse-chain-parts.json', ['PLAIN', 'HEADERS', 'AUTH', 'LIMIT', 'CHAIN'].map((p) => `GATEHOUSE_BENCH_${p}_PORT`), {
      GATEHOUSE_BENCH_BACKEND: b.http,
    });
    const headers = { authorization: AUTHORIZATION };
    const url = (p) => `http://127.0.0.1:${g.ports[`GATEHOUSE_BENCH_${p}_PORT`]}`;
    // The routes share most code, and under valgrind the JIT keeps settling long after a warm-up: warm every
    // route, then count them in turns, three times, and report each turn (the spread is the drift).
    for (const p of parts) await send(url(p), warmup, headers);
    const counts = new Map(parts.map((p) => [p, []]));
    for (let turn = 0; turn < 3; turn++) for (const p of parts) counts.get(p).push(await count(dir, 'chain', g.child, url(p), headers, 0));
    return parts.map((p) => [`${p.toLowerCase()} (lowest of turns ${counts.get(p).map((ir) => (ir / 1000).toFixed(0)).join(', ')} k)`, Math.min(...counts.get(p))]);
  },
  async tls(dir, b) {
    const bare = await script(dir, 'bare-https', 'bench/bare-https-undici.mjs', { TARGET: b.http, CERT: path.join(b.certs, 'wrong.pem') }, 'https');
    const bareIr = await count(dir, 'bare-https', bare.child, bare.url);
    const g = await tlsGatehouse(dir, b);
    const ghIr = await count(dir, 'tls', g.child, `https://127.0.0.1:${g.ports.GATEHOUSE_BENCH_PORT}`);
    return [['bare-https-undici (S2)', bareIr], ['gatehouse-tls-nolog (S2)', ghIr]];
  },
  async passthrough(dir, b) {
    const bare = await script(dir, 'bare-pipe', 'bench/bare-pipe.mjs', { TARGET: b.tls }, 'https');
    const bareIr = await count(dir, 'bare-pipe', bare.child, bare.url);
    const g = await tlsGatehouse(dir, b, 'pass');
    const ghIr = await count(dir, 'pass', g.child, `https://127.0.0.1:${g.ports.GATEHOUSE_BENCH_PASS_PORT}`);
    return [['bare-pipe (S4)', bareIr], ['gatehouse-passthrough (S4)', ghIr]];
  },
};

function tlsGatehouse(dir, b, name = 'tls') {
  return gatehouse(dir, name, 'bench/gatehouse-tls.json', ['GATEHOUSE_BENCH_PORT', 'GATEHOUSE_BENCH_PASS_PORT'], {
    GATEHOUSE_BENCH_BACKEND: b.http,
    GATEHOUSE_BENCH_TLS_BACKEND: b.tls,
    GATEHOUSE_BENCH_CERTS: b.certs,
    GATEHOUSE_BENCH_STATE: mkdtempSync(path.join(dir, 'state-')),
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-cg-'));
try {
  const certs = mkdtempSync(path.join(dir, 'certs-'));
  copyFileSync(path.join(root, 'test/fixtures/certs/wrong.pem'), path.join(certs, 'wrong.pem'));
  const httpChild = start(0, ['bench/backend.mjs']);
  const tlsChild = start(0, ['bench/tls-backend.mjs']);
  const keep = new Set([httpChild.pid, tlsChild.pid]);
  const backends = { http: `http://127.0.0.1:${await waitListening(httpChild)}`, tls: `127.0.0.1:${await waitListening(tlsChild)}`, certs };
  console.log(`| variant | instructions/request (${requests} after ${warmup}, ${connections} connections) |`);
  console.log('|---|---|');
  const names = process.argv.slice(2);
  for (const name of names.length ? names : Object.keys(GROUPS)) {
    if (!GROUPS[name]) throw new Error(`unknown group ${name}; known: ${Object.keys(GROUPS).join(', ')}`);
    for (const [variant, ir] of await GROUPS[name](dir, backends)) console.log(`| ${variant} | ${(ir / 1000).toFixed(1)} k |`);
    await stopAll({ keep }); // a group's targets stop before the next group's start; the backends stay
  }
} catch (err) {
  console.error('instructions failed:', err);
  process.exitCode = 1;
} finally {
  await stopAll();
  // KEEP=dir: the callgrind files are copied there first (for callgrind_annotate).
  if (process.env.KEEP) {
    mkdirSync(process.env.KEEP, { recursive: true });
    for (const f of readdirSync(dir).filter((n) => n.includes('.cg'))) copyFileSync(path.join(dir, f), path.join(process.env.KEEP, f));
  }
  rmSync(dir, { recursive: true, force: true });
}
