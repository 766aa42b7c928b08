/**
 * A worker process of `workers` > 1 (issue 21): forked by the primary (src/cluster/fleet.ts) with the same command
 * line, it waits for the primary's first message (the config the primary validated, the ACME certificates and
 * pending challenges so far), then serves the entry points like a single gatehouse without the parts that must
 * exist once. It swaps config, installs certificates and challenges, and drains when the primary says so; when the
 * primary goes away (its IPC channel closes) it drains and exits too.
 */
import { createGatehouseIn, type Gatehouse } from '../api.js';
import type { Admin } from '../admin/index.js';
import type { CertStore } from '../certs/index.js';
import { createMemoryChallengeRegistry } from '../challenges/index.js';
import type { Edge } from '../edge/start.js';
import { toWire } from './fleet.js';
import type { ToPrimary, ToWorker, WireCertificate } from './messages.js';

/** How often a worker tells the primary its open connections, when the admin entry point shows them. */
const STATS_MS = 2_000;

/** Runs this process as worker `GATEHOUSE_WORKER` of the primary that forked it; resolves once it serves. */
export async function runWorker(file: string | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  const send = (msg: ToPrimary): void => {
    if (process.connected) process.send!(msg);
  };
  const challenges = createMemoryChallengeRegistry();
  const certificates = new Map<string, WireCertificate>();
  let store: CertStore | undefined;
  let view: { admin(): Admin | undefined; edge(): Edge | undefined } | undefined;
  let gh: Gatehouse | undefined;
  let started = false;
  let stopping = false;
  /** Reloads run one at a time, in the order the primary sent them. */
  let reloading: Promise<unknown> = Promise.resolve();

  const put = (c: WireCertificate): void => {
    try {
      store?.put(c[0], c[1], c[2]);
    } catch {
      // CERT_INVALID: the primary's own store refused it first and logged why; nothing more to say here
    }
  };
  const stop = (graceMs?: number): void => {
    if (stopping) return;
    stopping = true;
    const done = (code: number): void => process.exit(code);
    // Not serving yet: nothing to drain (the start's own clean-up is the process's exit).
    if (!started || !gh) return done(0);
    gh.stop(graceMs === undefined ? {} : { graceMs }).then(
      () => done(0),
      () => done(1),
    );
  };

  const hello = await new Promise<Extract<ToWorker, { t: 'hello' }>>((resolve, reject) => {
    process.once('disconnect', () => reject(new Error('the primary went away before this worker started')));
    const first = (msg: ToWorker): void => {
      if (msg.t !== 'hello') return;
      process.off('message', first);
      resolve(msg);
    };
    process.on('message', first);
    send({ t: 'waiting' });
  });
  for (const [token, ka] of hello.challenges.http) challenges.putHttp(token, ka);
  for (const [name, cert, key] of hello.challenges.alpn) challenges.putAlpn(name, cert, key);
  for (const c of hello.certificates) certificates.set(c[0], c);

  process.on('message', (msg: ToWorker) => {
    switch (msg.t) {
      case 'reload':
        reloading = reloading.then(async () => {
          const result = await gh!.reload(msg.config);
          // A refused reload cannot happen (the primary validated it); a listener that cannot bind can.
          const errors = result.errors.map((e) => ({ code: 'LISTEN_FAILED', message: e }));
          send({ t: 'reloaded', seq: msg.seq, errors, addresses: gh!.addresses() });
        });
        return;
      case 'certificate':
        certificates.set(msg.certificate[0], msg.certificate);
        put(msg.certificate);
        return;
      case 'challenge':
        if (msg.kind === 'http') {
          if (msg.op === 'put') challenges.putHttp(msg.key, msg.value!);
          else challenges.removeHttp(msg.key);
        } else if (msg.op === 'put') challenges.putAlpn(msg.key, msg.certPem!, msg.keyPem!);
        else challenges.removeAlpn(msg.key);
        send({ t: 'ack', seq: msg.seq });
        return;
      case 'metrics':
        void (view?.admin()?.metricsJson() ?? Promise.resolve([])).then((metrics) => send({ t: 'metrics', seq: msg.seq, metrics }));
        return;
      case 'stop':
        stop(msg.graceMs);
        return;
      case 'reopen-log':
        gh?.reopenLogFile();
        return;
      default:
        return;
    }
  });
  // The primary is gone (killed, crashed): nobody restarts or stops this worker any more, so it drains and exits.
  process.on('disconnect', () => stop());
  // A signal to the whole process group (a terminal's Ctrl-C, systemd's stop) reaches the workers too: they drain
  // like the primary asks them to. SIGHUP is the primary's (it validates once and tells every worker).
  process.on('SIGTERM', () => stop());
  process.on('SIGINT', () => stop());
  process.on('SIGHUP', () => undefined);
  process.on('SIGUSR1', () => undefined);

  try {
    gh = createGatehouseIn(
      { config: file ?? hello.config, env },
      {
        kind: 'worker',
        id: hello.id,
        config: hello.config,
        challenges,
        certStoreBuilt(built) {
          store = built;
          for (const c of certificates.values()) put(c);
        },
        attach(v) {
          view = v;
        },
      },
    );
    await gh.start();
  } catch (err) {
    send({ t: 'failed', error: toWire(err) });
    // Give the IPC message a turn to leave before the process does.
    setTimeout(() => process.exit(1), 50);
    return;
  }
  started = true;
  if (stopping) {
    stopping = false;
    return stop();
  }
  send({ t: 'ready', addresses: gh.addresses() });
  if (hello.stats) {
    setInterval(() => {
      const edge = view?.edge();
      // udpCounters: the UDP entry points' counters, where the edge has them.
      if (edge) send({ t: 'stats', connections: edge.connections(), udp: (edge as { udpCounters?: () => Record<string, unknown> }).udpCounters?.() ?? {} });
    }, STATS_MS).unref();
  }
}
