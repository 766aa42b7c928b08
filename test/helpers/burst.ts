/**
 * Many requests to one gatehouse entry point, a few at a time over keep-alive connections: for distribution tests
 * (weights, canaries, mirrors) and for load while an upstream is killed. A request that fails or is cut off
 * mid-response is recorded with status 0 and the reason, never thrown.
 */
import { Agent, request } from 'node:http';

/** One request's outcome. */
export interface BurstReply {
  status: number;
  text: string;
  /** Date.now() when the request was sent. */
  startedAt: number;
  /** Set when the request failed (status 0). */
  error?: string;
}

export interface BurstOptions {
  method?: string;
  body?: string;
  /** Stop sending once this returns true (checked before each request). */
  until?: () => boolean;
  /** Push replies here as they come (to read them while the burst runs). */
  out?: BurstReply[];
}

/** `n` requests to `host` on `port`, `concurrency` at a time; replies in the order they completed. Bounded: 5 s each. */
export async function burst(port: number, host: string, n: number, concurrency: number, opts: BurstOptions = {}): Promise<BurstReply[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const out = opts.out ?? [];
  let sent = 0;
  const one = (): Promise<BurstReply> =>
    new Promise((resolve) => {
      const startedAt = Date.now();
      const failed = (err: Error) => resolve({ status: 0, text: '', startedAt, error: err.message });
      const req = request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: '/', headers: { host }, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, startedAt }));
        res.on('error', failed);
      });
      req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
      req.on('error', failed);
      req.end(opts.body);
    });
  const worker = async () => {
    while (sent < n && !(opts.until?.() ?? false)) {
      sent++;
      out.push(await one());
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return out;
}
