// `npm run bench:reload` (and the `reload` part of `npm run bench`): what a config reload costs.
// 1. Latency: the config file is rewritten (a new response header value) and the time until a request sees the new
//    value is measured, 20 times through the directory watch (file written → new config serving; includes the
//    watch's debounce, lifecycle.reloadDebounce, set to 0 here and to its default 200 ms in a second series) and
//    20 times through SIGHUP.
// 2. Throughput: the same load with and without a reload every 100 ms, in interleaved rounds, as a ratio in the
//    same run. Gatehouse on core 1, backend and load generator on core 0, every process stopped by PID.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load, useWrk } from './load.mjs';
import { GATEHOUSE_NODE_FLAGS, freePort, start, stopAll, waitListening, waitPort } from './processes.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-reload-'));
const file = path.join(dir, 'gatehouse.json');

function config(port, backend, generation, debounce) {
  return {
    log: { level: 'warn', accessLog: false },
    stateDir: path.join(dir, 'state'),
    lifecycle: { reloadDebounce: debounce },
    entryPoints: { web: { address: `127.0.0.1:${port}` } },
    http: {
      routers: { all: { rule: 'PathPrefix(`/`)', service: 'backend', middlewares: ['stamp'] } },
      middlewares: { stamp: { headers: { customResponseHeaders: { 'x-generation': String(generation) } } } },
      services: { backend: { loadBalancer: { servers: [{ url: `http://${backend}` }] } } },
    },
  };
}

function generationSeen(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/small', agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.headers['x-generation']));
    });
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

async function untilGeneration(port, generation, timeoutMs = 10_000) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if ((await generationSeen(port)) === String(generation)) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`generation ${generation} not served within ${timeoutMs} ms`);
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: s[Math.floor((s.length - 1) / 2)], max: s[s.length - 1], min: s[0] };
};

async function main() {
  const backendChild = start(0, ['bench/backend.mjs']);
  const backend = `127.0.0.1:${await waitListening(backendChild)}`;
  const port = await freePort();
  let generation = 0;
  let debounce = '0';
  const write = () => writeFileSync(file, JSON.stringify(config(port, backend, ++generation, debounce)));
  write();
  const gh = start(1, [...GATEHOUSE_NODE_FLAGS, 'dist/cli/main.js', 'start', '--config', file]);
  gh.stdout.resume();
  await waitPort(port, gh);
  await untilGeneration(port, generation);

  const series = {};
  for (const [name, how, wait] of [
    ['watch, debounce 0', 'watch', '0'],
    ['watch, debounce 200ms (default)', 'watch', '200ms'],
    ['SIGHUP', 'signal', '0'],
  ]) {
    if (debounce !== wait) {
      debounce = wait;
      write();
      process.kill(gh.pid, 'SIGHUP');
      await untilGeneration(port, generation);
    }
    const times = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      write();
      if (how === 'signal') process.kill(gh.pid, 'SIGHUP');
      await untilGeneration(port, generation);
      times.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
    series[name] = stats(times);
  }

  // Throughput with and without a reload every 100 ms (SIGHUP, each one a new generation), interleaved rounds.
  const runs = { quiet: [], reloading: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const mode of ['quiet', 'reloading']) {
      let reloads = 0;
      const timer =
        mode === 'reloading'
          ? setInterval(() => {
              write();
              process.kill(gh.pid, 'SIGHUP');
              reloads++;
            }, 100)
          : undefined;
      const r = await load(`http://127.0.0.1:${port}/small`, duration);
      clearInterval(timer);
      runs[mode].push({ rps: r.requests.average, errors: r.errors + r.timeouts + r.non2xx, reloads });
      console.error(`  reload round ${round}: ${mode}: ${Math.round(r.requests.average)} req/s, ${r.errors + r.timeouts + r.non2xx} errors${timer ? `, ${reloads} reloads` : ''}`);
    }
  }
  const best = (xs) => xs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const q = best(runs.quiet);
  const l = best(runs.reloading);

  console.log('\n### Config reload\n');
  console.log('| reload path | file written → new config serving: p50 ms | min | max |');
  console.log('|---|---|---|---|');
  for (const [name, s] of Object.entries(series)) console.log(`| ${name} | ${s.p50.toFixed(1)} | ${s.min.toFixed(1)} | ${s.max.toFixed(1)} |`);
  console.log(`\n| load (${useWrk ? 'wrk' : 'autocannon'}, ${duration}s, best of ${rounds}) | req/s | errors | rounds |`);
  console.log('|---|---|---|---|');
  console.log(`| no reloads | ${Math.round(q.rps)} | ${q.errors} | ${runs.quiet.map((r) => Math.round(r.rps)).join(' ')} |`);
  console.log(`| a reload every 100 ms (${l.reloads} reloads) | ${Math.round(l.rps)} | ${l.errors} | ${runs.reloading.map((r) => Math.round(r.rps)).join(' ')} |`);
  console.log(`\nthroughput during reloads: ${(l.rps / q.rps).toFixed(2)}× the same run without reloads`);
}

try {
  await main();
} catch (err) {
  console.error('bench reload failed:', err);
  process.exitCode = 1;
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
