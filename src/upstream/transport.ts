/**
 * A servers transport compiled once per config (STYLE 3): its PEM files read and parsed, its TLS options ready for
 * `tls.connect`, its timeouts in ms. Services that name it get the compiled form; nothing here runs per request.
 * A transport that cannot be built (a file missing, not PEM, a key that does not match its certificate) is an
 * error value, and only the services that use it are disabled (STYLE 6).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { ServersTransportConfig } from '../config/index.js';
import { parseDuration } from '../config/index.js';

/** The TLS side of a transport, as tls.connect takes it, and what logs and `explain` say about it. */
export interface TransportTls {
  /** `rejectUnauthorized`, `ca`, `cert`, `key`: spread into tls.connect's options. */
  readonly options: Readonly<Pick<ConnectionOptions, 'rejectUnauthorized' | 'ca' | 'cert' | 'key'>>;
  /** SNI and verification name for every server; undefined: each server's URL host. */
  readonly serverName: string | undefined;
  readonly insecureSkipVerify: boolean;
  /** The subjects of the rootCAs, for messages ("verified against 'CN=Lab CA'"); empty: the system's CAs. */
  readonly rootCaNames: readonly string[];
  /** The client certificate's subject, when one is set. */
  readonly clientCertificate: string | undefined;
}

/** One compiled transport. */
export interface Transport {
  /** Its name in http.serversTransports; `''` for the built-in default (system CAs, no settings). */
  readonly name: string;
  readonly tls: TransportTls;
  /** ms, from forwardingTimeouts; undefined where it sets none. */
  readonly connectTimeoutMs: number | undefined;
  readonly responseHeadersTimeoutMs: number | undefined;
  readonly idleTimeoutMs: number | undefined;
  /** Connections per server; undefined: not set. -1: one connection per request. */
  readonly maxConnections: number | undefined;
  /**
   * Changes whenever anything the transport was built from changes, file contents included: a reload keeps a
   * service's pool only when this is the same (a new CA file behind the same path makes new connections).
   */
  readonly key: string;
}

/** The built-in transport: the system's CAs, each server's own host name, nothing else set. */
export const DEFAULT_TRANSPORT: Transport = {
  name: '',
  tls: { options: { rejectUnauthorized: true }, serverName: undefined, insecureSkipVerify: false, rootCaNames: [], clientCertificate: undefined },
  connectTimeoutMs: undefined,
  responseHeadersTimeoutMs: undefined,
  idleTimeoutMs: undefined,
  maxConnections: undefined,
  key: '',
};

/** Why a transport could not be built, with the JSON path of the field to fix. */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Traefik's FileOrContent: PEM text as is, anything else a path relative to `baseDir`. */
function readPem(value: string, baseDir: string, path: string, what: string): string {
  if (value.trimStart().startsWith('-----BEGIN')) return value;
  const file = resolve(baseDir, value);
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new TransportError(`cannot read ${what} "${file}": ${(cause as Error).message}`, path, { cause });
  }
}

/** Every certificate in a PEM text (a bundle may hold several), or a TransportError naming the field. */
function certificates(pem: string, path: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TransportError(`${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, path);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (cause) {
      throw new TransportError(`${what} holds a certificate that does not parse: ${(cause as Error).message}`, path, { cause });
    }
  });
}

/** A certificate's subject on one line, as messages show it (`CN=Lab CA, O=Home`). */
export function subjectLine(cert: X509Certificate): string {
  return cert.subject.split('\n').join(', ');
}

/**
 * Compile transport `name` from its config; file paths are relative to `baseDir` (the config file's directory).
 * Throws a TransportError for a file that cannot be read or used.
 */
export function compileTransport(name: string, spec: ServersTransportConfig, baseDir: string): Transport {
  const at = `/http/serversTransports/${name}`;
  const hash = createHash('sha256').update(JSON.stringify(spec));
  const options: { rejectUnauthorized: boolean; ca?: string[]; cert?: string; key?: string } = { rejectUnauthorized: !(spec.insecureSkipVerify ?? false) };
  const rootCaNames: string[] = [];
  if (spec.rootCAs) {
    options.ca = spec.rootCAs.map((value, i) => {
      const pem = readPem(value, baseDir, `${at}/rootCAs/${i}`, 'rootCAs file');
      for (const cert of certificates(pem, `${at}/rootCAs/${i}`, `rootCAs entry ${i}`)) rootCaNames.push(subjectLine(cert));
      hash.update(pem);
      return pem;
    });
  }
  let clientCertificate: string | undefined;
  const pair = spec.certificates?.[0];
  if (pair) {
    const certPath = `${at}/certificates/0/certFile`;
    const keyPath = `${at}/certificates/0/keyFile`;
    const cert = readPem(pair.certFile, baseDir, certPath, 'certFile');
    const key = readPem(pair.keyFile, baseDir, keyPath, 'keyFile');
    const leaf = certificates(cert, certPath, 'certFile')[0] as X509Certificate;
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch (cause) {
      throw new TransportError(`keyFile holds no usable private key: ${(cause as Error).message}`, keyPath, { cause });
    }
    if (!leaf.checkPrivateKey(privateKey)) throw new TransportError("keyFile's key does not belong to certFile's certificate", keyPath);
    options.cert = cert;
    options.key = key;
    clientCertificate = subjectLine(leaf);
    hash.update(cert).update(key);
  }
  const t = spec.forwardingTimeouts ?? {};
  const ms = (d: string | undefined): number | undefined => (d === undefined ? undefined : parseDuration(d));
  const idle = spec.maxIdleConnsPerHost;
  return {
    name,
    tls: { options, serverName: spec.serverName, insecureSkipVerify: spec.insecureSkipVerify ?? false, rootCaNames, clientCertificate },
    connectTimeoutMs: ms(t.dialTimeout),
    responseHeadersTimeoutMs: ms(t.responseHeaderTimeout),
    idleTimeoutMs: ms(t.idleConnTimeout),
    maxConnections: idle === undefined || idle === 0 ? undefined : idle,
    key: `${name}:${hash.digest('hex')}`,
  };
}

/** Every transport of a config, compiled: a Transport, or the error that disables the services using it. */
export function compileTransports(
  specs: Readonly<Record<string, ServersTransportConfig>> | undefined,
  baseDir: string,
): ReadonlyMap<string, Transport | TransportError> {
  const out = new Map<string, Transport | TransportError>();
  for (const [name, spec] of Object.entries(specs ?? {})) {
    try {
      out.set(name, compileTransport(name, spec, baseDir));
    } catch (err) {
      out.set(name, err instanceof TransportError ? err : new TransportError((err as Error).message, `/http/serversTransports/${name}`, { cause: err }));
    }
  }
  return out;
}
