/**
 * The dns-01 solver of one resolver (RFC 8555 §8.4): from its `dnsChallenge` config, the provider, the resolvers and
 * the propagation settings. For each challenge: find where the record goes (CNAME, zone), have the provider write
 * it, wait until the zone's authoritative servers answer it, and, whatever happened, remove it. Every error is an
 * ACME_DNS AcmeError with the secrets taken out.
 */
import { DEFAULTS } from '../../config/defaults.js';
import { parseDuration } from '../../config/duration.js';
import { resolveConfigRelative } from '../../config/paths.js';
import type { DnsChallengeConfig } from '../../config/schema-acme.js';
import { AcmeError } from '../problems.js';
import { createCloudflareProvider } from './cloudflare.js';
import { createExecProvider } from './exec.js';
import { waitForTxt } from './propagation.js';
import type { DnsProvider, TxtRecord } from './provider.js';
import { formatServer, parseServer, type DnsServer } from './query.js';
import { createRfc2136Provider } from './rfc2136.js';
import { parseBindKey, readSecret, redactSecrets } from './secrets.js';
import { authoritativeServers, findRecordPlace, resolverList } from './zone.js';

/** What the order needs to answer one dns-01 challenge. */
export interface DnsSolver {
  /** `rfc2136 192.0.2.53:53` and the like, for logs. */
  readonly description: string;
  /** Finds where the record goes (CNAME, zone): the record returned is what `present` and `cleanup` need. */
  locate(domain: string, token: string, keyAuthorization: string, value: string): Promise<TxtRecord>;
  /** Has the provider write the record. */
  present(record: TxtRecord): Promise<void>;
  /** Waits (delayBeforeChecks, then the checks) until the authoritative servers answer the value; names the servers asked. */
  waitVisible(record: TxtRecord, stopped: () => boolean): Promise<readonly string[]>;
  /** Removes the value; safe to repeat. */
  cleanup(record: TxtRecord): Promise<void>;
}

/** Extra options for tests: the Cloudflare stand-in's URL and CA. */
export interface DnsSolverOptions {
  readonly configFile: string | undefined;
  readonly cloudflareApi?: { baseUrl: string; ca: string };
}

/** Builds the solver; secrets and key files are read here (once per order, so a rotated file is picked up). */
export async function createDnsSolver(spec: DnsChallengeConfig, options: DnsSolverOptions): Promise<DnsSolver> {
  const secrets: string[] = [];
  const fail = (err: unknown, prefix = ''): AcmeError =>
    err instanceof AcmeError ? err : new AcmeError('ACME_DNS', redactSecrets(`${prefix}${(err as Error).message}`, secrets), { cause: err });
  let provider: DnsProvider;
  try {
    provider = await buildProvider(spec, options, secrets);
  } catch (err) {
    throw fail(err, 'dns-01 provider not usable: ');
  }
  const resolvers = resolverList(spec.resolvers);
  const propagation = spec.propagation ?? {};
  const ttl = spec.ttl ?? DEFAULTS.dnsTtl;
  const checkAt = propagation.nameservers?.map((s) => parseServer(s));
  return {
    description: provider.description,
    async locate(domain, token, keyAuthorization, value) {
      try {
        const place = await findRecordPlace(domain, resolvers);
        return { fqdn: place.fqdn, zone: place.zone, value, ttl, domain, token, keyAuthorization };
      } catch (err) {
        throw fail(err, `dns-01 for ${domain}: `);
      }
    },
    async present(record) {
      try {
        await provider.present(record);
      } catch (err) {
        throw fail(err, `dns-01 for ${record.domain}: ${provider.description}: `);
      }
    },
    async waitVisible(record, stopped) {
      const delay = parseDuration(propagation.delayBeforeChecks ?? '0');
      if (delay > 0) await sleepUnless(delay, stopped);
      if (propagation.disableChecks) return [];
      try {
        const servers: DnsServer[] = checkAt ?? (await authoritativeServers(record.zone, resolvers));
        await waitForTxt(record, servers, {
          timeoutMs: parseDuration(propagation.timeout ?? DEFAULTS.dnsPropagationTimeout),
          intervalMs: Math.max(100, parseDuration(propagation.interval ?? DEFAULTS.dnsPropagationInterval)),
          stopped,
        });
        return servers.map(formatServer);
      } catch (err) {
        throw fail(err, `dns-01 for ${record.domain}: `);
      }
    },
    async cleanup(record) {
      try {
        await provider.cleanup(record);
      } catch (err) {
        throw fail(err, `dns-01 clean-up for ${record.domain}: ${provider.description}: `);
      }
    },
  };
}

async function buildProvider(spec: DnsChallengeConfig, options: DnsSolverOptions, secrets: string[]): Promise<DnsProvider> {
  const { configFile } = options;
  if (spec.provider === 'exec') {
    const e = spec.exec!;
    return createExecProvider({ path: resolveConfigRelative(e.path, configFile), raw: e.mode === 'RAW', timeoutMs: parseDuration(e.timeout ?? DEFAULTS.dnsExecTimeout) });
  }
  if (spec.provider === 'cloudflare') {
    const c = spec.cloudflare!;
    const token = await readSecret(c.apiToken, c.apiTokenFile, configFile);
    if (!token) throw new Error('dnsChallenge.cloudflare has no API token');
    secrets.push(token);
    return createCloudflareProvider({ token, ...(c.zoneId ? { zoneId: c.zoneId } : {}), ...(options.cloudflareApi ?? {}) });
  }
  const n = spec.rfc2136!;
  let keyName = n.tsigKey;
  let algorithm = n.tsigAlgorithm;
  let secret = await readSecret(n.tsigSecret, n.tsigSecretFile, configFile);
  const bind = secret !== undefined && n.tsigSecretFile !== undefined ? parseBindKey(secret) : undefined;
  if (bind) {
    secrets.push(secret!); // the whole file
    keyName ??= bind.name;
    algorithm ??= bind.algorithm;
    secret = bind.secret;
  }
  if (secret !== undefined) secrets.push(secret);
  if (secret !== undefined && keyName === undefined) throw new Error('dnsChallenge.rfc2136 has a TSIG secret but no tsigKey (the key name the server knows it by)');
  const decoded = secret === undefined ? undefined : Buffer.from(secret, 'base64');
  if (decoded !== undefined && decoded.length === 0) throw new Error('the TSIG secret is not base64');
  return createRfc2136Provider({
    server: parseServer(n.nameserver),
    key: decoded === undefined ? undefined : { name: keyName!, algorithm: (algorithm ?? 'hmac-sha256').toLowerCase().replace(/\.$/, ''), secret: decoded },
  });
}

function sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = setInterval(() => {
      if (stopped() || Date.now() - started >= ms) {
        clearInterval(tick);
        resolve();
      }
    }, Math.min(ms, 250));
  });
}
