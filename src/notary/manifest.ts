import { InvalidInputError, VerificationFailedError } from '../errors.js';
import {
  CREATED_ANNOTATION,
  type Descriptor,
  EMPTY_CONFIG_DESCRIPTOR,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  createDescriptor,
  isDescriptor,
} from '../oci/index.js';
import { readBoundedStream } from '../content/index.js';
import type { Fetcher } from '../content/index.js';

/** The three fields a signature names; annotations and artifactType are left out. */
export function plain(descriptor: Descriptor): Descriptor {
  return { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
}

/**
 * The signature manifest of artifact-layout.md: an OCI image manifest with artifactType
 * `application/vnd.cncf.notary.v2`, the empty config, one layer (the JWS) and `subject`.
 */
export function signatureManifest(
  subject: Descriptor,
  layer: Descriptor,
  created: Date,
): { descriptor: Descriptor; content: Buffer } {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: MediaTypes.nv2ArtifactType,
    config: EMPTY_CONFIG_DESCRIPTOR,
    layers: [layer],
    subject: plain(subject),
    annotations: { [CREATED_ANNOTATION]: created.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  };
  const content = Buffer.from(JSON.stringify(manifest));
  const descriptor: Descriptor = {
    ...createDescriptor(MediaTypes.ociManifest, content),
    artifactType: MediaTypes.nv2ArtifactType,
  };
  return { descriptor, content };
}

/** Fetches a manifest (at most `MAX_MANIFEST_BYTES`) and parses it as a JSON object. */
export async function fetchManifestJson(
  target: Fetcher,
  descriptor: Descriptor,
): Promise<Record<string, unknown>> {
  if (descriptor.size > MAX_MANIFEST_BYTES) {
    throw new InvalidInputError(
      'NV2_ERR_FILE_TOO_LARGE',
      `manifest ${descriptor.digest} is larger than ${MAX_MANIFEST_BYTES} bytes`,
    );
  }
  const bytes = await readBoundedStream(
    await target.fetch(descriptor),
    MAX_MANIFEST_BYTES,
    `manifest ${descriptor.digest}`,
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_MANIFEST',
      `manifest ${descriptor.digest} is not a JSON object`,
    );
  }
  return parsed as Record<string, unknown>;
}

/**
 * Reads the layer of signature manifest `manifest` that holds the signature (an nv2 JWS, or a
 * Notary Project envelope), at most `limit` bytes: a layer that says it is larger is refused
 * before anything is downloaded, one that sends more is cut off. `noun` names the layer in
 * the message.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_TOO_LARGE
 */
export async function fetchSignatureLayer(
  target: Fetcher,
  manifest: Descriptor,
  layer: Descriptor,
  limit: number,
  noun = 'envelope',
): Promise<Buffer> {
  if (layer.size > limit) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_TOO_LARGE',
      `signature manifest ${manifest.digest}: its ${noun} is ${layer.size} bytes, more than the ${limit} allowed`,
    );
  }
  return readBoundedStream(await target.fetch(layer), limit, `signature ${layer.digest}`);
}

/** The child manifests an index (OCI index or Docker manifest list) names; none for others. */
export function childrenOf(manifest: Record<string, unknown>): Descriptor[] {
  const manifests = manifest['manifests'];
  if (!Array.isArray(manifests)) return [];
  return manifests.filter((m): m is Descriptor => isDescriptor(m)).map(plain);
}
