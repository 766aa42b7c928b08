/**
 * One ACME order, RFC 8555 §7.4: order, answer each pending authorization with the preferred challenge type (the
 * registry serves it, the self-test proves it), finalize with a fresh key's CSR, download the chain. Authorizations
 * already valid (reused by the CA) are skipped. The registry entries are removed whatever the outcome.
 */
import * as acme from 'acme-client';
import { isSharedRegistry, type ChallengeRegistry } from '../challenges/index.js';
import type { ChallengeType } from '../config/schema-acme.js';
import type { Logger } from '../log.js';
import type { DnsJournal } from './dns-journal.js';
import type { DnsSolver } from './dns/index.js';
import { AcmeError, problemText, withProblems } from './problems.js';
import { selfTest, type ChallengeEndpoints } from './self-test.js';

/** What one order needs. */
export interface OrderRequest {
  readonly client: acme.Client;
  readonly names: readonly string[];
  readonly challenges: readonly ChallengeType[];
  readonly keyType: 'EC256' | 'RSA2048' | 'RSA4096';
  readonly registry: ChallengeRegistry;
  readonly endpoints: () => ChallengeEndpoints;
  readonly log: Logger;
  /** For dns-01: the resolver's solver and the certificate's journal of records out in DNS. */
  readonly dns?: { readonly solver: DnsSolver; readonly journal: DnsJournal; readonly stopped: () => boolean };
}

/** An issued certificate: the chain (leaf first) and its private key, both PEM. */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** The challenge types answered (empty when the CA reused every authorization). */
  readonly challenges?: readonly string[];
}

/** Places the order and returns the certificate; rejects with an AcmeError (ACME_ORDER_FAILED or ACME_SELF_TEST). */
export async function orderCertificate(req: OrderRequest): Promise<IssuedCertificate> {
  const { client, names, log } = req;
  const wrap = (err: unknown, problem: Parameters<typeof problemText>[1]) =>
    new AcmeError('ACME_ORDER_FAILED', `order for ${names.join(', ')} failed: ${problemText(err, problem)}`, { cause: err, ...(problem ? { problem } : {}) });
  return withProblems(async () => {
    const keyPem = (await certificateKey(req.keyType)).toString();
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: [...names] }, keyPem);
    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    log.info({ names, order: order.url }, 'acme order placed');
    const authorizations = await client.getAuthorizations(order);
    const used = await Promise.all(authorizations.map((authz) => (authz.status === 'valid' ? undefined : authorize(req, authz))));
    const finalized = await client.finalizeOrder(order, csr);
    const certPem = await client.getCertificate(finalized);
    return { certPem, keyPem, challenges: [...new Set(used.filter((t) => t !== undefined))] };
  }, wrap);
}

/** Answers one authorization; returns the challenge type used. */
async function authorize(req: OrderRequest, authz: acme.Authorization): Promise<ChallengeType> {
  const { client, registry, log } = req;
  const name = authz.identifier.value;
  // A wildcard's authorization names the base domain (RFC 8555 §7.1.4) and offers dns-01 only.
  const type = req.challenges.find((t) => authz.challenges.some((c) => c.type === t));
  const challenge = authz.challenges.find((c) => c.type === type);
  if (type === undefined || challenge === undefined) {
    throw new AcmeError('ACME_ORDER_FAILED', `the CA offers ${authz.challenges.map((c) => c.type).join(', ')} for ${authz.wildcard ? '*.' : ''}${name}, none of ${req.challenges.join(', ')}`);
  }
  if (type === 'dns-01') {
    await authorizeDns(req, authz, challenge);
    return type;
  }
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
  const token = 'token' in challenge ? String(challenge.token) : '';
  try {
    if (type === 'http-01') {
      registry.putHttp(token, keyAuthorization);
    } else {
      // A P-256 key: acme-client's default RSA-2048 costs about 290 ms against 10 ms.
      const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await acme.crypto.createPrivateEcdsaKey('P-256'));
      registry.putAlpn(name, alpnCert.toString(), alpnKey.toString());
    }
    // A shared registry (several instances, Redis) must have reached every instance before the CA asks any of them.
    if (isSharedRegistry(registry)) await registry.published(type === 'http-01' ? 'http' : 'alpn', type === 'http-01' ? token : name);
    await selfTest(type, name, token, keyAuthorization, req.endpoints());
    log.info({ domain: name, challenge: type }, 'acme challenge ready');
    await client.completeChallenge(challenge);
    try {
      await client.waitForValidStatus(challenge);
    } catch (err) {
      // The challenge's own error (RFC 8555 §8: `error`) says why the CA could not validate.
      throw new AcmeError('ACME_ORDER_FAILED', `${type} validation of ${name} failed: ${(err as Error).message}`, { cause: err });
    }
    log.info({ domain: name, challenge: type }, 'acme challenge valid');
  } finally {
    if (type === 'http-01') registry.removeHttp(token);
    else registry.removeAlpn(name);
  }
  return type;
}

/**
 * dns-01 (RFC 8555 §8.4): the TXT value base64url(SHA-256(key authorization)) at `_acme-challenge.<name>` (after a
 * CNAME), noted in the journal before it is written, checked at the zone's authoritative servers before the CA is
 * told, and removed whatever happens (a removal that fails stays noted for the next turn).
 */
async function authorizeDns(req: OrderRequest, authz: acme.Authorization, challenge: acme.Authorization['challenges'][number]): Promise<void> {
  const { client, log } = req;
  const dns = req.dns;
  const name = authz.identifier.value;
  const shown = `${authz.wildcard ? '*.' : ''}${name}`;
  if (!dns) throw new AcmeError('ACME_ORDER_FAILED', `dns-01 for ${shown}: the resolver has no dnsChallenge`);
  const token = 'token' in challenge ? String(challenge.token) : '';
  const value = await client.getChallengeKeyAuthorization(challenge);
  // acme-client returns the digest for dns-01; lego's exec RAW mode wants the key authorization itself.
  const keyAuthorization = await client.getChallengeKeyAuthorization({ ...challenge, type: 'http-01' } as typeof challenge);
  const record = await dns.solver.locate(name, token, keyAuthorization, value);
  const fields = { domain: shown, challenge: 'dns-01', fqdn: record.fqdn, zone: record.zone, provider: dns.solver.description };
  await dns.journal.add(record);
  try {
    await dns.solver.present(record);
    log.info(fields, 'dns-01 record written');
    const checked = await dns.solver.waitVisible(record, dns.stopped);
    log.info({ ...fields, checkedAt: checked }, 'acme challenge ready');
    await client.completeChallenge(challenge);
    try {
      await client.waitForValidStatus(challenge);
    } catch (err) {
      throw new AcmeError('ACME_ORDER_FAILED', `dns-01 validation of ${shown} failed: ${(err as Error).message}`, { cause: err });
    }
    log.info(fields, 'acme challenge valid');
  } finally {
    try {
      await dns.solver.cleanup(record);
      await dns.journal.remove(record);
      log.info(fields, 'dns-01 record removed');
    } catch (err) {
      log.warn({ ...fields, reason: (err as Error).message }, 'dns-01 record not removed, retried at the next turn');
    }
  }
}

function certificateKey(keyType: OrderRequest['keyType']): Promise<Buffer> {
  if (keyType === 'RSA2048') return acme.crypto.createPrivateRsaKey(2048);
  if (keyType === 'RSA4096') return acme.crypto.createPrivateRsaKey(4096);
  return acme.crypto.createPrivateEcdsaKey('P-256');
}
