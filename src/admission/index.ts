/**
 * Deploy-time enforcement: a Kubernetes admission webhook (`/validate`, `/mutate`) and an OPA
 * Gatekeeper external-data provider (`/provider`) that admit only images whose nv2
 * signatures verify under the trust policy. Resolution of tags, caching by digest, the
 * registry deadline and the HTTP surface live here; the verdict on one image is an
 * `ImageVerifier`'s, made by `createImageVerifier` from `trustpolicy.json` and the trust
 * store. Depends on `oci`, `trust`, `policy`, `notary`, `remote`, `http` and prom-client.
 *
 * @example
 * const registries = new RegistryAccess({ credentials });
 * const verifier = await createImageVerifier({ configDir: '/etc/nv2', registries });
 * const handler = createAdmissionHandler({ checks: new ImageChecks({ verifier, registries }) });
 * const server = await startAdmissionServer({ handler, tls: { cert, key } });
 */
export { TtlCache } from './cache.js';
export { DEFAULT_CONFIG_POLL_MS, reloadOnConfigChange } from './config-watch.js';
export type { ConfigReloadOptions } from './config-watch.js';
export {
  DEFAULT_CACHE_ENTRIES,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_TAG_TTL_MS,
  ImageChecks,
  MAX_TAG_TTL_MS,
} from './checks.js';
export type { ImageCheck, ImageChecksOptions } from './checks.js';
export { DEFAULT_DEADLINE_MS, MAX_REVIEW_BYTES, createAdmissionHandler } from './handler.js';
export type { AdmissionHandler, AdmissionHandlerOptions, LogEntry } from './handler.js';
export {
  MAX_PROVIDER_KEYS,
  PROVIDER_API_VERSION,
  parseProviderRequest,
  providerResponse,
} from './provider.js';
export type { ProviderItem, ProviderResponse, ProviderValue } from './provider.js';
export { DEFAULT_REQUEST_TIMEOUT_MS, RegistryAccess } from './registry-access.js';
export type { RegistryAccessOptions } from './registry-access.js';
export { ADMISSION_API_VERSION, parseAdmissionReview, pinnedImage } from './review.js';
export type {
  AdmissionRequest,
  AdmissionResponse,
  AdmissionReviewResponse,
  PatchOperation,
} from './review.js';
export { DEFAULT_TLS_POLL_MS, startAdmissionServer } from './server.js';
export type { AdmissionServer, AdmissionServerOptions } from './server.js';
export { PolicyImageVerifier, createImageVerifier, loadAdmissionPolicy } from './verifier.js';
export type {
  ImageVerification,
  ImageVerifier,
  ImageVerifierOptions,
  PinnedReference,
} from './verifier.js';
export { CONTAINER_LISTS, POD_SPEC_PATHS, hasPodSpec, imageSites } from './workload.js';
export type { ContainerList, ImageSite } from './workload.js';
