/**
 * The registry client: `Repository` implements the content Target roles (and `ReferrerLister`,
 * `Deleter`) over the OCI distribution-spec API, on a shared `RegistryClient` that handles
 * schemes, authentication, retries and redirects. Credentials come from a provider chain
 * (`-u/-p`, `NV2_USERNAME`/`NV2_PASSWORD`, docker's config and credential helpers).
 * Depends on `oci` and `content`; HTTP is Node's own (`node:http`, `node:https`).
 *
 * @example
 * import { Repository, createRegistryClient, defaultCredentials } from 'nv2/remote';
 *
 * const client = createRegistryClient({ credentials: defaultCredentials({ env: process.env }) });
 * const repo = Repository.fromReference('registry.example.com/app', { client });
 * const manifest = await repo.resolve('v1');
 * const signatures = await repo.referrers(manifest, { artifactType: 'application/vnd.cncf.notary.v2' });
 * await client.close();
 */
export {
  DEFAULT_MAX_ATTEMPTS,
  MAX_REDIRECTS,
  MAX_RETRY_AFTER_MS,
  createRegistryClient,
} from './client.js';
export type {
  HttpMethod,
  RegistryClient,
  RegistryClientOptions,
  RegistryRequest,
} from './client.js';
export { MAX_ERROR_BODY_BYTES } from './http.js';
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_SOCKETS,
  createHttpTransport,
  proxyFromEnv,
} from '../http/index.js';
export type {
  FetchLike,
  HttpTransport,
  HttpTransportOptions,
  ProxyConfig,
  ProxyEnv,
  TransportRequest,
  TransportResponse,
} from '../http/index.js';
export type { RegistryResponse } from './http.js';
export {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MONOLITHIC_MAX_BYTES,
  MAX_PAGES,
  manifestAccept,
} from './repository-options.js';
export { Repository } from './repository.js';
export { MAX_REFERRERS_INDEX_ATTEMPTS } from './referrers.js';
export type {
  ManifestPreference,
  ManifestPushResult,
  PushOptions,
  RepositoryOptions,
} from './repository-options.js';
export { referrersTag } from '../oci/index.js';
export { parseChallenges } from './auth/challenge.js';
export type { Challenge } from './auth/challenge.js';
export {
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  TOKEN_EXPIRY_LEEWAY_MS,
  mergeScopes,
  repositoryScope,
} from './auth/token.js';
export {
  chainCredentials,
  defaultCredentials,
  dockerConfigCredentials,
  envCredentials,
  staticCredentials,
} from './auth/credentials.js';
export type { DefaultCredentialsOptions } from './auth/credentials.js';
export type { Credential, CredentialProvider, Env } from './auth/credential.js';
export {
  DEFAULT_HELPER_TIMEOUT_MS,
  DOCKER_HUB_CONFIG_KEY,
  dockerConfigCredential,
  dockerConfigKey,
  dockerConfigPath,
  login,
  logout,
} from './auth/docker-config.js';
export type {
  DockerConfigOptions,
  LoginOptions,
  LoginResult,
  LogoutOptions,
} from './auth/docker-config.js';
