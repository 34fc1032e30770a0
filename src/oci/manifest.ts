import { InvalidInputError } from '../errors.js';
import { type DigestAlgorithm } from './digest.js';
import { type Descriptor, createDescriptor } from './descriptor.js';
import { DEFAULT_MANIFEST_MEDIA_TYPE, MediaTypes, isMediaType } from './media-types.js';

import { MAX_MANIFEST_BYTES } from './limits.js';

/**
 * The empty config blob of an artifact manifest: `{}` (image-spec "Guidance for an Empty
 * Descriptor"), which signature manifests of every format point to.
 */
export const EMPTY_CONFIG = Buffer.from('{}');

/** The descriptor of `EMPTY_CONFIG`: `application/vnd.oci.empty.v1+json`, sha256:44136f…, size 2. */
export const EMPTY_CONFIG_DESCRIPTOR: Descriptor = createDescriptor(
  MediaTypes.ociEmpty,
  EMPTY_CONFIG,
);

/** The image-spec pre-defined annotation recording when an artifact was made (RFC 3339). */
export const CREATED_ANNOTATION = 'org.opencontainers.image.created';

/** A manifest's exact bytes with the descriptor computed from them. */
export interface ManifestContent {
  readonly descriptor: Descriptor;
  readonly content: Uint8Array;
}

/**
 * Reads the `mediaType` field of a manifest, if it has one.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_MANIFEST when the bytes are not a JSON object,
 *   NV2_ERR_INVALID_MEDIA_TYPE when `mediaType` is present but malformed.
 */
export function manifestMediaTypeField(content: Uint8Array): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8'),
    );
  } catch {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_MANIFEST',
      'manifest is not JSON (give its media type with --media-type to sign or verify opaque bytes)',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError('NV2_ERR_INVALID_MANIFEST', 'manifest is not a JSON object');
  }
  const field = (parsed as Record<string, unknown>)['mediaType'];
  if (field === undefined) return undefined;
  if (!isMediaType(field)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_MEDIA_TYPE',
      `manifest has an invalid mediaType ${JSON.stringify(field)}`,
    );
  }
  return field;
}

/**
 * Describes manifest bytes. The media type is, in order: `mediaType` if given, the manifest's
 * own `mediaType` field, else Docker schema 2 (the nv2 prototype's default).
 *
 * @example describeManifest(bytes).descriptor.digest
 */
export function describeManifest(
  content: Uint8Array,
  options: { mediaType?: string | undefined; digestAlgorithm?: DigestAlgorithm } = {},
): ManifestContent {
  if (content.byteLength > MAX_MANIFEST_BYTES) {
    throw new InvalidInputError(
      'NV2_ERR_FILE_TOO_LARGE',
      `manifest is ${content.byteLength} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`,
    );
  }
  let mediaType = options.mediaType;
  if (mediaType !== undefined) {
    if (!isMediaType(mediaType)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_MEDIA_TYPE',
        `invalid media type ${JSON.stringify(mediaType)}`,
      );
    }
  } else {
    mediaType = manifestMediaTypeField(content) ?? DEFAULT_MANIFEST_MEDIA_TYPE;
  }
  return { descriptor: createDescriptor(mediaType, content, options.digestAlgorithm), content };
}
