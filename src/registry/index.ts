/**
 * The registry server: an OCI distribution-spec v1.1 registry (referrers API included) as a
 * Node request handler, over a storage layer on a pluggable driver.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { createFilesystemDriver, createRegistry, createStore } from 'nv2/registry';
 *
 * const store = createStore(createFilesystemDriver({ root: '/var/lib/nv2/registry' }));
 * createServer(createRegistry({ store })).listen(5000);
 */
export { createRegistry } from './create-registry.js';
export type { CreateRegistryOptions, RequestRecord } from './create-registry.js';
export { createStore } from './storage/create-store.js';
export type { StoreOptions } from './storage/create-store.js';
export { createStoreCaches } from './storage/caches.js';
export type { StoreCaches } from './storage/caches.js';
export { RegistryError } from './storage/store.js';
export type { RegistryStore } from './storage/store.js';
export {
  STORAGE_DRIVERS,
  createFilesystemDriver,
  createMemoryDriver,
  isValidStoragePath,
  loadS3Driver,
} from './storage/index.js';
export type {
  FileInfo,
  FileWriter,
  FilesystemDriverOptions,
  S3Driver,
  S3DriverOptions,
  StorageDriver,
  StorageDriverName,
} from './storage/index.js';
export {
  AccessControl,
  DEFAULT_SERVICE,
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  createAccessControl,
} from './auth/access.js';
export type { AccessControlOptions } from './auth/access.js';
export { TOKEN_PATH } from './auth/challenge.js';
export { DEFAULT_SIGNATURE_TYPES, Grant } from './auth/grant.js';
export type { TokenResponse } from './auth/token-endpoint.js';
export { ROLES, ROLE_ACTIONS } from './auth/rules.js';
export type { AccessRule, RepositoryAction, Role } from './auth/rules.js';
export {
  DEFAULT_BCRYPT_COST,
  formatHtpasswd,
  hashPassword,
  isUserName,
  parseHtpasswd,
  readHtpasswd,
} from './auth/htpasswd.js';
export { generateTokenSigningKey, loadTokenSigningKey, tokenSigningKey } from './auth/tokens.js';
export type { TokenSigningKey } from './auth/tokens.js';
export type { FailureLimits } from './auth/limiter.js';
export { collectGarbage } from './storage/gc.js';
export { collectGarbageNow, migrateMetadata, openRegistryStore } from './metadata.js';
export type { OpenedStore, StoreLog } from './metadata.js';
export { checkMetadataConfig } from './metadata-config.js';
export type { DatabaseConfig, MetadataConfig, OnlineGcConfig } from './metadata-config.js';
export type { GcOptions, GcReport } from './storage/gc.js';
export { DEFAULT_MAX_VERDICTS, RegistryTrust, createRegistryTrust } from './trust/verdicts.js';
export type {
  EnforcementDecision,
  EnforcementLevel,
  EnforcementRule,
  RegistryTrustOptions,
  SignatureFinding,
  SignatureFormatName,
  SignatureStatus,
  TrustStatus,
  TrustVerdict,
} from './trust/verdicts.js';
