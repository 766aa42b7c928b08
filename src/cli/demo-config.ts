/**
 * The config `npm start` runs when no file is given: one unprivileged HTTP entry point and built-in `respond`
 * routes, so a newcomer sees gatehouse answer without writing a config or running a backend.
 */
import type { Config } from '../config/index.js';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;padding:.1rem .3rem}</style>
</head><body>
<h1>gatehouse is running</h1>
<p>This answer comes from the embedded demo config: a <code>respond</code> router, no backend.</p>
<p>To proxy your own services, copy <code>config.example.json</code>, edit it, and start with
<code>npm start -- --config config.json</code> (or set <code>GATEHOUSE_CONFIG</code>).
Check a file with <code>npx gatehouse check --config config.json</code>.</p>
<ul><li><a href="/health">/health</a>: a plain-text health answer</li>
<li><a href="/go">/go</a>: a redirect built from the request (<code>{scheme}://{host}:{port}/</code>)</li></ul>
</body></html>
`;

/** Address of the demo's entry point `web`: GATEHOUSE_DEMO_ADDRESS (e.g. 127.0.0.1:9090), else `:8080`. */
export function demoAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env['GATEHOUSE_DEMO_ADDRESS'] ?? ':8080';
}

/** The demo config, on demoAddress(env). */
export function demoConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    entryPoints: { web: { address: demoAddress(env) } },
    http: {
      routers: {
        home: { rule: 'PathPrefix(`/`)', priority: 1, respond: { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: PAGE } },
        health: { rule: 'Path(`/health`)', respond: { body: 'ok\n' } },
        go: { rule: 'Path(`/go`)', redirect: { location: '{scheme}://{host}:{port}/', status: 302 } },
      },
    },
  };
}
