import type { Target } from '../content/index.js';
import { InvalidInputError } from '../errors.js';
import {
  CREATED_ANNOTATION,
  type Descriptor,
  EMPTY_CONFIG,
  EMPTY_CONFIG_DESCRIPTOR,
  MediaTypes,
  createDescriptor,
  isMediaType,
} from '../oci/index.js';
import { plain } from './manifest.js';

/** One blob of an attached artifact: its descriptor and a way to read it. */
export interface AttachedBlob {
  /** mediaType, digest and size (and annotations such as `org.opencontainers.image.title`). */
  readonly descriptor: Descriptor;
  /** The bytes, or a function that opens a fresh stream of them (large files are streamed). */
  readonly content: Uint8Array | (() => AsyncIterable<Uint8Array>);
}

/** Options of `attachArtifact`. */
export interface AttachOptions {
  /** The artifact's type, e.g. `application/spdx+json` for an SPDX SBOM. Required. */
  readonly artifactType: string;
  /** The artifact's blobs (layers); at least one. */
  readonly blobs: readonly AttachedBlob[];
  /** Manifest annotations; `org.opencontainers.image.created` is added unless given. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Creation time for the annotation; default now. */
  readonly now?: Date;
}

/**
 * Attaches an artifact (an SBOM, a scan report, provenance) to `subject` as image-spec 1.1
 * describes it and ORAS does: an image manifest with `artifactType`, the empty config, the
 * blobs as layers and `subject`, so that the referrers API (or the referrers tag schema) lists
 * it under its subject, and `discover` shows it. Blobs are pushed before the manifest.
 * Returns the artifact manifest's descriptor (with `artifactType`).
 *
 * @example
 * await attachArtifact(repo, image, { artifactType: 'application/spdx+json', blobs: [sbom] });
 */
export async function attachArtifact(
  target: Target,
  subject: Descriptor,
  options: AttachOptions,
): Promise<Descriptor> {
  if (!isMediaType(options.artifactType)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `artifact type ${JSON.stringify(options.artifactType)} is not a media type (type/subtype)`,
    );
  }
  if (options.blobs.length === 0) {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'an attached artifact needs a file');
  }
  for (const blob of options.blobs) {
    if (!isMediaType(blob.descriptor.mediaType)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `media type ${JSON.stringify(blob.descriptor.mediaType)} is not type/subtype`,
      );
    }
  }
  await target.push(EMPTY_CONFIG_DESCRIPTOR, EMPTY_CONFIG);
  for (const blob of options.blobs) {
    const content = typeof blob.content === 'function' ? blob.content() : blob.content;
    await target.push(blob.descriptor, content);
  }
  const created = (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: options.artifactType,
    config: EMPTY_CONFIG_DESCRIPTOR,
    layers: options.blobs.map((b) => b.descriptor),
    subject: plain(subject),
    annotations: { [CREATED_ANNOTATION]: created, ...options.annotations },
  };
  const content = Buffer.from(JSON.stringify(manifest));
  const descriptor: Descriptor = {
    ...createDescriptor(MediaTypes.ociManifest, content),
    artifactType: options.artifactType,
  };
  await target.push(descriptor, content);
  return descriptor;
}
