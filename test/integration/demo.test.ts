/** `npm start` with no config: the embedded demo answers without any backend. */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN_JS } from '../helpers/gatehouse-process.js';
import { parseLogLine } from '../helpers/log-lines.js';
import { httpRequest } from '../helpers/raw-http.js';

let pid: number | undefined;
afterEach(() => {
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pid = undefined;
});

describe('the embedded demo config', () => {
  it('starts with no config file, says what to open, and answers on its routes', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, GATEHOUSE_DEMO_ADDRESS: '127.0.0.1:0' };
    delete env['GATEHOUSE_CONFIG'];
    const child = spawn(process.execPath, [MAIN_JS, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    pid = child.pid;
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start within 10 s; stderr: ${stderr}`)), 10_000);
      let buf = '';
      child.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        for (const line of buf.split('\n').slice(0, -1)) {
          const l = parseLogLine(line);
          if (l && l['msg'] === 'entry point listening') {
            clearTimeout(timer);
            resolve(l['port'] as number);
          }
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
    });
    const home = await httpRequest(port, { path: '/' });
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toMatch(/text\/html/);
    expect(home.text).toContain('gatehouse is running');
    expect((await httpRequest(port, { path: '/health' })).text).toBe('ok\n');
    const go = await httpRequest(port, { path: '/go', host: 'demo.test:1234' });
    expect(go.status).toBe(302);
    expect(go.headers['location']).toBe('http://demo.test:1234/');
    expect(stderr).toContain(`Open http://localhost:${port}/`);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  });
});
