/**
 * A loopback port whose connects hang: what a backend behind a dropping firewall looks like, without leaving
 * loopback. A child process listens with a backlog of 1 and then blocks its event loop, so it never accepts;
 * filler connections fill its accept queue, after which Linux drops further SYNs (tcp_conn_request: accept
 * queue full → drop) and a connect to it neither succeeds nor fails until the client gives up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/** A port that never completes a connect, until `close()`. */
export interface Blackhole {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

const CHILD = `
const s = require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(s.address().port + '\\n');
  // Block for at most 60 s; the test kills us by PID long before.
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000), 20);
});`;

const FILL_MAX = 8;

/** Start a blackhole; rejects if the accept queue cannot be filled within a few connects. */
export async function startBlackhole(): Promise<Blackhole> {
  const child: ChildProcess = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  const close = async (): Promise<void> => {
    for (const s of fillers) s.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('blackhole child did not report its port within 5 s')), 5000);
      child.stdout!.once('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve(Number(String(d).trim()));
      });
    });
    await new Promise((r) => setTimeout(r, 100)); // let the child block before the fillers arrive
    for (let i = 0; i < FILL_MAX; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      fillers.push(s);
      const connected = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 250);
        s.once('connect', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!connected) return { port, address: `127.0.0.1:${port}`, close };
    }
    throw new Error(`blackhole: ${FILL_MAX} connects all completed; the accept queue never filled`);
  } catch (err) {
    await close();
    throw err;
  }
}
