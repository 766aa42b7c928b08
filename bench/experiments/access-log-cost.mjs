// Where does the access log's CPU go? Compares, in interleaved rounds, gatehouse with the access log off, with lines
// built and dropped, and written to stdout (a pipe read by this process, or /dev/null). Reports user and system
// CPU µs per request and context switches per request of the proxy process.
// Usage: npm run build && node bench/experiments/access-log-cost.mjs   env: SECONDS_PER_RUN (4), ROUNDS (3), ONLY
import { compare, freePort, startNode, withChildren } from './harness.mjs';

const seconds = Number(process.env.SECONDS_PER_RUN ?? 4);
const rounds = Number(process.env.ROUNDS ?? 3);

async function target(backend, variant, stdout) {
  const port = await freePort();
  return startNode(1, ['bench/experiments/access-log-target.mjs'], {
    env: { PORT: String(port), TARGET: backend, ACCESS_LOG_VARIANT: variant },
    stdout,
    port,
  });
}

await withChildren(async () => {
  const backend = (await startNode(0, ['bench/backend.mjs'])).url;
  const only = process.env.ONLY?.split(',');
  const all = [
    ['off', 'off', 'pipe'],
    ['discard', 'discard', 'pipe'],
    ['stdout pipe', 'stdout', 'pipe'],
    ['stdout /dev/null', 'stdout', 'null'],
  ];
  const variants = [];
  for (const [name, variant, stdout] of all.filter(([name]) => !only || only.includes(name))) {
    variants.push({ name, target: await target(backend, variant, stdout) });
  }
  await compare(variants, { urlPath: '/small', seconds, rounds });
});
