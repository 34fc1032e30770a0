/**
 * nv2: sign and verify OCI artifacts with x509 certificates.
 *
 * The public library API. Every export is named here on purpose; anything not listed is
 * internal and free to change.
 *
 * @example
 * import { TrustSet, loadCertificates, verify } from 'nv2';
 * const trust = new TrustSet({ certificates: loadCertificates(certPem, 'signer.crt') });
 * const result = await verify(jws, { mediaType, content: manifestBytes }, trust);
 */
export {
  CODES,
  InvalidInputError,
  Nv2Error,
  VerificationFailedError,
  VerificationInconclusiveError,
  isNv2Error,
} from './errors.js';
export type { Nv2ErrorCode } from './errors.js';
export {
  DEFAULT_MANIFEST_MEDIA_TYPE,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  createDescriptor,
  describeManifest,
  digestOf,
  formatReference,
  isDigest,
  isMediaType,
  parseDigest,
  parseReference,
} from './oci/index.js';
export type {
  Descriptor,
  Digest,
  DigestAlgorithm,
  ManifestContent,
  Reference,
} from './oci/index.js';
export { parseManifestLocator } from './content/index.js';
export type { ManifestLocator } from './content/index.js';
export {
  ALGORITHMS,
  MAX_SIGNATURE_BYTES,
  algorithmForKey,
  keyId,
  parseSignature,
  sign,
} from './signature/index.js';
export type {
  Algorithm,
  ParsedSignature,
  SignOptions,
  SignatureClaims,
  SignatureHeader,
  Signer,
} from './signature/index.js';
export {
  Certificate,
  KEY_TYPES,
  KeyUsageFlags,
  generateCertificate,
  generateKeyPair,
  issueCertificate,
  keysMatch,
  loadCertificates,
  loadPrivateKey,
} from './x509/index.js';
export type {
  CertificatePath,
  CertificateRequest,
  GenerateCertificateOptions,
  KeyType,
} from './x509/index.js';
export { TrustSet, verify } from './trust/index.js';
export type {
  TrustSetOptions,
  VerificationResult,
  VerificationSubject,
  VerifyOptions,
} from './trust/index.js';
export { CHECK_FAILURE_CODES, VALIDATION_TYPES } from './trust/index.js';
export type {
  CheckResult,
  EvaluationPolicy,
  SignatureEvaluation,
  SignatureFormat,
  ValidationAction,
  ValidationType,
} from './trust/index.js';
export {
  LEVEL_ACTIONS,
  PolicyConfig,
  certificatePolicy,
  certificatePolicyConfig,
  VERIFICATION_LEVELS,
  configDirectory,
  loadPolicyConfig,
} from './policy/index.js';
export type {
  CertificatePolicyConfigOptions,
  CertificatePolicyOptions,
  TrustSource,
  VerificationLevel,
} from './policy/index.js';
export {
  DEFAULT_MAX_SIGNATURES,
  PolicyVerificationError,
  verifyWithPolicy,
} from './verification/index.js';
export type {
  SignatureOutcome,
  PolicyVerification,
  VerifyWithPolicyOptions,
} from './verification/index.js';
