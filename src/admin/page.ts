/**
 * The status page: one server-rendered HTML document for a person, readable on a phone, with no script and no
 * external asset (the inline style is all). Every value is escaped: router names, rules, backend URLs and ACME
 * errors come from the config and from CAs.
 */
import type { AdminStatus } from './snapshot.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe in HTML content and in quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const STYLE = `body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:.5rem;color:#222}
h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:1.5rem}
.t{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
code{font-size:.85em;word-break:break-all}.bad{color:#b00020}.ok{color:#1b5e20}.warn{color:#8a5a00}.muted{color:#666}
@media (max-width:40rem){thead{display:none}table,tbody,tr,td{display:block}tr{border-bottom:1px solid #ccc;padding:.4rem 0}
td{border:0;padding:.1rem 0}td::before{content:attr(data-label) ": ";color:#666}}`;

/** A table, or a line saying there is nothing, when `rows` is empty. On a phone each row becomes a labelled card. */
function table(headers: readonly string[], rows: readonly string[][], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const labels = headers.map((h) => ` data-label="${escapeHtml(h)}"`);
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${labels[i] ?? ''}>${c}</td>`).join('')}</tr>`).join('\n');
  return `<div class="t"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function state(ok: boolean, yes: string, no: string): string {
  return ok ? `<span class="ok">${escapeHtml(yes)}</span>` : `<span class="bad">${escapeHtml(no)}</span>`;
}

function days(n: number | undefined): string {
  if (n === undefined) return '<span class="muted">none yet</span>';
  const cls = n < 0 ? 'bad' : n < 14 ? 'warn' : 'ok';
  return `<span class="${cls}">${n < 0 ? `expired ${-n} days ago` : `${n} days left`}</span>`;
}

/** The whole page for `s`. */
export function renderStatusPage(s: AdminStatus): string {
  const e = escapeHtml;
  // The outcome in words ("applied with 2 problems"): a reload that took routers down must not read as "ok".
  const last = s.lastReload;
  const outcomeClass = last?.outcome === 'ok' ? 'ok' : last?.outcome === 'problems' ? 'warn' : 'bad';
  const reload = last
    ? `<span class="${outcomeClass}">${e(last.summary)}</span> at ${e(last.at)} (${e(last.ms)} ms)${[...last.errors, ...(last.outcome === 'refused' ? [] : last.problems)].map((x) => `<br><code class="${outcomeClass}">${e(x)}</code>`).join('')}`
    : '<span class="muted">no reload since start</span>';
  const sections = [
    `<h1>gatehouse</h1>
<p>Config <code>${e(s.configFile ?? '(object)')}</code>, started ${e(s.startedAt ?? 'not yet')}, ${e(s.reloads)} reloads. Last reload: ${reload}</p>`,
    // Only with `workers` > 1: a single process has no worker to list.
    ...(s.workers
      ? [
          `<h2>Workers</h2>` +
            table(
              ['worker', 'pid', 'serving', 'started', 'restarts'],
              s.workers.map((w) => [e(w.id), e(w.pid ?? '-'), state(w.ready, 'serving', 'starting'), e(w.startedAt), e(w.restarts)]),
              'No worker.',
            ),
        ]
      : []),
    `<h2>Entry points</h2>` +
      table(
        ['name', 'address', 'listening', 'TLS', 'open connections'],
        s.entryPoints.map((p) => [e(p.name), `<code>${e(p.address)}</code>`, p.bound ? `<code>${e(p.bound.address)}:${e(p.bound.port)}</code>` : '<span class="bad">not bound</span>', p.tls ? 'yes' : 'no', e(p.connections)]),
        'No entry point.',
      ),
    `<h2>Routers</h2>` +
      table(
        ['name', 'rule', 'target', 'middlewares', 'state'],
        s.routers.map((r) => [e(r.name), `<code>${e(r.rule)}</code>`, e(r.target), e(r.middlewares.join(', ')), r.disabled === undefined ? state(true, 'serving', '') : `<span class="bad">disabled: ${e(r.disabled)}</span>`]),
        'No HTTP router.',
      ),
    `<h2>Services</h2>` +
      table(
        ['name', 'kind', 'servers'],
        s.services.map((v) => [
          e(v.name),
          e(v.kind) + (v.transport === undefined ? '' : `<br><span class="muted">transport ${e(v.transport)}</span>`),
          (v.servers ?? []).map((srv) => `<code>${e(srv.url)}</code> ${state(srv.up, 'up', 'down')}${srv.inFlight > 0 ? ` <span class="muted">${e(srv.inFlight)} in flight</span>` : ''}`).join('<br>'),
        ]),
        'No HTTP service.',
      ),
    `<h2>TCP routes (passthrough, plain TCP)</h2>` +
      table(
        ['name', 'rule', 'entry points', 'service', 'state'],
        s.tcpRouters.map((r) => [e(r.name), `<code>${e(r.rule)}</code>`, e((r.entryPoints ?? ['all TLS']).join(', ')), e(r.service), r.disabled === undefined ? state(true, 'serving', '') : `<span class="bad">disabled: ${e(r.disabled)}</span>`]),
        'No TCP router.',
      ) +
      table(
        ['TCP service', 'kind', 'servers'],
        s.tcpServices.map((v) => [
          e(v.name),
          e(v.kind),
          v.weighted
            ? e(v.weighted.join(', '))
            : v.servers.map((srv) => `<code>${e(srv.address)}</code>${v.healthChecked ? ` ${state(srv.up, 'up', 'down')}` : ''}`).join('<br>'),
        ]),
        'No TCP service.',
      ),
    // Only when the config has UDP: most have none, and an empty section would be noise.
    ...(s.udpRouters.length > 0 || s.entryPoints.some((p) => p.protocol === 'udp')
      ? [
          `<h2>UDP</h2>` +
            table(
              ['entry point', 'open sessions', 'datagrams in / out', 'dropped (session limit, no router, queue full)', 'upstream errors'],
              s.entryPoints
                .filter((p) => p.protocol === 'udp')
                .map((p) => [
                  e(p.name),
                  e(p.connections),
                  p.udp ? `${e(p.udp.datagramsIn)} / ${e(p.udp.datagramsOut)}` : '',
                  p.udp ? `${e(p.udp.droppedSessionLimit)}, ${e(p.udp.droppedNoRoute)}, ${e(p.udp.droppedQueueFull)}` : '',
                  p.udp ? e(p.udp.upstreamErrors) : '',
                ]),
              'No UDP entry point.',
            ) +
            table(
              ['router', 'entry points', 'service', 'servers', 'state'],
              s.udpRouters.map((r) => [
                e(r.name),
                e((r.entryPoints ?? ['all UDP']).join(', ')),
                e(r.service),
                e(s.udpServices.find((v) => v.name === r.service)?.servers.join(', ') ?? ''),
                r.disabled === undefined ? state(true, 'serving', '') : `<span class="bad">disabled: ${e(r.disabled)}</span>`,
              ]),
              'No UDP router.',
            ),
        ]
      : []),
    `<h2>Certificates in service</h2>` +
      table(
        ['names', 'expires', 'source'],
        s.certificates.map((c) => [e(c.names.join(', ')) + (c.isDefault ? ' <span class="muted">(default)</span>' : ''), `${days(c.daysLeft)} <span class="muted">${e(c.notAfter)}</span>`, `<code>${e(c.source)}</code>`]),
        'No certificate loaded (no TLS entry point).',
      ),
    `<h2>ACME</h2>` +
      table(
        ['certificate', 'names', 'expires', 'next renewal', 'last error'],
        s.acme.map((m) => [
          e(m.id),
          e(m.names.join(', ')),
          days(m.daysLeft),
          e(m.renewAt ?? '') + (m.retryAt ? ` <span class="warn">retry at ${e(m.retryAt)}</span>` : ''),
          m.lastError === undefined ? state(true, 'none', '') : `<span class="bad">${e(m.lastError)}</span> <span class="muted">${e(m.lastErrorAt ?? '')}, ${e(m.failures)} failures</span>`,
        ]),
        'No certificate resolver in use.',
      ),
    `<h2>Last challenge decisions</h2>` +
      table(
        ['time', 'challenge', 'name', 'answered by', 'status', 'detail'],
        s.challenges.map((d) => [e(d.at), e(d.challenge), e(d.name), state(d.answeredBy !== 'none', d.answeredBy, d.answeredBy), e(d.status ?? ''), e(d.detail ?? '')]),
        'No challenge request since start.',
      ),
    `<p class="muted">Generated ${e(s.generatedAt)}. Also: <a href="/api/status">/api/status</a> (JSON), <a href="/metrics">/metrics</a> (Prometheus).</p>`,
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse status</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>
${sections.join('\n')}
</body></html>
`;
}
