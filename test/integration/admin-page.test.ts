/**
 * The status page in a real headless Chromium (Debian `chromium`; test/helpers/chromium.ts installs it when missing
 * and root): it loads, shows a file certificate's days left and a disabled router's reason, and logs no console
 * error. A control page with a console error proves the check sees one.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatehouse, type Gatehouse } from '../../src/api.js';
import { createLogger } from '../../src/log.js';
import { chromiumBinary, loadPage } from '../helpers/chromium.js';

const CERT = new URL('../fixtures/certs/wrong.pem', import.meta.url).pathname;
let dir: string;
let gh: Gatehouse;
let control: Server;

beforeAll(async () => {
  chromiumBinary(); // installs it (root) or fails saying how, before anything else starts
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-admin-page-'));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: join(dir, 'state'),
      admin: { address: '127.0.0.1:0' },
      entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
      tls: { certificates: [{ certFile: CERT, keyFile: CERT }], certsDir: join(dir, 'certs') },
      http: {
        routers: {
          app: { rule: 'Host(`app.test`)', respond: { body: 'hi' } },
          broken: { rule: 'Host(`broken.test`)', service: 'nowhere' },
        },
      },
    }),
  );
  gh = createGatehouse({ config: file, logger: createLogger({ level: 'silent' }), env: {} });
  await gh.start();
  control = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>c</title><script>console.error("control error")</script>'));
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
}, 900_000);

afterAll(async () => {
  await gh?.stop({ graceMs: 500 });
  await new Promise<void>((r) => (control ? control.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('status page in headless Chromium', () => {
  it('loads on a phone-sized window, shows the certificate days left, and logs no console error', async () => {
    const port = gh.status().admin!.port;
    const page = await loadPage(`http://127.0.0.1:${port}/`);
    const daysLeft = Math.floor((Date.parse('2046-11-18T13:20:27Z') - Date.now()) / 86_400_000);
    expect(page.dom).toContain('<title>gatehouse status</title>');
    expect(page.dom).toContain('right.example');
    expect(page.dom).toContain(`${daysLeft} days left`);
    expect(page.dom).toMatch(/disabled: [^<]*nowhere/);
    expect(page.console, page.stderr.slice(-2000)).toEqual([]);
  }, 90_000);

  it('sees a console error on a page that has one (the check above can fail)', async () => {
    const address = control.address() as { port: number };
    const page = await loadPage(`http://127.0.0.1:${address.port}/`);
    expect(page.console.join('\n')).toContain('control error');
  }, 90_000);
});
