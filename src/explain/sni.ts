/**
 * `gatehouse explain --sni NAME`: what a TLS entry point does with a ClientHello, in the order src/edge/tls-listener.ts
 * decides it: for acme-tls/1, this instance's pending challenge and then the shared store's; then the passthrough
 * routes (matchTcpRoute); then a validator's relay to the peers, or termination with the certificate for the name.
 */
import type { Config } from '../config/index.js';
import type { SniMatchInput } from '../rules/index.js';
import type { CertificateChoice } from './certificates.js';
import type { OfflineModel } from './offline.js';
import { chooseEntryPoints } from './request.js';
import { disabledTcp, tryTcpRoutes, type DisabledFacts, type RouterTrial } from './routes.js';

/** The ALPN protocol of tls-alpn-01 validation (RFC 8737 §6.2). */
const ACME_TLS = 'acme-tls/1';

/** Where a passthrough route sends the connection. */
export interface TcpServiceFacts {
  readonly name: string;
  readonly servers: readonly string[];
  readonly proxyProtocol?: number;
}

/** What one TLS entry point does with the handshake. */
export interface SniEntryExplanation {
  readonly entryPoint: string;
  readonly address: string;
  /** acme-tls/1 only: the steps before and after the passthrough routes, in order. */
  readonly acme?: readonly string[];
  readonly tried: readonly RouterTrial[];
  readonly match?: RouterTrial & { readonly service: TcpServiceFacts };
  readonly disabled: readonly DisabledFacts[];
  /** No route matched and the handshake is terminated here: the certificate it gets. */
  readonly terminated?: CertificateChoice;
  readonly outcome: string;
  readonly matched: boolean;
}

/** The whole answer for a ClientHello. */
export interface SniExplanation {
  readonly kind: 'sni';
  readonly hello: SniMatchInput;
  readonly entryPoints: { readonly reason: string; readonly explained: readonly SniEntryExplanation[] };
  readonly matched: boolean;
}

/** What the command line says about the handshake. */
export interface HelloOptions {
  readonly sni: string;
  readonly alpn?: readonly string[];
  readonly clientIp: string;
  readonly entryPoint?: string;
}

/** Explains a handshake on every TLS entry point it could arrive on. */
export function explainSni(model: OfflineModel, options: HelloOptions): SniExplanation {
  const hello: SniMatchInput = { sni: options.sni.toLowerCase().replace(/\.$/, ''), alpn: options.alpn ?? [], clientIp: options.clientIp };
  const choice = chooseEntryPoints(model.config, true, undefined, options.entryPoint);
  const explained = choice.names.map((ep) => explainOn(model, ep, hello));
  return { kind: 'sni', hello, entryPoints: { reason: choice.reason, explained }, matched: explained.some((e) => e.matched) };
}

/** The passthrough part alone: the routes tried and the match, for an HTTPS request's connection too. */
export function passthrough(model: OfflineModel, entryPoint: string, hello: SniMatchInput): Pick<SniEntryExplanation, 'tried' | 'match' | 'disabled'> {
  const config = model.config;
  const trials = tryTcpRoutes(config, model.tcpRoutes(entryPoint), hello);
  const disabled = disabledTcp(config, model.disabledTcp, entryPoint, hello, trials.match);
  if (trials.match === undefined) return { tried: trials.tried, disabled };
  return { tried: trials.tried, disabled, match: { ...trials.match, service: tcpService(config, config.tcp!.routers![trials.match.name]!.service) } };
}

function explainOn(model: OfflineModel, entryPoint: string, hello: SniMatchInput): SniEntryExplanation {
  const config = model.config;
  const address = config.entryPoints[entryPoint]!.address;
  if (config.entryPoints[entryPoint]!.tls === undefined) {
    return { entryPoint, address, tried: [], disabled: [], outcome: 'not a TLS entry point: no ClientHello is read here', matched: false };
  }
  const acme = hello.alpn.includes(ACME_TLS);
  const validator = acme && hello.alpn.every((p) => p === ACME_TLS);
  const steps: string[] = [];
  let answered = false;
  if (acme && hello.sni !== '') {
    const ordered = model.wanted.find((w) => w.names.includes(hello.sni) && w.challenges.includes('tls-alpn-01'));
    if (ordered) {
      answered = true;
      steps.push(`own challenge: resolver "${ordered.resolver}" orders ${hello.sni} with tls-alpn-01; while an order is pending, this instance answers with its challenge certificate`);
    } else {
      steps.push(`own challenge: no resolver of this config orders ${hello.sni} with tls-alpn-01 (the running instance answers only its own pending challenges)`);
    }
    if (validator) {
      steps.push(
        config.storage?.redis
          ? 'shared store: then another instance\'s pending challenge for this name in Redis (storage.redis)'
          : 'shared store: none (no storage.redis)',
      );
    }
  }
  const routes = passthrough(model, entryPoint, hello);
  const base = { entryPoint, address, ...routes, ...(acme && { acme: steps }) };
  if (routes.match) {
    if (acme) steps.push(`passthrough: TCP router "${routes.match.name}" matches; the backend's own ACME client answers`);
    const service = routes.match.service;
    const outcome = `${answered ? 'unless an own challenge is pending: ' : ''}passed through to TCP service "${service.name}" (${service.servers.join(', ')}); the backend terminates TLS`;
    return { ...base, outcome, matched: true };
  }
  if (validator) {
    if (acme) steps.push('passthrough: no TCP router matches');
    const peers = config.challenges?.peers;
    if (peers) {
      steps.push(`peers: relayed in turn to ${peers.addresses.join(', ')} (port ${peers.tlsPort ?? 443}), unless the handshake came from a peer`);
      return { ...base, outcome: `${answered ? 'own challenge while pending, else ' : ''}relayed to the peer holding the challenge, or refused`, matched: true };
    }
    steps.push('peers: none configured (challenges.peers)');
    return { ...base, outcome: answered ? 'answered by the own challenge while an order is pending; refused otherwise' : 'handshake refused: no pending challenge for this name', matched: answered };
  }
  const certificate = model.certificates?.choose(hello.sni === '' ? undefined : hello.sni) ?? { served: 'refused' as const };
  if (acme) steps.push('passthrough: no TCP router matches; the client offered other protocols too, so TLS is terminated normally');
  const refused = certificate.served === 'refused';
  return {
    ...base,
    terminated: certificate,
    outcome: refused ? 'handshake refused: no certificate for this name (tls.defaultCertificate.onUnknownName is "refuse")' : `TLS terminated here with ${certificateText(certificate)}; then HTTP routing (explain a URL)`,
    matched: !refused,
  };
}

/** A certificate choice in a few words. */
export function certificateText(choice: CertificateChoice): string {
  if (choice.served === 'refused') return 'no certificate (handshake refused)';
  if (choice.served === 'default') return `the default certificate (${choice.defaultSource})`;
  const c = choice.certificate!;
  return `${c.source} (${c.from === 'acme' ? 'ACME, ' : ''}covers ${choice.coveredBy}, valid until ${c.notAfter.slice(0, 10)})`;
}

function tcpService(config: Config, name: string): TcpServiceFacts {
  const lb = config.tcp?.services?.[name]?.loadBalancer;
  if (!lb) return { name, servers: [] };
  return { name, servers: lb.servers.map((s) => s.address), ...(lb.proxyProtocol && { proxyProtocol: lb.proxyProtocol.version ?? 2 }) };
}
