import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { contentHash, watchConfig, type ConfigWatch } from './watch-config.js';

const log = createLogger({ level: 'silent' });
let watch: ConfigWatch | undefined;
afterEach(() => watch?.close());

async function until(done: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(text: string, pollMs = 0) {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-watch-'));
  const file = join(dir, 'config.json');
  await writeFile(file, text);
  const changes: number[] = [];
  watch = watchConfig({ file, debounceMs: () => 50, pollMs, log, onChange: async () => void changes.push(Date.now()) }, contentHash(text));
  return { dir, file, changes };
}

describe('config watch', () => {
  it('a burst of writes gives one reload after the debounce', async () => {
    const { file, changes } = await setup('{"a":1}');
    for (let i = 2; i < 8; i++) await writeFile(file, `{"a":${i}}`);
    await until(() => changes.length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(changes).toHaveLength(1);
  });

  it('a rename over the file is seen, and again for the next one (the watch is on the directory)', async () => {
    const { file, changes } = await setup('{"a":1}');
    for (let i = 2; i <= 3; i++) {
      await writeFile(`${file}.tmp`, `{"a":${i}}`);
      await rename(`${file}.tmp`, file);
      await until(() => changes.length === i - 1);
    }
  });

  it('same content, another file in the directory, or the file briefly gone: no reload', async () => {
    const { dir, file, changes } = await setup('{"a":1}');
    await writeFile(file, '{"a":1}');
    await writeFile(join(dir, 'other.json'), 'x');
    await rm(file);
    await new Promise((r) => setTimeout(r, 300));
    expect(changes).toHaveLength(0);
    await writeFile(file, '{"a":2}');
    await until(() => changes.length === 1);
  });

  it('the poll finds a change the watch did not report', async () => {
    const { file, changes } = await setup('{"a":1}', 100);
    watch!.setLoaded(contentHash('{"a":0}')); // as if the running config came from other content
    await until(() => changes.length === 1);
    expect(file).toBeTruthy();
  });
});
