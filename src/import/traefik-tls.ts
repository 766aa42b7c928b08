/**
 * Traefik's dynamic `tls` section → gatehouse's `tls`: certificate files, the default TLS options (oldest
 * version, strict SNI) and the default store's certificate. gatehouse has one set of TLS options and one store,
 * so named options and stores other than `default` are dropped.
 */
import type { Plain, TraefikNode } from './traefik-node.js';

const MIN_VERSIONS: Readonly<Record<string, string>> = { VersionTLS12: 'TLSv1.2', VersionTLS13: 'TLSv1.3' };

function pemPair(node: TraefikNode): Plain | undefined {
  const certFile = node.str('certFile');
  const keyFile = node.str('keyFile');
  if (certFile === undefined || keyFile === undefined) {
    node.drops.add(node.path, 'needs both certFile and keyFile');
    return undefined;
  }
  // Traefik also takes the PEM text itself in these fields; gatehouse reads files (and never copies keys into its config).
  if (certFile.includes('-----BEGIN') || keyFile.includes('-----BEGIN')) {
    node.drops.add(node.path, 'inline PEM is not supported; write the certificate and key to files');
    return undefined;
  }
  return { certFile, keyFile };
}

function options(node: TraefikNode, tls: Plain): void {
  const out: Plain = {};
  const min = node.str('minVersion');
  if (min !== undefined) {
    if (MIN_VERSIONS[min]) out['minVersion'] = MIN_VERSIONS[min];
    else node.drops.add(node.at('minVersion'), `${min}: gatehouse accepts TLS 1.2 at the oldest`);
  }
  node.drop('maxVersion', 'the newest version (TLS 1.3) is always offered');
  node.drop('cipherSuites', "Go cipher suite names; gatehouse's default is ECDHE with AES-GCM or ChaCha20-Poly1305 only (set tls.options.ciphers in OpenSSL names)");
  node.drop('curvePreferences', 'curves follow OpenSSL\'s defaults');
  node.drop('clientAuth', 'client certificates are not supported');
  node.drop('alpnProtocols', 'ALPN is chosen by gatehouse (http/1.1, and acme-tls/1 for challenges)');
  node.ignore('preferServerCipherSuites');
  const strict = node.bool('sniStrict');
  node.done();
  if (Object.keys(out).length > 0) tls['options'] = out;
  if (strict) tls['defaultCertificate'] = { ...(tls['defaultCertificate'] as Plain | undefined), onUnknownName: 'refuse' };
}

/** The `tls` section, or undefined when nothing of it carries over. */
export function convertTls(node: TraefikNode): Plain | undefined {
  const tls: Plain = {};
  const certificates: Plain[] = [];
  for (const c of node.children('certificates')) {
    const stores = c.strings('stores');
    if (stores && stores.some((s) => s !== 'default')) c.drops.add(c.at('stores'), 'gatehouse has one certificate store; the certificate is served from it');
    const pair = pemPair(c);
    c.done();
    if (pair) certificates.push(pair);
  }
  if (certificates.length > 0) tls['certificates'] = certificates;
  for (const [name, store] of node.entries('stores')) {
    if (name !== 'default') {
      store.drops.add(store.path, 'gatehouse has one certificate store (default)');
      continue;
    }
    const def = store.child('defaultCertificate');
    if (def) {
      const pair = pemPair(def);
      def.done();
      if (pair) tls['defaultCertificate'] = pair;
    }
    store.drop('defaultGeneratedCert', 'the default certificate is self-signed unless defaultCertificate names files; ACME for it is not supported');
    store.done();
  }
  for (const [name, opts] of node.entries('options')) {
    if (name === 'default') options(opts, tls);
    else opts.drops.add(opts.path, 'gatehouse has one set of TLS options (default); routers naming these get the default ones');
  }
  node.done();
  return Object.keys(tls).length > 0 ? tls : undefined;
}
