// 1 MiB responses through each forwarder: proxy CPU per request split into user and system time, context switches
// and (PERF_SYSCALLS=1) syscalls per request, in interleaved rounds.
// Usage: npm run build && PERF_SYSCALLS=1 node bench/experiments/large-body-forwarders.mjs [script...]
//   scripts default to the bare baselines, upstream-only and every bench/experiments/forwarder-*.mjs.
import { readdirSync } from 'node:fs';
import { compare, root, startNode, withChildren } from './harness.mjs';

const seconds = Number(process.env.SECONDS_PER_RUN ?? 4);
const rounds = Number(process.env.ROUNDS ?? 3);
const urlPath = process.env.URL_PATH ?? '/large';

await withChildren(async () => {
  const backend = (await startNode(0, ['bench/backend.mjs'])).url;
  const experiments = readdirSync(`${root}/bench/experiments`).filter((f) => f.startsWith('forwarder-') && f.endsWith('.mjs'));
  const scripts = process.argv.length > 2 ? process.argv.slice(2) : ['bench/bare-undici.mjs', 'bench/bare-http-proxy.mjs', 'bench/upstream-only.mjs', ...experiments.map((f) => `bench/experiments/${f}`)];
  const variants = [];
  // A script may carry environment: `bench/experiments/forwarder-relay-hwm.mjs:RELAY_HWM=262144`
  for (const arg of scripts) {
    const [script, ...envs] = arg.split(':');
    const env = Object.fromEntries(envs.map((e) => e.split('=')));
    const name = script.replace(/^.*\//, '').replace(/\.mjs$/, '') + envs.map((e) => ` ${e}`).join('');
    variants.push({ name, target: await startNode(1, [script], { env: { TARGET: backend, ...env } }) });
  }
  await compare(variants, { urlPath, seconds, rounds });
});
