/**
 * The Cloudflare provider, from Cloudflare's documented API v4 with a scoped API token (`Authorization: Bearer`):
 * `GET /zones?name=` (the zone id, unless configured), `POST /zones/{id}/dns_records` (present),
 * `GET /zones/{id}/dns_records?type=TXT&name=&content=` then `DELETE /zones/{id}/dns_records/{record}` (clean-up
 * finds the record by its value, so it also works after a restart that forgot the record id).
 */
import { request } from 'node:https';
import type { DnsProvider, TxtRecord } from './provider.js';

/** Options of the Cloudflare provider. */
export interface CloudflareOptions {
  readonly token: string;
  readonly zoneId?: string;
  /** The API's base URL; a test points it at a local stand-in. */
  readonly baseUrl?: string;
  /** Extra CA certificates for the API's HTTPS (a test's stand-in); the system roots otherwise. */
  readonly ca?: string;
}

const API = 'https://api.cloudflare.com/client/v4';
const TIMEOUT_MS = 15_000;

interface Envelope<T> {
  success: boolean;
  errors?: { code?: number; message?: string }[];
  result: T;
}

/** Builds the provider. */
export function createCloudflareProvider(options: CloudflareOptions): DnsProvider {
  const base = (options.baseUrl ?? API).replace(/\/$/, '');
  const zones = new Map<string, Promise<string>>();
  const call = <T>(method: string, path: string, body?: object) => apiCall<T>(options, method, `${base}${path}`, body);
  const zoneId = (zone: string): Promise<string> => {
    if (options.zoneId) return Promise.resolve(options.zoneId);
    let id = zones.get(zone);
    if (!id) {
      id = call<{ id: string; name: string }[]>('GET', `/zones?name=${encodeURIComponent(zone)}`).then((found) => {
        const z = found.find((x) => x.name === zone);
        if (!z) throw new Error(`Cloudflare has no zone ${zone} for this token (it needs Zone:Read, or set cloudflare.zoneId)`);
        return z.id;
      });
      id.catch(() => zones.delete(zone));
      zones.set(zone, id);
    }
    return id;
  };
  return {
    description: 'cloudflare',
    async present(r: TxtRecord) {
      const id = await zoneId(r.zone);
      await call('POST', `/zones/${id}/dns_records`, { type: 'TXT', name: r.fqdn, content: r.value, ttl: r.ttl });
    },
    async cleanup(r: TxtRecord) {
      const id = await zoneId(r.zone);
      const found = await call<{ id: string }[]>('GET', `/zones/${id}/dns_records?type=TXT&name=${encodeURIComponent(r.fqdn)}&content=${encodeURIComponent(r.value)}`);
      for (const rec of found) await call('DELETE', `/zones/${id}/dns_records/${rec.id}`);
    },
  };
}

function apiCall<T>(options: CloudflareOptions, method: string, url: string, body?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = request(
      url,
      {
        method,
        headers: { authorization: `Bearer ${options.token}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
        timeout: TIMEOUT_MS,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c.length + text.length < 1_000_000 ? c : ''));
        res.on('end', () => {
          let env: Envelope<T> | undefined;
          try {
            env = JSON.parse(text) as Envelope<T>;
          } catch {
            env = undefined;
          }
          const where = `Cloudflare ${method} ${new URL(url).pathname.replace(/^.*\/client\/v4/, '')}`;
          if (env?.success === true) return resolve(env.result);
          const errors = env?.errors?.map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ');
          reject(new Error(`${where}: HTTP ${res.statusCode}${errors ? ` ${errors}` : ''}${res.statusCode === 403 || res.statusCode === 401 ? ' (the token needs Zone:Read and DNS:Edit on this zone)' : ''}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(`Cloudflare ${method} ${url}: ${err.code ?? err.message}`)));
    req.end(payload);
  });
}
