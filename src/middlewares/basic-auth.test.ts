import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { httpRequest } from '../../test/helpers/raw-http.js';
import { closeMiddlewareServers, startMiddlewareServer } from '../../test/helpers/middleware-server.js';
import { GatehouseError } from '../errors.js';
import { CheckQueue, MAX_RUNNING, MAX_WAITING, createBasicAuth, parseBasic } from './basic-auth.js';
import { decoyCheck, parseHtpasswd, parseLine } from './htpasswd.js';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/htpasswd/users.htpasswd', import.meta.url));
const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
afterAll(closeMiddlewareServers);

describe('htpasswd lines (made by the real htpasswd tool)', () => {
  const users = parseHtpasswd(readFileSync(FIXTURE, 'utf8'));
  it.each([
    ['bcrypt $2y$, right password', 'alice', 'alice-secret', true],
    ['bcrypt $2y$, wrong password', 'alice', 'alice-secreT', false],
    ['apr1, right password', 'bob', 'bob-secret', true],
    ['apr1, wrong password', 'bob', 'nope', false],
    ['{SHA}, right password', 'carol', 'carol-secret', true],
    ['{SHA}, wrong password', 'carol', '', false],
  ])('%s', async (_d, user, pw, ok) => {
    expect(await users.get(user)!.check(pw)).toBe(ok);
  });

  it.each([
    ['no colon', 'alice'],
    ['DES crypt', 'dave:abJnggxhB/yWI'],
    ['plain text', 'erin:secret'],
    ['truncated bcrypt', 'frank:$2y$05$short'],
  ])('refuses %s', (_d, line) => {
    expect(() => parseLine(line)).toThrow();
  });

  it('reads $2a$ and $2b$ hashes too', async () => {
    const hash = bcrypt.hashSync('pw', 4);
    expect(await parseLine(`u:${hash.replace('$2b$', '$2a$')}`)[1].check('pw')).toBe(true);
    expect(await parseLine(`u:${hash}`)[1].check('pw')).toBe(true);
  });

  it('decoy checks cost bcrypt time and never match', async () => {
    const decoy = decoyCheck(8);
    const t0 = performance.now();
    expect(await decoy.check('anything')).toBe(false);
    const decoyMs = performance.now() - t0;
    const real = parseLine(`u:${bcrypt.hashSync('pw', 8)}`)[1];
    const t1 = performance.now();
    await real.check('wrong');
    const realMs = performance.now() - t1;
    expect(decoyMs).toBeGreaterThan(realMs / 4);
  });
});

describe('parseBasic', () => {
  it.each([
    ['a normal header', basic('a', 'b:c'), { user: 'a', password: 'b:c' }],
    ['a lower-case scheme', `basic ${Buffer.from('x:y').toString('base64')}`, { user: 'x', password: 'y' }],
    ['a Bearer token', 'Bearer abc', undefined],
    ['no colon', `Basic ${Buffer.from('xy').toString('base64')}`, undefined],
    ['nothing', undefined, undefined],
  ])('%s', (_d, header, expected) => {
    expect(parseBasic(header)).toEqual(expected);
  });
});

describe('basicAuth over HTTP', () => {
  const PATH = '/http/middlewares/auth/basicAuth';
  it.each([
    ['right bcrypt user', { authorization: basic('alice', 'alice-secret') }, '/', 200],
    ['right apr1 user', { authorization: basic('bob', 'bob-secret') }, '/', 200],
    ['inline user', { authorization: basic('inline', 'pw') }, '/', 200],
    ['wrong password', { authorization: basic('alice', 'x') }, '/', 401],
    ['unknown user', { authorization: basic('mallory', 'alice-secret') }, '/', 401],
    ['no header', {}, '/', 401],
    ['ACME challenge GET without credentials', {}, '/.well-known/acme-challenge/tok', 200],
  ])('%s → %i', async (_d, headers, path, status) => {
    const inline = `inline:${bcrypt.hashSync('pw', 4)}`;
    const srv = await startMiddlewareServer(createBasicAuth({ usersFile: FIXTURE, users: [inline], realm: 'lab', removeHeader: true }, PATH));
    const res = await httpRequest(srv.port, { path, headers });
    expect(res.status).toBe(status);
    if (status === 401) expect(res.headers['www-authenticate']).toBe('Basic realm="lab"');
    if (status === 200) expect(JSON.parse(res.text).headers.authorization).toBeUndefined();
  });

  it('POST to the ACME path still needs credentials', async () => {
    const srv = await startMiddlewareServer(createBasicAuth({ usersFile: FIXTURE }, PATH));
    expect((await httpRequest(srv.port, { method: 'POST', path: '/.well-known/acme-challenge/x', body: 'x' })).status).toBe(401);
  });

  it('keeps the Authorization header unless removeHeader', async () => {
    const srv = await startMiddlewareServer(createBasicAuth({ usersFile: FIXTURE }, PATH));
    const res = await httpRequest(srv.port, { headers: { authorization: basic('carol', 'carol-secret') } });
    expect(JSON.parse(res.text).headers.authorization).toBe(basic('carol', 'carol-secret'));
  });

  it('remembers a success: the second request skips bcrypt', async () => {
    const slow = `slow:${bcrypt.hashSync('pw', 11)}`;
    const srv = await startMiddlewareServer(createBasicAuth({ users: [slow] }, PATH));
    const headers = { authorization: basic('slow', 'pw') };
    const t0 = performance.now();
    expect((await httpRequest(srv.port, { headers })).status).toBe(200);
    const first = performance.now() - t0;
    const t1 = performance.now();
    expect((await httpRequest(srv.port, { headers })).status).toBe(200);
    const second = performance.now() - t1;
    expect(second).toBeLessThan(first / 3);
  });

  it('answers 429 without hashing when too many checks are queued', async () => {
    const slow = `slow:${bcrypt.hashSync('pw', 8)}`;
    const srv = await startMiddlewareServer(createBasicAuth({ users: [slow] }, PATH));
    // Connect first, then send every request in one tick, so they reach the server together as a flood would.
    const sockets = await Promise.all(Array.from({ length: 50 }, () => connected(srv.port)));
    const replies = sockets.map(
      (s) =>
        new Promise<string>((resolve) => {
          let text = '';
          s.setEncoding('latin1').on('data', (c: string) => (text += c));
          s.on('close', () => resolve(text));
        }),
    );
    sockets.forEach((s, i) => s.write(`GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\nauthorization: ${basic('slow', `guess${i}`)}\r\n\r\n`));
    const statuses = (await Promise.all(replies)).map((t) => Number(t.slice(9, 12)));
    // Slots free up as checks finish, so a few more than the bound may be hashed; never all 50.
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(MAX_RUNNING + MAX_WAITING);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
  });

  it.each([
    ['an unreadable usersFile', { usersFile: '/nonexistent/htpasswd' }, `${PATH}/usersFile`],
    ['an unsupported inline hash', { users: ['a:plain'] }, `${PATH}/users/0`],
    ['no users at all', { users: [] }, PATH],
  ])('refuses %s at load with its path', (_d, spec, path) => {
    try {
      createBasicAuth(spec, PATH);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(GatehouseError);
      expect((err as GatehouseError).code).toBe('MIDDLEWARE_CONFIG');
      expect((err as GatehouseError).location.path).toBe(path);
    }
  });
});

describe('CheckQueue', () => {
  it('runs maxRunning at once, queues maxWaiting, refuses the rest', async () => {
    const q = new CheckQueue(1, 1);
    const a = q.acquire();
    const b = q.acquire();
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(q.acquire()).toBeUndefined();
    (await a!)();
    const releaseB = await b!;
    expect(q.acquire()).toBeDefined();
    releaseB();
  });
});

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
    s.setTimeout(20_000, () => s.destroy());
  });
}
