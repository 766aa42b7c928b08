/**
 * When to act on a certificate: renew when one third of its lifetime is left (Let's Encrypt lifetimes go from 90
 * to 45 days, so a fixed "30 days before" would renew a 45-day certificate after 15), minus a jitter so a fleet
 * does not renew in one burst; or inside the CA's ARI window (RFC 9773 §4.2) when it offers one. After a failure,
 * exponential backoff per name, and never before a Retry-After.
 */

/** Backoff after the first failure, doubling per failure up to `BACKOFF_MAX_MS`. */
export const BACKOFF_MIN_MS = 1_000;
/** Longest wait between two attempts for one name. */
export const BACKOFF_MAX_MS = 6 * 3600_000;

/** The renewal time of a certificate valid from `notBefore` to `notAfter`: 2/3 of the way, minus up to 2 % jitter. */
export function renewalTime(notBefore: Date, notAfter: Date, random: () => number = Math.random): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const due = notBefore.getTime() + (lifetime * 2) / 3;
  return new Date(due - Math.floor(random() * lifetime * 0.02));
}

/** A time inside an ARI suggested window (RFC 9773 §4.2: a uniformly random point in it). */
export function ariTime(window: { start: Date; end: Date }, random: () => number = Math.random): Date {
  const start = window.start.getTime();
  const end = Math.max(start, window.end.getTime());
  return new Date(start + Math.floor(random() * (end - start)));
}

/** The next attempt after `failures` consecutive failures: exponential backoff, a Retry-After when later. */
export function retryTime(failures: number, now: number, retryAfter?: number, random: () => number = Math.random): Date {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1));
  // ±20 % so names that failed together do not retry together.
  const backoff = now + base * (0.8 + 0.4 * random());
  return new Date(Math.max(backoff, retryAfter ?? 0));
}
