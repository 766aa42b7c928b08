import { afterAll, describe, expect, it } from 'vitest';
import { closeAllUpstreams, refusedPort, startHttpUpstream } from '../../test/helpers/upstreams.js';
import { askPeers, MAX_PEER_ANSWER_BYTES } from './http-peers.js';
import type { Peer } from './peers.js';

const TOKEN = 'peerTokenpeerTokenpeerToken0123456789-_abc';

afterAll(async () => {
  await closeAllUpstreams();
});

const peer = (httpPort: number): Peer => ({ host: '127.0.0.1', httpPort, tlsPort: 1 });

describe('asking the peers for an http-01 token', () => {
  it.each<[string, number, string]>([
    ['an answer over 4 KiB is not relayed', MAX_PEER_ANSWER_BYTES + 1, 'answer too large'],
    ['an answer of exactly 4 KiB is', MAX_PEER_ANSWER_BYTES, 'answered'],
  ])('%s', async (_d, size, outcome) => {
    const big = await startHttpUpstream((_req, res) => res.end('x'.repeat(size)));
    const walk = await askPeers({ peers: [peer(big.port)], timeoutMs: 1_000 }, () => false, TOKEN, 'rr.lab.test', () => false);
    expect(walk.tried.map((t) => t.outcome)).toEqual([outcome]);
    expect(walk.answer?.body.length).toBe(outcome === 'answered' ? size : undefined);
  });

  it('a refused peer and a 500 move on to the next; the first 200 ends the walk', async () => {
    const failing = await startHttpUpstream((_req, res) => res.writeHead(500).end());
    const answering = await startHttpUpstream((req, res) => res.end(`${req.headers.host} ${req.url}`));
    const never = await startHttpUpstream((_req, res) => res.end('never asked'));
    const walk = await askPeers(
      { peers: [peer(await refusedPort()), peer(failing.port), peer(answering.port), peer(never.port)], timeoutMs: 1_000 },
      () => false,
      TOKEN,
      'rr.lab.test:5002',
      () => false,
    );
    expect(walk.tried.map((t) => t.outcome)).toEqual(['ECONNREFUSED', 'HTTP 500', 'answered']);
    expect(walk.answer?.peer).toBe(`127.0.0.1:${answering.port}`);
    expect(walk.answer?.body.toString()).toBe(`rr.lab.test:5002 /.well-known/acme-challenge/${TOKEN}`);
    expect(never.requests).toHaveLength(0);
  });

  it('stops asking once the CA has hung up', async () => {
    const a = await startHttpUpstream((_req, res) => res.writeHead(404).end());
    let stopped = false;
    const walk = await askPeers({ peers: [peer(a.port), peer(a.port)], timeoutMs: 1_000 }, () => false, TOKEN, 'x', () => {
      const was = stopped;
      stopped = true;
      return was;
    });
    expect(walk.tried).toHaveLength(1);
  });
});
