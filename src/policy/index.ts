/**
 * Trust policy: the Notary Project's trust store and trust policy formats (configuration
 * directory, `trustpolicy.json`, `truststore/x509/…`), the statement that applies to a
 * repository (its level, trust stores and trusted identities as an `EvaluationPolicy`).
 * Depends on `oci`, `content` (atomic writes), `signature`, `x509` and `trust`.
 *
 * @example
 * const config = await loadPolicyConfig(configDirectory(process.env));
 * const { evaluation } = await config.policyFor('registry.example.com/app:v1');
 */
export {
  PolicyConfig,
  TRUST_POLICY_FILE,
  actionsOf,
  configDirectory,
  findStatement,
  initialTrustPolicy,
  loadPolicyConfig,
  matchesTrustedIdentity,
  readTrustPolicy,
  repositoryScope,
  withScopeLevel,
  writeTrustPolicy,
} from './config.js';
export type { ApplicablePolicy, TrustSource } from './config.js';
export { CONFIG_PATHS, pathsFingerprint, watchPaths } from './config-watch.js';
export {
  MAX_TRUST_POLICY_BYTES,
  TRUST_POLICY_VERSION,
  TRUST_STORE_NAME_PATTERN,
  TRUST_STORE_TYPES,
  parseRegistryScope,
  parseTrustPolicy,
  parseTrustStoreRef,
  parseTrustedIdentity,
  validateTrustPolicy,
} from './document.js';
export type {
  ScopePattern,
  SignatureVerification,
  TrustPolicyDocument,
  TrustPolicyStatement,
  TrustStoreRef,
  TrustStoreType,
  TrustedIdentity,
} from './document.js';
export {
  formatDistinguishedName,
  isSubsetName,
  parseDistinguishedName,
} from './distinguished-name.js';
export {
  CERTIFICATE_STATEMENT,
  certificatePolicy,
  certificatePolicyConfig,
} from './certificate-policy.js';
export type {
  CertificatePolicyConfigOptions,
  CertificatePolicyOptions,
} from './certificate-policy.js';
export { LEVEL_ACTIONS, VERIFICATION_LEVELS } from './levels.js';
export type { VerificationLevel } from './levels.js';
export { CERTIFICATE_EXTENSIONS, TrustStore } from './trust-store.js';
export type { AddedCertificate, TrustStoreCertificate } from './trust-store.js';
export {
  NOTATION_DIR_ENV,
  pluginDirectories,
  verificationPluginSettings,
} from './plugin-settings.js';
export type { PluginSettingsOverrides } from './plugin-settings.js';
