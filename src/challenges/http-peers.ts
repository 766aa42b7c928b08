/**
 * Asking the peers for an http-01 token (field note 004): each other instance in turn, at its plain HTTP port, with
 * the CA's Host header and the loop-guard header, until one answers 200. Each peer gets one bounded try (its timeout
 * covers connect, headers and body), so a peer that accepts and hangs costs only its timeout, and the whole walk
 * stays under peers × timeout: well inside the CA's 15 s per validation request.
 */
import { request } from 'node:http';
import { LOOP_GUARD_HEADER, type Peer, type PeerSettings } from './peers.js';

/** A key authorization is a token, a dot and a 43-character thumbprint: 4 KiB is far more than any real answer. */
export const MAX_PEER_ANSWER_BYTES = 4096;

/** One peer asked, and what came of it. */
export interface PeerAttempt {
  /** `host:port` of the peer. */
  readonly peer: string;
  /** `answered`, or why not: `HTTP 404`, `timeout`, `ECONNREFUSED`, `answer too large`, ... */
  readonly outcome: string;
  readonly ms: number;
}

/** The walk over the peers: the answer when one had it, and every attempt made. */
export interface PeerWalk {
  readonly answer: { readonly peer: string; readonly body: Buffer } | undefined;
  readonly tried: readonly PeerAttempt[];
}

/**
 * Asks each peer of `settings` that `isSelf` rejects, in order, for `token`, sending `hostHeader` as Host.
 * `stopped` is checked between peers (the CA hung up: asking on is pointless). Never rejects.
 */
export async function askPeers(
  settings: PeerSettings,
  isSelf: (peer: Peer) => boolean,
  token: string,
  hostHeader: string,
  stopped: () => boolean,
): Promise<PeerWalk> {
  const tried: PeerAttempt[] = [];
  for (const peer of settings.peers) {
    if (isSelf(peer) || stopped()) continue;
    const started = performance.now();
    const result = await askPeer(peer, token, hostHeader, settings.timeoutMs);
    const attempt = { peer: `${peer.host}:${peer.httpPort}`, ms: Math.round(performance.now() - started) };
    if (Buffer.isBuffer(result)) {
      tried.push({ ...attempt, outcome: 'answered' });
      return { answer: { peer: attempt.peer, body: result }, tried };
    }
    tried.push({ ...attempt, outcome: result });
  }
  return { answer: undefined, tried };
}

/** One GET to one peer: the body of a 200, or why there is none. Bounded by `timeoutMs` from start to end. */
function askPeer(peer: Peer, token: string, hostHeader: string, timeoutMs: number): Promise<Buffer | string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Buffer | string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const req = request(
      {
        host: peer.host,
        port: peer.httpPort,
        method: 'GET',
        path: `/.well-known/acme-challenge/${token}`,
        // A fresh connection per try: these are rare, and a pooled socket to a peer that died would only add a failure.
        agent: false,
        headers: { host: hostHeader, [LOOP_GUARD_HEADER]: '1', accept: '*/*', connection: 'close' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          done(`HTTP ${res.statusCode}`);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_PEER_ANSWER_BYTES) done('answer too large');
          else chunks.push(c);
        });
        res.on('end', () => done(Buffer.concat(chunks, size)));
        res.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
      },
    );
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    req.end();
  });
}
