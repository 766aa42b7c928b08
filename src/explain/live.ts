/**
 * The explain model of a running instance (`gatehouse explain --running`): the runtime in force (its compiled
 * routes, TCP routes and disabled routers), the http-01 settings in force, the certificates its store serves now,
 * and each server's health now. Nothing is built: the instance answers from what it serves with.
 */
import { wantedCertificates } from '../acme/index.js';
import type { HttpChallengeSettings } from '../challenges/http-settings.js';
import type { CertStore } from '../certs/index.js';
import type { Config } from '../config/index.js';
import type { Runtime } from '../runtime/index.js';
import { catalogOf, facts } from './certificates.js';
import type { Health } from './describe.js';
import type { OfflineModel } from './offline.js';

export interface LiveSources {
  readonly config: Config;
  readonly file: string;
  readonly runtime: Runtime;
  readonly challenges: HttpChallengeSettings;
  readonly certs: CertStore | undefined;
  /** Where ACME certificates live: a certificate from there is reported as `acme`. */
  readonly acmeDir: string;
  readonly health: Health;
}

/** The model of what `sources` serve now; `dispose` is a no-op (nothing was built). */
export function liveModel(sources: LiveSources): OfflineModel {
  const { config, runtime, certs } = sources;
  const isTcp = (path: string | undefined) => path?.startsWith('/tcp/') ?? false;
  const listed = certs?.list() ?? [];
  const served = listed.filter((c) => !c.isDefault);
  const fallback = listed.find((c) => c.isDefault);
  const catalog = certs
    ? catalogOf(
        served.map((c) => facts(c.source.startsWith(sources.acmeDir) ? 'acme' : 'file', c.source, c.names, c.notAfter)),
        {
          refuse: config.tls?.defaultCertificate?.onUnknownName === 'refuse',
          defaultSource: fallback?.source ?? 'the default certificate',
          problems: [],
          acmeNotRead: false,
        },
      )
    : undefined;
  return {
    config,
    file: sources.file,
    routes: (ep) => runtime.routes(ep),
    tcpRoutes: (ep) => runtime.tcpRoutes(ep),
    disabledHttp: runtime.problems.filter((p) => !isTcp(p.error.location.path)),
    disabledTcp: runtime.problems.filter((p) => isTcp(p.error.location.path)),
    udp: runtime.udp,
    challenges: sources.challenges,
    wanted: wantedCertificates(config).wanted,
    certificates: catalog,
    health: sources.health,
    dispose: async () => {},
  };
}
