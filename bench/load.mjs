// The load generator: one wrk run (autocannon where wrk is missing or BENCH_LOADGEN=autocannon) in its own
// process on core 0, returning the autocannon-shaped fields the tables need. `headers` go on every request
// (`Connection: close` makes each request a new connection: with https://, a full TLS handshake).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { root, spawnPinned, start, stop } from './processes.mjs';

/** How many connections each run keeps open (BENCH_CONNECTIONS, 50). */
export const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

const hasWrk = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return err.status === 1; // wrk --version prints its banner and exits 1
  }
})();

/** Whether wrk is the load generator of this run (it leaves more of core 0 to the backend than autocannon). */
export const useWrk = hasWrk && process.env.BENCH_LOADGEN !== 'autocannon';

/** Connection loops of the handshake load generator (BENCH_HANDSHAKE_CONNECTIONS, 16). */
const handshakeConnections = Number(process.env.BENCH_HANDSHAKE_CONNECTIONS ?? 16);

/**
 * One load run of `seconds` against `url` with `connections` connections and the extra `headers` ("Name: value").
 * `handshakes` ('full' or 'resumed') runs bench/handshake-load.mjs instead: a new TLS connection per request, with or
 * without offering the previous session.
 */
export function load(url, seconds, headers = [], handshakes = undefined) {
  if (handshakes) return handshakeLoad(url, seconds, handshakes === 'resumed');
  return useWrk ? wrk(url, seconds, headers) : autocannon(url, seconds, headers);
}

function handshakeLoad(url, seconds, resume) {
  const child = start(0, [path.join(root, 'bench/handshake-load.mjs'), url, String(seconds), String(handshakeConnections), resume ? '1' : '0']);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => stop(child), (seconds + 30) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`handshake-load exited ${code}: ${child.stderrText}`));
      }
    });
  });
}

function wrk(url, seconds, headers) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  const child = spawnPinned(0, 'wrk', args);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => stop(child), (seconds + 30) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const num = (re) => Number(re.exec(out)?.[1] ?? NaN);
      const ms = (re) => {
        const m = re.exec(out);
        if (!m) return NaN;
        const v = Number(m[1]);
        return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
      };
      const total = num(/(\d+) requests in/);
      if (!Number.isFinite(total)) return reject(new Error(`wrk exited ${code}: ${out} ${child.stderrText}`));
      const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        requests: { average: num(/Requests\/sec:\s+([\d.]+)/), total },
        latency: { p50: ms(/ 50%\s+([\d.]+)(us|ms|s)/), p99: ms(/ 99%\s+([\d.]+)(us|ms|s)/) },
        errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
        timeouts: 0,
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
        duration: seconds,
      });
    });
  });
}

function autocannon(url, seconds, headers) {
  const bin = path.join(root, 'node_modules/autocannon/autocannon.js');
  const child = start(0, [bin, '-j', '-c', String(connections), '-d', String(seconds), ...headers.flatMap((h) => ['-H', h]), url]);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => stop(child), (seconds + 30) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`autocannon exited ${code}: ${child.stderrText}`));
      }
    });
  });
}
