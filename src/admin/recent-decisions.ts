/**
 * The last challenge decisions, for the status page: a fixed ring, so a CA (or a scanner) hammering the challenge
 * path costs a bounded amount of memory.
 */
import type { ChallengeDecision } from '../challenges/decision.js';
import type { DecisionView } from './snapshot.js';

/** How many decisions the status page keeps. */
export const RECENT_DECISIONS = 50;

export class RecentDecisions {
  readonly #ring: (DecisionView | undefined)[];
  #next = 0;

  constructor(readonly capacity = RECENT_DECISIONS) {
    this.#ring = new Array<DecisionView | undefined>(capacity).fill(undefined);
  }

  add(decision: ChallengeDecision, now = Date.now()): void {
    this.#ring[this.#next] = { ...decision, at: new Date(now).toISOString() };
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Newest first. */
  list(): DecisionView[] {
    const out: DecisionView[] = [];
    for (let i = 1; i <= this.capacity; i++) {
      const d = this.#ring[(this.#next - i + this.capacity) % this.capacity];
      if (d === undefined) break;
      out.push(d);
    }
    return out;
  }
}
