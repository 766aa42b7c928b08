// Does the access log cost CPU in the proxy because of where stdout goes? gatehouse (dist) with the access log off,
// and on with stdout as a pipe read by this process (as in bench/run.mjs), /dev/null, and a file.
// Usage: node bench/experiments/access-log-sink.mjs  (after npm run build)
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compare, freePort, startNode, withChildren } from './harness.mjs';

const seconds = Number(process.env.SECONDS_PER_RUN ?? 4);
const rounds = Number(process.env.ROUNDS ?? 3);

async function gatehouse(backend, level, stdout) {
  const port = await freePort();
  return startNode(1, ['dist/cli/main.js', 'start', '--config', 'bench/gatehouse.json'], {
    env: { GATEHOUSE_BENCH_PORT: String(port), GATEHOUSE_BENCH_BACKEND: backend, GATEHOUSE_LOG_LEVEL: level },
    stdout,
    port,
  });
}

await withChildren(async () => {
  const backend = (await startNode(0, ['bench/backend.mjs'])).url;
  const only = process.env.ONLY?.split(',');
  const all = [
    { name: 'log off, pipe', make: () => gatehouse(backend, 'warn', 'pipe') },
    { name: 'log on, pipe', make: () => gatehouse(backend, 'info', 'pipe') },
    { name: 'log on, /dev/null', make: () => gatehouse(backend, 'info', 'null') },
    { name: 'log on, file', make: () => gatehouse(backend, 'info', path.join(tmpdir(), `gatehouse-bench-${process.pid}.log`)) },
  ];
  const variants = [];
  for (const v of all.filter((v) => !only || only.includes(v.name))) variants.push({ name: v.name, target: await v.make() });
  await compare(variants, { urlPath: '/small', seconds, rounds });
});
