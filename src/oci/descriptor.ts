import { type Digest, type DigestAlgorithm, digestOf, isDigest } from './digest.js';
import { isMediaType } from './media-types.js';

/** An OCI content descriptor (image-spec `descriptor.md`): what a piece of content is and how to find it. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Describes some bytes: their media type, digest and size.
 *
 * @example createDescriptor('application/vnd.oci.image.manifest.v1+json', bytes)
 */
export function createDescriptor(
  mediaType: string,
  content: Uint8Array,
  algorithm: DigestAlgorithm = 'sha256',
): Descriptor {
  return { mediaType, digest: digestOf(content, algorithm), size: content.byteLength };
}

/** Returns whether `value` has the three required descriptor fields, each well-formed. */
export function isDescriptor(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    isMediaType(d['mediaType']) &&
    isDigest(d['digest']) &&
    typeof d['size'] === 'number' &&
    Number.isSafeInteger(d['size']) &&
    d['size'] >= 0
  );
}
