/**
 * Kernel settings that decide how the host fares when many clients read slowly, checked once at start and logged
 * as warnings with the command that fixes them (as Redis warns about `overcommit_memory`). Issue 20, docs/hostile.md
 * "Slow readers arriving together".
 *
 * `net.ipv4.tcp_notsent_lowat` (Linux's default: unlimited) is how many bytes the kernel takes into a socket's send
 * queue beyond what is in flight. Unlimited, every slow reader is handed the first megabytes of its response at full
 * speed (the send buffer grows to `tcp_wmem`'s maximum, 4 MiB by default), by any proxy: 1000 of them filled this
 * machine's TCP memory (`tcp_mem`'s hard limit, 2.2 GB on 24 GiB) and the kernel then dropped packets of every
 * connection on the host, so legitimate requests waited 0.5–3.4 s for retransmissions, through gatehouse and nginx
 * alike. With 128 KiB the same attack used 0.6 GB and legitimate requests kept a p99 of a few ms. It is per network
 * namespace, so a container sets its own (`docker run --sysctl`). A fast client loses nothing: the limit is on
 * unsent bytes, not on the congestion window.
 */
import { readFileSync } from 'node:fs';

/** What to set `net.ipv4.tcp_notsent_lowat` to. */
export const RECOMMENDED_NOTSENT_LOWAT = 131_072;
/** Above this the setting is reported: 1 MiB still bounds 1000 slow readers to about 1 GB of kernel memory. */
export const NOTSENT_LOWAT_REPORTED_ABOVE = 1_048_576;

/** One setting to change: its name, the value read, the value to set, and how. */
export interface HostFinding {
  readonly setting: string;
  readonly value: string;
  readonly recommended: string;
  readonly fix: string;
  readonly message: string;
}

/** A sysctl's value (`net.ipv4.tcp_wmem` → the text of /proc/sys/net/ipv4/tcp_wmem), or undefined where there is none. */
export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim();
  } catch {
    return undefined; // not Linux, or /proc not mounted: nothing to say
  }
}

/** The settings of this host that leave it open to slow readers; none where they are set (or cannot be read). */
export function hostFindings(read: (name: string) => string | undefined = readSysctl): HostFinding[] {
  const setting = 'net.ipv4.tcp_notsent_lowat';
  const raw = read(setting);
  const value = raw === undefined ? NaN : Number(raw);
  if (!Number.isFinite(value) || value <= NOTSENT_LOWAT_REPORTED_ABOVE) return [];
  // The send queue a slow reader can fill: tcp_wmem's third field (4 MiB by default).
  const wmemMax = Number(read('net.ipv4.tcp_wmem')?.split(/\s+/)[2]);
  const perReader = Number.isFinite(wmemMax) && wmemMax > 0 ? `${Math.round(wmemMax / 1024)} KiB` : 'megabytes';
  const shown = value >= 2 ** 32 - 1 ? 'unlimited' : String(value);
  const recommended = String(RECOMMENDED_NOTSENT_LOWAT);
  return [
    {
      setting,
      value: shown,
      recommended,
      fix: `sysctl -w ${setting}=${recommended}; to keep it, a line ${setting}=${recommended} in /etc/sysctl.d/90-gatehouse.conf; in a container: docker run --sysctl ${setting}=${recommended}`,
      message: `kernel setting ${setting} is ${shown}: every slow client can queue up to ${perReader} of unsent response in the kernel, and enough of them (1000 on a 24 GiB machine, fewer with less memory) fill its TCP memory and stall every connection on this host (docs/hostile.md)`,
    },
  ];
}
