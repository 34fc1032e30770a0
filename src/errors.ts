/**
 * Typed errors with stable codes.
 *
 * Errors are split by audience (who has to act), codes are fine-grained (what exactly went
 * wrong). Callers switch on `code`, never on the message: messages may be reworded, codes may
 * not. Every code is documented in docs/errors.md; a test keeps the two in step.
 */

/** Every error code nv2 can produce. */
export const CODES = [
  // Input the caller gave us is unusable (bad flags, unreadable files, malformed keys).
  'NV2_ERR_INVALID_ARGUMENT',
  'NV2_ERR_FILE_NOT_FOUND',
  'NV2_ERR_FILE_TOO_LARGE',
  'NV2_ERR_FILE_EXISTS',
  'NV2_ERR_INVALID_DIGEST',
  'NV2_ERR_INVALID_REFERENCE',
  'NV2_ERR_INVALID_MEDIA_TYPE',
  'NV2_ERR_INVALID_MANIFEST',
  'NV2_ERR_INVALID_TARGET',
  'NV2_ERR_INVALID_OCI_LAYOUT',
  'NV2_ERR_INVALID_KEY',
  'NV2_ERR_INVALID_CERTIFICATE',
  'NV2_ERR_KEY_CERT_MISMATCH',
  'NV2_ERR_UNSUPPORTED_KEY',
  'NV2_ERR_UNSUPPORTED_ALGORITHM',
  // Signing keys by name (signingkeys.json), and keys nv2 never sees.
  'NV2_ERR_SIGNING_KEYS_INVALID',
  'NV2_ERR_SIGNING_KEY_NOT_FOUND',
  'NV2_ERR_SIGNING_KEY_EXISTS',
  'NV2_ERR_SIGNER_OUTPUT_INVALID',
  'NV2_ERR_PKCS11_URI_INVALID',
  'NV2_ERR_PKCS11_UNAVAILABLE',
  'NV2_ERR_PKCS11_MODULE',
  'NV2_ERR_PKCS11_TOKEN_NOT_FOUND',
  'NV2_ERR_PKCS11_OBJECT_NOT_FOUND',
  'NV2_ERR_PKCS11_PIN_REQUIRED',
  'NV2_ERR_PKCS11_PIN_INCORRECT',
  'NV2_ERR_PKCS11_PIN_LOCKED',
  'NV2_ERR_PKCS11_PIN_EXPIRED',
  'NV2_ERR_PKCS11_PIN_NOT_INITIALIZED',
  'NV2_ERR_PKCS11_FAILED',
  // Notary Project plugins.
  'NV2_ERR_PLUGIN_NOT_FOUND',
  'NV2_ERR_PLUGIN_FAILED',
  'NV2_ERR_PLUGIN_TIMEOUT',
  'NV2_ERR_PLUGIN_INVALID_RESPONSE',
  'NV2_ERR_PLUGIN_TOO_OLD',
  'NV2_ERR_PLUGIN_CAPABILITY',
  'NV2_ERR_PLUGIN_UNPROCESSED_ATTRIBUTE',
  'NV2_ERR_PLUGIN_VERIFICATION_FAILED',
  // RFC 3161 timestamps obtained at signing.
  'NV2_ERR_TIMESTAMP_UNAVAILABLE',
  'NV2_ERR_TIMESTAMP_INVALID',
  // The signature itself is unusable or does not hold.
  'NV2_ERR_SIGNATURE_MALFORMED',
  'NV2_ERR_SIGNATURE_TOO_LARGE',
  'NV2_ERR_SIGNATURE_ALGORITHM',
  'NV2_ERR_SIGNATURE_CRIT',
  'NV2_ERR_SIGNATURE_INVALID',
  'NV2_ERR_SIGNATURE_NOT_YET_VALID',
  'NV2_ERR_SIGNATURE_EXPIRED',
  'NV2_ERR_KEY_ALGORITHM_MISMATCH',
  'NV2_ERR_KEY_TOO_WEAK',
  'NV2_ERR_SIGNER_UNKNOWN',
  // The certificate chain does not lead to trust.
  'NV2_ERR_CERT_UNTRUSTED',
  'NV2_ERR_CERT_NOT_YET_VALID',
  'NV2_ERR_CERT_EXPIRED',
  'NV2_ERR_CERT_NOT_CA',
  'NV2_ERR_CERT_PATH_LENGTH',
  'NV2_ERR_CERT_KEY_USAGE',
  'NV2_ERR_CERT_CRITICAL_EXTENSION',
  'NV2_ERR_CERT_WEAK_SIGNATURE',
  // The signature holds but is not about this manifest.
  'NV2_ERR_DIGEST_MISMATCH',
  'NV2_ERR_SIZE_MISMATCH',
  'NV2_ERR_MEDIA_TYPE_MISMATCH',
  'NV2_ERR_REFERENCE_MISMATCH',
  // An artifact in a store or registry: it has no signature, or none that holds.
  'NV2_ERR_NO_SIGNATURE',
  'NV2_ERR_NO_VALID_SIGNATURE',
  // Content does not match the descriptor it was fetched or pushed by (checked while streaming).
  'NV2_ERR_CONTENT_DIGEST_MISMATCH',
  'NV2_ERR_CONTENT_SIZE_MISMATCH',
  // Content stores and registries, as a client sees them.
  'NV2_ERR_CONTENT_NOT_FOUND',
  // Registry responses other than success, as a client sees them (RegistryResponseError).
  'NV2_ERR_REGISTRY_UNAUTHORIZED',
  'NV2_ERR_REGISTRY_DENIED',
  'NV2_ERR_REGISTRY_UNSUPPORTED',
  'NV2_ERR_REGISTRY_REJECTED',
  'NV2_ERR_REGISTRY_UNAVAILABLE',
  'NV2_ERR_REGISTRY_RESPONSE',
  // Reaching a registry, and keeping its referrers tag schema index.
  'NV2_ERR_REGISTRY_UNREACHABLE',
  'NV2_ERR_VERIFICATION_TIMEOUT',
  'NV2_ERR_REFERRERS_INDEX_CONFLICT',
  // Registry credentials: docker config files and credential helpers.
  'NV2_ERR_DOCKER_CONFIG_INVALID',
  'NV2_ERR_CREDENTIAL_HELPER',
  'NV2_ERR_DOCKER_PLUGIN_CONFIG',
  'NV2_ERR_DOCKER_ARCHIVE',
  'NV2_ERR_DOCKER_COMMAND',
  // Registry storage.
  'NV2_ERR_STORAGE_NOT_FOUND',
  'NV2_ERR_STORAGE_INVALID_PATH',
  'NV2_ERR_STORAGE_INVALID_RANGE',
  'NV2_ERR_STORAGE_IO',
  // The demo: a step did not behave as the story says (a bug in nv2).
  'NV2_ERR_DEMO_EXPECTATION',
  // Trust configuration: the trust policy document and the trust store.
  'NV2_ERR_TRUST_POLICY_NOT_FOUND',
  'NV2_ERR_TRUST_POLICY_INVALID',
  'NV2_ERR_TRUST_STORE_NOT_FOUND',
  'NV2_ERR_NO_APPLICABLE_POLICY',
  'NV2_ERR_UNSUPPORTED_SIGNATURE_FORMAT',
  'NV2_ERR_CONFIRMATION_REQUIRED',
  'NV2_ERR_DOWNLOAD_FAILED',
  // Nothing could be decided (I/O and runtime failures, not a verdict on the signature).
  'NV2_ERR_IO',
  'NV2_ERR_INTERNAL',
] as const;

/** A stable error code; see docs/errors.md. */
export type Nv2ErrorCode = (typeof CODES)[number];

/** Base class of every error nv2 throws on purpose. */
export class Nv2Error extends Error {
  readonly code: Nv2ErrorCode;
  constructor(code: Nv2ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The caller's input (arguments, files, keys, certificates) cannot be used. */
export class InvalidInputError extends Nv2Error {}

/** The signature was examined and does not hold: it is invalid, untrusted or not for this content. */
export class VerificationFailedError extends Nv2Error {}

/**
 * No verdict could be reached for reasons that say nothing about the signature (a read
 * failed, a registry was unreachable). Callers must not treat this as "untrusted".
 */
export class VerificationInconclusiveError extends Nv2Error {}

/**
 * A storage driver failed: a path is missing or invalid, or the medium failed. Registry code
 * maps these to distribution-spec errors at the HTTP edge; storage paths never reach a response.
 */
export class StorageError extends Nv2Error {}

/** One entry of a registry's error response body (distribution-spec "Error Codes"). */
export interface RegistryErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

/** What a registry answered: the request that was made and the decoded error body. */
export interface RegistryResponseDetails {
  readonly method: string;
  /** The URL asked, without credentials or query secrets. */
  readonly url: string;
  readonly status: number;
  /** The decoded `errors` of the response body; empty when it had none or was not JSON. */
  readonly errors: readonly RegistryErrorInfo[];
}

/**
 * A registry answered, and not with success (oras-go's `errcode.ErrorResponse`): carries the
 * method, URL, status and decoded errors, so that the message reads
 * `GET https://host/v2/repo/manifests/v1: 404 MANIFEST_UNKNOWN: manifest unknown`.
 * Codes: NV2_ERR_CONTENT_NOT_FOUND (404), NV2_ERR_REGISTRY_UNAUTHORIZED (401),
 * NV2_ERR_REGISTRY_DENIED (403), NV2_ERR_REGISTRY_UNSUPPORTED (405), NV2_ERR_REGISTRY_REJECTED
 * (other 4xx), NV2_ERR_REGISTRY_UNAVAILABLE (429 and 5xx once retries are spent),
 * NV2_ERR_REGISTRY_RESPONSE (a malformed or unexpected answer). None is a verdict on a
 * signature: verification workflows report them as inconclusive.
 */
export class RegistryResponseError extends Nv2Error implements RegistryResponseDetails {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly errors: readonly RegistryErrorInfo[];
  constructor(
    code: Nv2ErrorCode,
    message: string,
    response: RegistryResponseDetails,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.method = response.method;
    this.url = response.url;
    this.status = response.status;
    this.errors = response.errors;
  }
}

/** Type guard for errors carrying an nv2 code. */
export function isNv2Error(err: unknown): err is Nv2Error {
  return err instanceof Nv2Error;
}
