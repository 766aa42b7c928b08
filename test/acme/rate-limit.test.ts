/**
 * A CA's rate limit is obeyed: the first newOrder is answered 429 `rateLimited` with a Retry-After by a stand-in in
 * front of a real Pebble (Pebble cannot be made to rate-limit on demand); gatehouse logs the CA's problem and does
 * not order again before the Retry-After, then gets its certificate from Pebble.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcmeFront, type AcmeFront } from '../helpers/acme-front.js';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.6';
const RETRY_AFTER_S = 3;
// Pebble and its hooks (gatehouses stopped after each test, state removed); the stand-in in front is this file's.
const pebble = usePebble();
let front: AcmeFront;
let limited = 0;

beforeAll(async () => {
  front = await startAcmeFront(pebble, (method, path) => {
    if (method !== 'POST' || path !== '/order-plz' || limited > 0) return undefined;
    limited++;
    const problem = { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders recently', status: 429 };
    return { status: 429, headers: { 'content-type': 'application/problem+json', 'retry-after': String(RETRY_AFTER_S) }, body: JSON.stringify(problem) };
  });
}, 30_000);

afterAll(async () => {
  await front?.close(); // the gatehouses were stopped after each test by usePebble's hook
});

describe('ACME rate limits', () => {
  it('a rateLimited answer with Retry-After is obeyed, never retried earlier, not even after a restart', async () => {
    const name = 'limited.lab.test';
    await pebble.setA(name, ADDRESS);
    const config = acmeConfig(pebble, ADDRESS, [name], ['http-01']) as { certificateResolvers: { pebble: { acme: { caServer: string } } } };
    config.certificateResolvers.pebble.acme.caServer = front.directoryUrl;
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir() };
    const first = await startGatehouse(config, { env });
    const failed = await first.waitForLog((l) => l.msg === 'certificate order failed', 10_000);
    expect(failed['code']).toBe('ACME_ORDER_FAILED');
    expect((failed['problem'] as { type: string }).type).toBe('urn:ietf:params:acme:error:rateLimited');
    expect(String(failed['reason'])).toContain('rateLimited: too many new orders recently');
    const failedAt = Date.parse(String(failed['time']));
    const retryAt = Date.parse(String(failed['retryAt']));
    expect(retryAt - failedAt).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - 500); // not the 1 s first backoff

    // A restart does not dodge the CA's Retry-After: the new process waits for it too.
    await first.stop();
    const gh = await startGatehouse(config, { env });

    const placed = await gh.waitForLog((l) => l.msg === 'acme order placed', 10_000);
    expect(Date.parse(String(placed['time']))).toBeGreaterThanOrEqual(retryAt);
    await gh.waitForLog((l) => l.msg === 'certificate obtained', 10_000);
    expect(front.seen.filter((s) => s === 'POST /order-plz')).toHaveLength(2);
    const served = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(served.authorized, served.error).toBe(true);
  }, 30_000);
});
