// Every way gatehouse is launched runs node with V8's young generation capped at Node 20's size (README, "Memory"):
// Node 22+ lets it grow to 128 MB (two 64 MiB semi-spaces) under allocation pressure, which cost +70 MB of RSS under
// 1000 slow readers on Node 24 (issue 20, row 2). V8 reads the flag when the heap is made, so it must be on node's
// command line: the `gatehouse` command's shebang, `npm start`, the container's ENTRYPOINT, the benchmarks.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FLAG = '--max-semi-space-size=16';
const root = join(import.meta.dirname, '..', '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

/** The largest new space a node process with `args` reaches while it allocates short-lived objects, in MiB. */
function newSpaceMaxMiB(args: string[]): number {
  const script = `const v8 = require('node:v8'); let keep = [], max = 0;
for (let i = 0; i < 2e6; i++) {
  keep.push({ a: i, b: 'x' + i });
  if (keep.length > 2e5) keep = [];
  if (i % 5e4 === 0) for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') max = Math.max(max, s.space_size);
}
process.stdout.write(String(max / 1048576));`;
  return Number(execFileSync(process.execPath, [...args, '-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } }));
}

describe('node flags of every launcher', () => {
  it('the gatehouse command, npm start and the container run node with the young generation capped', () => {
    expect(read('src/cli/main.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${FLAG}`);
    expect(JSON.parse(read('package.json')).scripts.start).toBe(`node ${FLAG} dist/cli/main.js start`);
    expect(read('Dockerfile')).toContain(`ENTRYPOINT ["/usr/bin/tini", "--", "node", "${FLAG}", "/app/dist/cli/main.js"]`);
    expect(read('bench/suites.mjs')).toContain(`'${FLAG}', gh, 'start'`);
  });

  it(`${FLAG} holds this node's new space to 32 MiB (two semi-spaces of 16)`, () => {
    expect(newSpaceMaxMiB([FLAG])).toBeLessThanOrEqual(32);
  });
});
