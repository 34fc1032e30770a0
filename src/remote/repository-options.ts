import { MediaTypes } from '../oci/index.js';
import type { Descriptor } from '../oci/index.js';
import type { RegistryClient } from './client.js';

/** The options and answers of `Repository`, and its defaults. */

/** Which family of manifest media types a repository asks for first when it resolves a tag. */
export type ManifestPreference = 'oci' | 'docker';

const OCI_MANIFEST_TYPES = [MediaTypes.ociManifest, MediaTypes.ociIndex];
const DOCKER_MANIFEST_TYPES = [MediaTypes.dockerManifest, MediaTypes.dockerManifestList];

/**
 * The `Accept` header of manifest requests: OCI and Docker manifests and indexes, the preferred
 * family first and the other at a lower quality (RFC 9110 §12.5.1), so that a registry that
 * holds both forms of a tag answers with the preferred one and one that holds only the other
 * still answers. Which media types are manifests (pushed and fetched under /manifests/, the
 * rest under /blobs/) is `content`'s `isManifestMediaType`, so that every Target agrees.
 */
export function manifestAccept(preference?: ManifestPreference): string {
  if (preference === undefined) return [...OCI_MANIFEST_TYPES, ...DOCKER_MANIFEST_TYPES].join(', ');
  const [first, second] =
    preference === 'oci'
      ? [OCI_MANIFEST_TYPES, DOCKER_MANIFEST_TYPES]
      : [DOCKER_MANIFEST_TYPES, OCI_MANIFEST_TYPES];
  return [...first, ...second.map((t) => `${t};q=0.5`)].join(', ');
}

/**
 * Pages of tags or referrers fetched at most (oras-go's `TagListMaxPages`): bounds server-driven
 * pagination, so a misbehaving registry cannot make a listing run forever.
 */
export const MAX_PAGES = 1000;

/** Blobs up to this size are uploaded in one PUT; larger ones in chunks. */
export const DEFAULT_MONOLITHIC_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Chunk size of chunked uploads: every chunk is held in memory once. At least 5 MiB, S3's
 * smallest multipart part, which distribution's S3 driver needs for all chunks but the last.
 */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

/** Options of a Repository. */
export interface RepositoryOptions {
  /** The HTTP client (shared between repositories: it holds connections and tokens). */
  readonly client: RegistryClient;
  /** Blobs up to this size are pushed in one request (default 8 MiB). */
  readonly monolithicMaxBytes?: number;
  /** Chunk size of larger blob pushes (default 8 MiB). */
  readonly chunkBytes?: number;
  /**
   * Whether the registry has the referrers API, when known: `false` makes `referrers` and
   * `push` use the tag schema without asking. Default: detected.
   */
  readonly referrersApi?: boolean;
  /** Pages of tags or referrers fetched at most (default `MAX_PAGES`). */
  readonly maxPages?: number;
  /**
   * Ask for OCI (`oci`) or Docker (`docker`) manifest media types first when resolving and
   * fetching manifests (`oci://REF`, `docker://REF`); default no preference.
   */
  readonly manifestPreference?: ManifestPreference;
}

/** Options of `push`. */
export interface PushOptions {
  /** For a blob: mount it from this repository of the same registry instead of uploading it when it is there. */
  readonly mountFrom?: string;
  /** For a manifest: push it under this tag instead of its digest. */
  readonly tag?: string;
}

/** What a manifest push did about referrers. */
export interface ManifestPushResult {
  /** The manifest's `subject`, when it has one. */
  readonly subject?: Descriptor;
  /**
   * Who lists it as a referrer of its subject: `registry` (the registry answered
   * `OCI-Subject`), `tag-schema` (nv2 updated the `sha256-<hex>` index), or `none` (no subject).
   */
  readonly referrers: 'registry' | 'tag-schema' | 'none';
}
