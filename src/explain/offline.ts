/**
 * The pieces of a config that explain reads, built the way a running instance builds them (services, middlewares,
 * route tables, TCP routes, http-01 settings, the certificate index) but without listening: health checks are
 * stopped before their first probe leaves, and everything is closed again by `dispose`.
 */
import { wantedCertificates, type WantedCertificate } from '../acme/index.js';
import { httpChallengeSettings, type HttpChallengeSettings } from '../challenges/http-settings.js';
import { loadConfigFile, type Config } from '../config/index.js';
import type { GatehouseError } from '../errors.js';
import { buildMiddlewares } from '../http/middlewares.js';
import { buildRouteTable, type CompiledRoute } from '../http/router.js';
import { buildServices } from '../http/services.js';
import { createLogger } from '../log.js';
import { buildTcpRoutes, type TcpRoute } from '../tcp/index.js';
import { buildUdpRoutes, type UdpRouteTable } from '../udp/index.js';
import { loadCertificateCatalog, type CertificateCatalog } from './certificates.js';

/** A router that was disabled, and why. */
export interface Disabled {
  readonly router: string;
  readonly error: GatehouseError;
}

/** Everything explain needs from one config file. */
export interface OfflineModel {
  readonly config: Config;
  readonly file: string;
  /** HTTP routers of an entry point in the order they are tried. */
  routes(entryPoint: string): readonly CompiledRoute[];
  /** Passthrough routes of a TLS entry point in the order they are tried. */
  tcpRoutes(entryPoint: string): readonly TcpRoute[];
  readonly disabledHttp: readonly Disabled[];
  readonly disabledTcp: readonly Disabled[];
  /** The UDP routers and services (`explain --udp`). */
  readonly udp?: UdpRouteTable;
  readonly challenges: HttpChallengeSettings;
  readonly wanted: readonly WantedCertificate[];
  /** Undefined when no entry point terminates TLS (then no certificate is ever served). */
  readonly certificates: CertificateCatalog | undefined;
  /**
   * A running instance only (`explain --running`): each server's health now, by service name; undefined offline,
   * where health is not known.
   */
  readonly health?: (service: string) => readonly { readonly url: string; readonly up: boolean }[] | undefined;
  /** Closes what building opened (upstream pools, forwarders). */
  dispose(): Promise<void>;
}

/** Loads `file` and builds its model; throws the config's GatehouseErrors when the file is invalid. */
export async function loadOffline(file: string, env: NodeJS.ProcessEnv = process.env): Promise<OfflineModel> {
  const config = loadConfigFile(file, env);
  const log = createLogger({ level: 'silent' });
  const services = buildServices(config, {}, log);
  // Health checks schedule their first probe on a zero timer: stopping them now means no probe is ever sent.
  services.stopHealthChecks();
  const middlewares = buildMiddlewares(config, {});
  const table = buildRouteTable(config, services, middlewares);
  const tcp = buildTcpRoutes(config, log);
  tcp.stopHealthChecks(); // the same for TCP services' checks: explain never connects to a backend
  const dispose = async (): Promise<void> => {
    await Promise.all([services.close(), tcp.close()]);
  };
  try {
    const wanted = wantedCertificates(config).wanted;
    const tls = Object.values(config.entryPoints).some((e) => e.tls !== undefined);
    return {
      config,
      file,
      routes: (ep) => table.byEntryPoint.get(ep) ?? [],
      tcpRoutes: (ep) => tcp.byEntryPoint.get(ep) ?? [],
      disabledHttp: table.problems,
      disabledTcp: tcp.problems,
      udp: buildUdpRoutes(config),
      challenges: httpChallengeSettings(config, file, wanted),
      wanted,
      certificates: tls ? await loadCertificateCatalog(config, file, env) : undefined,
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
