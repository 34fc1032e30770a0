/**
 * The registry as a server (`nv2 registry serve`): the configuration file and flags resolved
 * into one `RegistryConfig`, and `startRegistryServer`, which builds the store, access
 * control, trust, logging and metrics from it and listens. The CLI only parses flags and calls
 * these, as it does `startAdmissionServer`. A separate entry from `registry/index.ts` (the
 * library, `nv2/registry`), so that library users and the light `nv2 registry` commands do not
 * load the server's dependencies (prom-client, yaml).
 */
export { parseListenAddress, readConfigFile, resolveRegistryConfig } from './config.js';
export type {
  AuthConfig,
  ListenAddress,
  RegistryConfig,
  S3StorageConfig,
  ServeFlags,
  TrustConfig,
} from './config.js';
export { DEFAULT_ADDR, DEFAULT_ROOT } from './defaults.js';
export { createBatchedLogSink } from './logging.js';
export type { LogSink } from './logging.js';
export { startRegistryServer } from './server.js';
export type { RunningRegistry } from './server.js';
