/** `gatehouse explain`'s public face: a config file's model, and the explanations of a request or a ClientHello. */
export { loadOffline, type OfflineModel } from './offline.js';
export { explainHttp, type HttpExplanation, type HttpEntryExplanation } from './http.js';
export { explainSni, type SniExplanation, type SniEntryExplanation } from './sni.js';
export { explainUdp, type UdpExplanation, type UdpEntryExplanation } from './udp.js';
export { explainTcp, type TcpExplanation, type TcpEntryExplanation } from './tcp.js';
export { buildRequest, DEFAULT_CLIENT_IP, UsageError, type RequestOptions } from './request.js';
export { formatExplanation } from './format.js';
export { answerQuery, type ExplainQuery } from './query.js';
export { liveModel, type LiveSources } from './live.js';
