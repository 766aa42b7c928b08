/**
 * bcrypt off the event loop. bcryptjs is pure JavaScript: even its "async" API computes a cost-10 hash in one
 * ~60 ms slice on the calling thread, so every password check would stall every other request of the proxy.
 * Checks go instead to one worker thread (started on first use, unref'd so it never holds the process open);
 * basic-auth.ts bounds how many are outstanding. One worker, because the machines gatehouse runs on have few
 * cores and the proxy itself needs one.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const BCRYPTJS = createRequire(import.meta.url).resolve('bcryptjs');

// An eval'd CommonJS worker, so the same code runs from src/ (tests) and dist/ (the CLI) with no extra file to ship.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const bcrypt = require(${JSON.stringify(BCRYPTJS)});
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash); } catch { ok = false; }
  parentPort.postMessage({ id, ok });
});
`;

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (ok: boolean) => void; reject: (err: Error) => void }>();

function start(): Worker {
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.unref();
  w.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
    const p = pending.get(id);
    pending.delete(id);
    p?.resolve(ok);
  });
  const fail = (err: Error): void => {
    worker = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`bcrypt worker exited with code ${code}`)));
  return w;
}

/** Resolves whether `password` matches the bcrypt `hash`, computed on the worker thread. Rejects if the worker dies. */
export function bcryptCompare(password: string, hash: string): Promise<boolean> {
  worker ??= start();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker!.postMessage({ id, password, hash });
  });
}
