/** One explain question, as the CLI asks it offline and sends it to a running instance (`--running`). */
import { explainHttp, type HttpExplanation } from './http.js';
import type { OfflineModel } from './offline.js';
import { buildRequest } from './request.js';
import { explainSni, type SniExplanation } from './sni.js';
import { explainUdp, type UdpExplanation } from './udp.js';
import { explainTcp, type TcpExplanation } from './tcp.js';
import { buildUdpRoutes } from '../udp/index.js';

/** A URL (HTTP) or an SNI (TLS), with what the request carries. */
export interface ExplainQuery {
  readonly url?: string;
  readonly sni?: string;
  readonly alpn: readonly string[];
  readonly method?: string;
  readonly headers: readonly string[];
  readonly clientIp: string;
  readonly entryPoint?: string;
  /** `--udp`: what the UDP entry points do with a new session. */
  readonly udp?: boolean;
  /** `--tcp`: what the plain TCP entry points do with a new connection from clientIp. */
  readonly tcp?: boolean;
}

/** Answers `query` on `model`. Throws UsageError (a bad URL, an unknown entry point). */
export function answerQuery(model: OfflineModel, query: ExplainQuery): HttpExplanation | SniExplanation | UdpExplanation | TcpExplanation {
  if (query.tcp === true) return explainTcp(model, query.clientIp, query.entryPoint);
  if (query.udp === true) return explainUdp(model.config, model.udp ?? buildUdpRoutes(model.config), query.entryPoint);
  const entryPoint = query.entryPoint !== undefined ? { entryPoint: query.entryPoint } : {};
  if (query.sni !== undefined) return explainSni(model, { sni: query.sni, alpn: [...query.alpn], clientIp: query.clientIp, ...entryPoint });
  return explainHttp(
    model,
    buildRequest({ url: query.url ?? '', ...(query.method !== undefined && { method: query.method }), headers: query.headers, clientIp: query.clientIp, ...entryPoint }),
    query.entryPoint,
  );
}
