/**
 * OCI basics shared by every other module: digests, descriptors, media types, references
 * and manifests. Pure: depends on `node:*` only.
 */
export {
  DIGEST_ALGORITHMS,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  parseDigest,
} from './digest.js';
export type { Digest, DigestAlgorithm } from './digest.js';
export { createDescriptor, isDescriptor } from './descriptor.js';
export type { Descriptor } from './descriptor.js';
export {
  DEFAULT_MANIFEST_MEDIA_TYPE,
  FOREIGN_LAYER_MEDIA_TYPES,
  MediaTypes,
  isMediaType,
} from './media-types.js';
export {
  DEFAULT_REGISTRY,
  MAX_NAME_LENGTH,
  formatReference,
  isRegistryHost,
  isRepositoryName,
  isTag,
  parseReference,
  registryHostname,
  withDefaultTag,
} from './reference.js';
export type { Reference } from './reference.js';
export { MAX_ENVELOPE_BYTES, MAX_MANIFEST_BYTES } from './limits.js';
export {
  CREATED_ANNOTATION,
  EMPTY_CONFIG,
  EMPTY_CONFIG_DESCRIPTOR,
  describeManifest,
  manifestMediaTypeField,
} from './manifest.js';
export type { ManifestContent } from './manifest.js';
export {
  canHaveSubject,
  childBlobs,
  childManifests,
  isIndexMediaType,
  isManifestMediaType,
  manifestKind,
  parseManifest,
  referrerDescriptor,
  referrersTag,
  referrersTagSubject,
  sniffManifestMediaType,
  stringMap,
} from './manifest-facts.js';
export type { ManifestFacts, ManifestKind } from './manifest-facts.js';
export { ERROR_CODES, errorBody, isErrorCode } from './errcodes.js';
export type { ErrorCode, ErrorInfo, ErrorResponseBody } from './errcodes.js';
export { hashingStream, verifyStream } from './verify-stream.js';
export type { ExpectedContent, HashingStream } from './verify-stream.js';
export {
  MAX_TIME_MS,
  MAX_UNIX_SECONDS,
  dateFromUnixSeconds,
  isUnixSeconds,
  parseRfc3339,
} from './time.js';
