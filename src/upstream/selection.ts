/**
 * Selection policies: which usable server gets the next request. Each pick is O(servers), allocation-free, and
 * skips servers that are down or already tried by this request (the `tried` bit mask, see UpstreamServer.bit).
 */
import { isUsable, type UpstreamServer } from './upstream-server.js';

/** Picks a server among those usable at `now` and not in `tried`, or undefined when there is none. */
export interface SelectionPolicy {
  pick(tried: number, now: number): UpstreamServer | undefined;
}

/** The strategies a load balancer can be configured with. */
export type Strategy = 'roundRobin' | 'leastConnections';

/**
 * Smooth weighted round robin, as nginx does it (ngx_http_upstream_get_peer): every pick adds each server's weight
 * to its running weight, takes the largest, and subtracts the total from the winner. Weights 5/1/1 give
 * a a b a c a a rather than a a a a a b c, and equal weights give plain rotation. A server that is skipped (down,
 * tried) does not accumulate, so it does not come back with a burst.
 */
export class SmoothWeightedRoundRobin implements SelectionPolicy {
  readonly #servers: readonly UpstreamServer[];

  constructor(servers: readonly UpstreamServer[]) {
    this.#servers = servers;
  }

  pick(tried: number, now: number): UpstreamServer | undefined {
    const servers = this.#servers;
    let best: UpstreamServer | undefined;
    let total = 0;
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i] as UpstreamServer;
      if ((tried & s.bit) !== 0 || !isUsable(s, now)) continue;
      s.currentWeight += s.weight;
      total += s.weight;
      if (best === undefined || s.currentWeight > best.currentWeight) best = s;
    }
    if (best !== undefined) best.currentWeight -= total;
    return best;
  }
}

/**
 * Fewest requests in flight relative to weight (nginx's least_conn): `a.inFlight / a.weight` compared by cross
 * multiplication, so no division. The scan starts one further each pick, so ties rotate instead of always
 * landing on the first server.
 */
export class LeastConnections implements SelectionPolicy {
  readonly #servers: readonly UpstreamServer[];
  #start = 0;

  constructor(servers: readonly UpstreamServer[]) {
    this.#servers = servers;
  }

  pick(tried: number, now: number): UpstreamServer | undefined {
    const servers = this.#servers;
    const n = servers.length;
    const start = this.#start;
    this.#start = start + 1 >= n ? 0 : start + 1;
    let best: UpstreamServer | undefined;
    for (let k = 0; k < n; k++) {
      const i = start + k < n ? start + k : start + k - n;
      const s = servers[i] as UpstreamServer;
      if ((tried & s.bit) !== 0 || !isUsable(s, now)) continue;
      if (best === undefined || s.inFlight * best.weight < best.inFlight * s.weight) best = s;
    }
    return best;
  }
}

/** The policy object for a strategy name. */
export function createPolicy(strategy: Strategy, servers: readonly UpstreamServer[]): SelectionPolicy {
  return strategy === 'leastConnections' ? new LeastConnections(servers) : new SmoothWeightedRoundRobin(servers);
}
