// `gatehouse check` on a valid config whose routers can never serve: warnings on stderr with the router's path and
// exit 0, or exit 1 with --strict; a config without such routers prints none.
import { afterAll, describe, expect, it } from 'vitest';
import { runGatehouseCli, stopAllGatehouses } from '../helpers/gatehouse-process.js';

afterAll(async () => {
  await stopAllGatehouses();
});

const svc = { loadBalancer: { servers: [{ url: 'http://127.0.0.1:3000' }] } };
const NEVER = {
  entryPoints: { web: { address: ':8080' }, local: { address: '127.0.0.1:8081' } },
  http: {
    routers: {
      secure: { rule: 'Host(`a.example`)', service: 's', tls: {} },
      first: { rule: 'Host(`b.example`)', service: 's', priority: 100 },
      second: { rule: 'Host( `b.example` )', service: 's' },
      admin: { rule: 'Host(`admin.example`)', service: 's', entryPoints: ['local'] },
    },
    services: { s: svc },
  },
};

describe('gatehouse check: routers that never serve', () => {
  it('prints each as a warning with its path and exits 0', async () => {
    const r = await runGatehouseCli(['check'], { config: NEVER });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^gatehouse: warning: .* at \/http\/routers\/secure: router "secure" has tls but the config has no TLS entry point/);
    expect(r.stderr).toMatch(/at \/http\/routers\/admin: router "admin" matches "admin.example" but listens only on loopback \(local 127.0.0.1:8081\)/);
    expect(r.stderr).toMatch(/at \/http\/routers\/second: router "second" has the same rule as "first", which is tried first \(priority 100 against 19\)/);
    expect(r.stdout).toMatch(/config ok \(3 warnings\)\n$/);
  });

  it('--strict makes them fail the check', async () => {
    const r = await runGatehouseCli(['check', '--strict'], { config: NEVER });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('3 warnings, and --strict: the check fails');
    expect(r.stdout).toBe('');
  });

  it('a config without them: no warning, exit 0 with --strict too', async () => {
    const ok = { entryPoints: { web: { address: ':8080' } }, http: { routers: { a: { rule: 'Host(`a.example`)', service: 's' } }, services: { s: svc } } };
    const r = await runGatehouseCli(['check', '--strict'], { config: ok });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/config ok\n$/);
  });
});
