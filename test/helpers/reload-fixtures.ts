/**
 * What the hot-reload tests (test/integration/reload*.test.ts) share: a fresh state directory, counting a log
 * message, and an in-place edit of a running gatehouse's config file that waits for its reload line.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatehouseProcess } from './gatehouse-process.js';
import { linesWith } from './log-lines.js';
import { until } from './tcp-sockets.js';

/** How many lines with message `msg` the gatehouse has printed so far. */
export function count(gh: GatehouseProcess, msg: string): number {
  return linesWith(gh.logs, msg).length;
}

/** Writes `config` as the new content of the running gatehouse's file and waits for its next reload line. */
export async function edit(gh: GatehouseProcess, config: object | string, expect: 'config reloaded' | 'config reload refused, the running config stays' = 'config reloaded'): Promise<void> {
  const before = count(gh, expect);
  await writeFile(gh.file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  await until(`"${expect}" after the edit`, () => count(gh, expect) > before, 5_000);
}

/** A new empty state directory under the system temp directory. */
export async function stateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'gatehouse-reload-state-'));
}
