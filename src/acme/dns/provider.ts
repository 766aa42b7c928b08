/**
 * The contract between dns-01 and a DNS provider (RFC 2136, exec, Cloudflare): write one TXT value, remove it
 * again. The zone and the name the record goes to (after a CNAME on `_acme-challenge`) are found before a provider
 * is asked (src/acme/dns/zone.ts), so a provider only writes where it is told.
 */
import type { DnsRecordNote } from '../../storage/types.js';

/**
 * One TXT value a dns-01 challenge needs (RFC 8555 §8.4), with everything a provider or a later clean-up needs: the
 * same shape the certificate's status keeps while the value is out (src/storage/types.ts DnsRecordNote), so a record
 * noted before a crash can be removed at the next start as it was written.
 */
export type TxtRecord = DnsRecordNote;

/**
 * A DNS provider. `present` resolves once the provider accepted the value (not once it is visible: propagation is
 * checked separately); other TXT values at the same name stay (a wildcard and its apex share
 * `_acme-challenge.<apex>`, RFC 8555 §8.4). `cleanup` removes only this value and resolves when it is gone or was
 * never there, so it is safe to repeat (after a crash). Both may run concurrently for different values. Errors are
 * plain Errors whose message says what the provider answered; they must not contain a secret.
 */
export interface DnsProvider {
  /** `rfc2136 192.0.2.53:53`, `exec /path`, `cloudflare`: for logs and errors. */
  readonly description: string;
  present(record: TxtRecord): Promise<void>;
  cleanup(record: TxtRecord): Promise<void>;
}
