/** How many worker processes a config asks for (issue 21): `workers` as a number, or `auto` for every usable core. */
import { availableParallelism } from 'node:os';
import { DEFAULTS, type Config } from '../config/index.js';

/**
 * The number of processes that serve the entry points: 1 means the single process of old (no primary, no cluster).
 * `auto` is os.availableParallelism(): the cores this process may run on (its CPU affinity, a container's cpuset),
 * not the machine's.
 */
export function workerCount(config: Config): number {
  const wanted = config.workers ?? DEFAULTS.workers;
  return wanted === 'auto' ? availableParallelism() : wanted;
}
