import { VerificationFailedError } from '../errors.js';
import { type Descriptor, isDescriptor } from '../oci/index.js';
import { goJson, isPlainObject } from './json.js';

function malformed(why: string): VerificationFailedError {
  return new VerificationFailedError('NV2_ERR_SIGNATURE_MALFORMED', `signature payload ${why}`);
}

/**
 * Reads the payload `{"targetArtifact": descriptor}`: the descriptor's media type, digest and
 * size are required, annotations (user metadata) must map strings to strings.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED
 */
export function parsePayload(bytes: Uint8Array): Descriptor {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed('is not UTF-8 JSON');
  }
  if (!isPlainObject(value) || !isPlainObject(value['targetArtifact'])) {
    throw malformed('has no targetArtifact object');
  }
  const target = value['targetArtifact'];
  if (!isDescriptor(target)) {
    throw malformed('targetArtifact is not a descriptor with mediaType, digest and size');
  }
  const annotations = target['annotations'];
  if (annotations !== undefined) {
    if (
      !isPlainObject(annotations) ||
      Object.values(annotations).some((v) => typeof v !== 'string')
    ) {
      throw malformed('targetArtifact annotations must map strings to strings');
    }
  }
  const descriptor: Descriptor = {
    mediaType: target.mediaType,
    digest: target.digest,
    size: target.size,
    ...(typeof target['artifactType'] === 'string' ? { artifactType: target['artifactType'] } : {}),
    ...(annotations !== undefined ? { annotations: annotations as Record<string, string> } : {}),
  };
  return descriptor;
}

/**
 * The payload bytes for `descriptor`, field for field as notation writes them (Go's
 * ocispec.Descriptor order: mediaType, digest, size, annotations with sorted keys,
 * artifactType). `userMetadata` is merged into the annotations.
 */
export function buildPayload(
  descriptor: Descriptor,
  userMetadata: Readonly<Record<string, string>> = {},
): Buffer {
  const merged = { ...(descriptor.annotations ?? {}), ...userMetadata };
  const keys = Object.keys(merged).sort();
  const target: Record<string, unknown> = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
  };
  if (keys.length > 0) target['annotations'] = Object.fromEntries(keys.map((k) => [k, merged[k]]));
  if (descriptor.artifactType !== undefined) target['artifactType'] = descriptor.artifactType;
  return Buffer.from(goJson({ targetArtifact: target }), 'utf8');
}
