/**
 * The library's one HTTP client: a `fetch`-shaped transport over Node's keep-alive agents
 * with per-request deadlines, CA files, proxies (HTTPS_PROXY, HTTP_PROXY, NO_PROXY as docker
 * and notation honour them) and bounded body reads. Used by the registry client, admission,
 * revocation, the timestamp client and certificate downloads. Depends on no other module.
 */
export { readCaFile } from './ca.js';
export { proxyFor, proxyFromEnv } from './proxy.js';
export type { ProxyConfig, ProxyEnv } from './proxy.js';
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_SOCKETS,
  MAX_REDIRECTS,
  createHttpTransport,
  getFollowingRedirects,
  readBoundedBody,
} from './transport.js';
export type {
  FetchLike,
  HttpTransport,
  HttpTransportOptions,
  TransportRequest,
  TransportResponse,
} from './transport.js';
