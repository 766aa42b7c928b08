import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryChallengeRegistry } from '../challenges/index.js';
import { entryPointSettings } from '../edge/entry-point.js';
import { listenHttp, type Listener } from '../edge/http-listener.js';
import { createLogger } from '../log.js';
import { chainHooks, createAcmeResponder } from './acme-responder.js';
import { createHttpsRedirect } from './https-redirect.js';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTH = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
let listener: Listener;

beforeAll(async () => {
  const registry = createMemoryChallengeRegistry();
  registry.putHttp(TOKEN, KEY_AUTH);
  const hook = chainHooks(createAcmeResponder(registry), createHttpsRedirect({ permanent: true, port: () => 8443 }));
  listener = await listenHttp(entryPointSettings('web', { address: '127.0.0.1:0' }), '127.0.0.1:0', { routes: () => [] }, createLogger({ level: 'silent' }), false, hook);
});

afterAll(async () => {
  await listener?.close(0);
});

function send(method: string, path: string): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: listener.address().port, method, path, headers: { host: 'a.lab.test:5002' }, agent: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('ACME http-01 responder (entry hook before the redirect)', () => {
  it.each<[string, string, string, number, string]>([
    ['a pending token: the key authorization, bare', 'GET', `/.well-known/acme-challenge/${TOKEN}`, 200, KEY_AUTH],
    ['HEAD of a pending token: no body', 'HEAD', `/.well-known/acme-challenge/${TOKEN}`, 200, ''],
    ['an unknown token falls through to the routers (404 here), never redirected', 'GET', '/.well-known/acme-challenge/unknownTokenunknownToken', 404, 'Not Found\n'],
    ['POST of a pending token is not answered', 'POST', `/.well-known/acme-challenge/${TOKEN}`, 404, 'Not Found\n'],
    ['a token that is not base64url is not looked up', 'GET', `/.well-known/acme-challenge/${TOKEN}.x`, 404, 'Not Found\n'],
    ['a token too short is not looked up', 'GET', '/.well-known/acme-challenge/abc', 404, 'Not Found\n'],
  ])('%s', async (_d, method, path, status, body) => {
    const res = await send(method, path);
    expect(res.status).toBe(status);
    if (status === 404) expect(res.body).toMatch(/not found/i);
    else expect(res.body).toBe(body);
  });

  it('any other path is redirected by the next hook', async () => {
    const res = await send('GET', '/x');
    expect(res.status).toBe(301);
    expect(res.location).toBe('https://a.lab.test:8443/x');
  });
});
