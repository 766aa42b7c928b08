/**
 * Traefik conformance: every case of test/fixtures/traefik-conformance/ (facts from Traefik's own test tables and
 * docs, with the Traefik commit they were read at) run three ways:
 *
 * 1. in-process, against the compiled matchers, priorities and TLS-entry-point order (this file);
 * 2. on the wire, through one running gatehouse (traefik-conformance-wire.test.ts);
 * 3. `gatehouse check` on every case whose rule gatehouse refuses: exit code 1, and the router named with a RULE_* code
 *    (this file).
 *
 * A case with `difference` is one gatehouse handles differently on purpose (README "### Rules" and
 * docs/import-traefik.md say why); it is asserted as gatehouse documents it (`gatehouse`). A case with `gap` is a
 * difference not fixed yet (named in the field, outside src/rules): its wire test is expected to fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { GatehouseError } from '../../src/errors.js';
import { splitHost } from '../../src/http/context.js';
import { createLogger } from '../../src/log.js';
import { compileHttpRule, compileSniRule, routerPriority, type HttpMatchInput, type SniMatchInput } from '../../src/rules/index.js';
import { buildTcpRoutes, matchTcpRoute, type TcpRouteTable } from '../../src/tcp/index.js';
import { runGatehouseCli } from '../helpers/gatehouse-process.js';
import { CASES, effective, label, type Connection, type HttpRequest, type Router } from '../helpers/traefik-corpus.js';

// ---------------------------------------------------------------- inputs as gatehouse builds them

/** The HttpMatchInput the request entry builds (host lower-cased and port-less via splitHost; repeated headers joined as Node joins them). */
function httpInput(r: HttpRequest): HttpMatchInput {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = values.join(', ');
  return { host: splitHost(r.host).host, path: r.path, query: r.query, method: r.method, headers, clientIp: r.clientIp ?? '127.0.0.1' };
}

/** The SniMatchInput the edge builds: the SNI lower-cased. */
function sniInput(c: Connection): SniMatchInput {
  return { sni: c.sni.toLowerCase(), alpn: c.alpn, clientIp: c.clientIp };
}

function refusal(fn: () => unknown): GatehouseError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatehouseError) return err;
    throw err;
  }
  return undefined;
}

const log = createLogger({ level: 'silent' });
const tables: TcpRouteTable[] = [];

function tcpTable(tcp: Router[], http: Router[] = []): TcpRouteTable {
  const config = validateConfig({
    entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
    http: { routers: Object.fromEntries(http.map((r) => [r.name, { rule: r.rule, respond: { status: 200 } }])) },
    tcp: {
      routers: Object.fromEntries(tcp.map((r) => [r.name, { rule: r.rule, service: 'backend', ...(r.priority !== undefined ? { priority: r.priority } : {}) }])),
      services: { backend: { loadBalancer: { servers: [{ address: '127.0.0.1:9' }] } } },
    },
  });
  const table = buildTcpRoutes(config, log);
  tables.push(table);
  return table;
}

// ---------------------------------------------------------------- 1. in-process

describe('in-process: compiled matchers, priorities and TLS order', () => {
  afterAll(async () => {
    await Promise.all(tables.map((t) => t.close()));
  });

  const inProcess = CASES.filter((c) => c.kind !== 'http-raw');
  it('reads a corpus', () => {
    expect(inProcess.length).toBeGreaterThan(300);
  });

  it.each(inProcess.map((c) => [label(c), c] as const))('%s', (_l, c) => {
    const e = effective(c);
    switch (c.kind) {
      case 'http':
      case 'tcp': {
        const compile = c.kind === 'http' ? () => compileHttpRule(c.rule!) : () => compileSniRule(c.rule!);
        if (e.expect === 'parse-error') {
          expect(refusal(compile)?.code).toMatch(/^RULE_(SYNTAX|MATCHER)$/);
          return;
        }
        const matched = c.kind === 'http' ? compileHttpRule(c.rule!)(httpInput(e.request!)) : compileSniRule(c.rule!)(sniInput(e.connection!));
        expect(matched ? 'match' : 'no-match').toBe(e.expect);
        return;
      }
      case 'priority':
        expect(routerPriority(undefined, c.rule!, c.router!)).toBe((e.expect as { priority: number }).priority);
        return;
      case 'http-priority': {
        // The HTTP router order (src/http/router.ts): priority, then name; the first match serves.
        const input = httpInput(e.request!);
        const routes = c.routers!.map((r) => ({ name: r.name, priority: routerPriority(r.priority, r.rule, 'http'), match: compileHttpRule(r.rule) }));
        routes.sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : 1));
        expect(routes.find((r) => r.match(input))?.name).toBe((e.expect as { router: string }).router);
        return;
      }
      case 'tcp-priority':
      case 'tls-order': {
        const table = tcpTable(c.routers ?? c.tcpRouters!, c.httpRouters);
        const route = matchTcpRoute(table.byEntryPoint.get('websecure')!, sniInput(e.connection!));
        const want = e.expect as { router: string } | { terminate: true };
        expect(route?.name).toBe('router' in want ? want.router : undefined);
        return;
      }
      default:
        throw new Error(`unknown kind ${c.kind}`);
    }
  });
});

// ---------------------------------------------------------------- 3. gatehouse check

describe('gatehouse check refuses every rule gatehouse refuses', () => {
  const refused = CASES.filter((c) => (c.kind === 'http' || c.kind === 'tcp') && effective(c).expect === 'parse-error' && c.rule !== '');
  let out = '';
  let code: number | null = null;

  beforeAll(async () => {
    const config = {
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      http: { routers: Object.fromEntries(refused.filter((c) => c.kind === 'http').map((c) => [c.id, { rule: c.rule!, respond: { status: 200 } }])) },
      tcp: {
        routers: Object.fromEntries(refused.filter((c) => c.kind === 'tcp').map((c) => [c.id, { rule: c.rule!, service: 'backend' }])),
        services: { backend: { loadBalancer: { servers: [{ address: '127.0.0.1:9' }] } } },
      },
    };
    const res = await runGatehouseCli(['check'], { config, timeoutMs: 20_000 });
    out = res.stdout + res.stderr;
    code = res.code;
  }, 30_000);

  it('exits 1', () => {
    expect(code).toBe(1);
  });

  it.each(refused.map((c) => [label(c), c] as const))('%s', (_l, c) => {
    const line = out.split('\n').find((l) => l.includes(`"${c.id}"`));
    expect(line, out).toMatch(/RULE_(SYNTAX|MATCHER)/);
  });

  it('refuses an empty rule in the schema (Traefik: "No rule")', async () => {
    const res = await runGatehouseCli(['check'], { config: { entryPoints: { web: { address: '127.0.0.1:0' } }, http: { routers: { empty: { rule: '', respond: {} } } } } });
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr).toMatch(/CONFIG_SCHEMA/);
  });
});
