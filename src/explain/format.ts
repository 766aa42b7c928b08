/**
 * The readable form of an explanation: one screen, the routers in the order they are tried, a ✗ line for each
 * part of a rule that failed and a ✓ line for each that held, then the outcome. `--json` prints the same objects.
 */
import type { MiddlewareFacts, ServiceFacts, TargetFacts } from './describe.js';
import type { MiddlewareOutcome } from './middlewares.js';
import type { HttpEntryExplanation, HttpExplanation } from './http.js';
import type { DisabledFacts, RouterTrial } from './routes.js';
import type { CertificateChoice } from './certificates.js';
import { certificateText, type SniEntryExplanation, type SniExplanation } from './sni.js';
import { udpText, type UdpExplanation } from './udp.js';
import { tcpText, type TcpExplanation } from './tcp.js';

/** The explanation as text, ending with a newline. */
export function formatExplanation(e: HttpExplanation | SniExplanation | UdpExplanation | TcpExplanation): string {
  if (e.kind === 'udp') return `${udpText(e).join('\n')}\n`;
  if (e.kind === 'tcp') return `${tcpText(e).join('\n')}\n`;
  const out: string[] = [];
  if (e.kind === 'http') {
    const r = e.request;
    const headers = Object.entries(r.headers).filter(([k]) => k !== 'host');
    out.push(`${r.method} ${r.scheme}://${r.rawHost}${r.path}${r.query ? `?${r.query}` : ''}  (client ${r.clientIp}${headers.length ? `; ${headers.map(([k, v]) => `${k}: ${v}`).join('; ')}` : ''})`);
    for (const ep of e.entryPoints.explained) httpEntry(out, ep, e.entryPoints.reason);
  } else {
    const h = e.hello;
    out.push(`ClientHello: ${h.sni ? `SNI "${h.sni}"` : 'no SNI'}, ${h.alpn.length ? `ALPN ${h.alpn.join(', ')}` : 'no ALPN'}  (client ${h.clientIp})`);
    for (const ep of e.entryPoints.explained) sniEntry(out, ep, e.entryPoints.reason);
  }
  return `${out.join('\n')}\n`;
}

function header(out: string[], name: string, address: string, reason: string): void {
  out.push('', `entry point "${name}" (${address}): ${reason}`);
}

function httpEntry(out: string[], ep: HttpEntryExplanation, reason: string): void {
  header(out, ep.entryPoint, ep.address, reason);
  if (ep.passthrough && (ep.passthrough.tried.length > 0 || ep.passthrough.disabled.length > 0)) {
    out.push('  TCP routes (SNI passthrough) first:');
    trials(out, ep.passthrough.tried, '    ', ep.passthrough.match?.name);
    disabled(out, ep.passthrough.disabled, '    ');
  }
  if (ep.certificate) {
    out.push(`  certificate: ${certificateText(ep.certificate)}`);
    acmeLines(out, ep.certificate, '    ');
  }
  if (ep.hook) {
    out.push(`  ${ep.hook.kind === 'acme-challenge' ? 'ACME challenge responder (before the redirection and the routers)' : 'HTTPS redirection (before the routers)'}:`);
    for (const s of ep.hook.steps) out.push(`    - ${s}`);
  }
  trials(out, ep.tried, '  ', ep.match?.name);
  if (ep.match) {
    if (ep.hook?.kind === 'acme-challenge') out.push('     middlewares: skipped for the CA');
    else {
      middlewares(out, ep.match.middlewares);
      if (ep.match.evaluation) evaluation(out, ep.match.evaluation);
    }
    target(out, ep.match.target);
  }
  if (ep.notTried.length > 0) out.push(`  not tried: ${ep.notTried.join(', ')}`);
  disabled(out, ep.disabled, '  ');
  out.push(`  → ${ep.outcome}`);
}

function sniEntry(out: string[], ep: SniEntryExplanation, reason: string): void {
  header(out, ep.entryPoint, ep.address, reason);
  if (ep.acme) {
    out.push('  acme-tls/1, in the order the edge decides:');
    for (const s of ep.acme) out.push(`    - ${s}`);
  }
  if (ep.tried.length === 0 && !ep.acme) out.push('  no TCP routes on this entry point');
  trials(out, ep.tried, '  ', ep.match?.name);
  if (ep.match) {
    const s = ep.match.service;
    out.push(`     TCP service: ${s.name} → ${s.servers.join(', ') || '(no servers)'}${s.proxyProtocol ? ` (PROXY protocol v${s.proxyProtocol})` : ''}`);
  }
  disabled(out, ep.disabled, '  ');
  if (ep.terminated) acmeLines(out, ep.terminated, '  ');
  out.push(`  → ${ep.outcome}`);
}

/** The ACME state of the certificate that covers the name: its challenges, and why its last attempt failed. */
function acmeLines(out: string[], choice: CertificateChoice, indent: string): void {
  const a = choice.acme;
  if (a === undefined) return;
  const how = `ACME (resolver ${a.resolver}${a.challenges?.length ? `, ${a.challenges.join(', ')}` : ''}) for ${a.names.join(', ')}`;
  if (a.lastError === undefined) out.push(`${indent}${how}: last attempt succeeded`);
  else out.push(`${indent}${how}: last attempt failed${a.lastErrorAt ? ` at ${a.lastErrorAt}` : ''}: ${a.lastError}${a.retryAt ? `; next try after ${a.retryAt}` : ''}`);
}

function trials(out: string[], tried: readonly RouterTrial[], indent: string, matched: string | undefined): void {
  for (const [i, t] of tried.entries()) {
    out.push(`${indent}${i + 1}. ${t.name}  priority ${t.priority}  ${t.rule}${t.name === matched ? '   ← match' : ''}`);
    for (const p of t.parts) out.push(`${indent}     ${t.matched ? '✓' : '✗'} ${p}`);
  }
}

function disabled(out: string[], list: readonly DisabledFacts[], indent: string): void {
  for (const d of list) {
    const would = d.wouldMatch === undefined ? 'its rule does not compile' : d.beforeMatch ? 'would take this request' : 'would match, after the match';
    out.push(`${indent}disabled (${would}): ${d.name}  priority ${d.priority}: ${d.reason} [${d.code}]`);
  }
}

function middlewares(out: string[], list: readonly MiddlewareFacts[]): void {
  if (list.length === 0) return;
  const text = (m: MiddlewareFacts): string => `${m.name} (${m.kind}${m.members ? `: ${m.members.map(text).join(' → ')}` : ''})`;
  out.push(`     middlewares: ${list.map(text).join(' → ')}`);
}

/** Each middleware as it acted on the request, then what the target receives. */
function evaluation(out: string[], e: MiddlewareOutcome): void {
  out.push('     run on this request:');
  for (const s of e.steps) out.push(`       ${s.effect === 'passed' ? '✓' : s.effect === 'answered' ? '✗' : '?'} ${s.name} (${s.kind}): ${s.detail}`);
  if (e.stoppedBy === undefined) {
    out.push(`     the target receives: ${e.forwardedUri}`);
    const set = Object.entries(e.headersSet);
    if (set.length > 0) out.push(`     request headers set: ${set.map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  }
}

function target(out: string[], t: TargetFacts): void {
  if (t.kind === 'respond') out.push(`     respond: ${t.status}`);
  else if (t.kind === 'redirect') out.push(`     redirect: ${t.status} to ${t.location}`);
  else service(out, t.service, '     service: ', '       ');
}

function service(out: string[], s: ServiceFacts, first: string, indent: string): void {
  const detail = s.kind === 'loadBalancer' ? `loadBalancer, ${s.strategy}` : s.kind === 'plugin' ? `plugin ${s.plugin ?? ''}` : s.kind;
  out.push(`${first}${s.name} (${detail})`);
  for (const srv of s.servers ?? []) out.push(`${indent}${srv.url}  weight ${srv.weight}${srv.up === undefined ? '' : srv.up ? '  up' : '  DOWN'}`);
  if (s.transport) out.push(`${indent}transport: ${s.transport}`);
  const known = (s.servers ?? []).some((srv) => srv.up !== undefined);
  if (s.healthCheck) out.push(`${indent}health check: ${s.healthCheck}${known ? '' : ' (health is not known offline)'}`);
  for (const c of s.children ?? []) {
    const role = c.role === 'weighted' ? `weight ${c.weight}: ` : c.role === 'main' ? 'answers: ' : `mirror ${c.percent}%: `;
    service(out, c.service, `${indent}${role}`, `${indent}  `);
  }
}
