import type { Digest } from '../../oci/index.js';
import { digestAlgorithm, digestHex } from '../../oci/index.js';

/**
 * The registry's storage layout, in one place (as distribution's `paths.go` documents its
 * own). Every path the registry reads or writes is built by a function here.
 *
 * ```
 * /v2/
 *   blobs/<alg>/<hex[0:2]>/<hex>/data
 *       Content-addressed blob bytes, shared by every repository. Written only by moving a
 *       verified, fsynced upload file into place, so a present `data` is always complete.
 *   repositories/<name>/
 *     _layers/<alg>/<hex>/link
 *       The blob is part of this repository (pushed or mounted); the file holds the digest.
 *       A repository sees only blobs linked into it, here or as a revision (below).
 *     _manifests/revisions/<alg>/<hex>/link
 *       A manifest stored in this repository, by digest; its bytes are the blob of that
 *       digest, exactly as pushed, and this link alone makes that blob part of the
 *       repository (as in distribution; stores written by earlier versions also have a
 *       `_layers` link for it, which changes nothing).
 *     _manifests/tags/<tag>/current/link
 *       The digest a tag points at.
 *     _referrers/<alg>/<subject hex>/<alg>-<referrer hex>
 *       The referrers index: one small JSON descriptor (mediaType, digest, size, artifactType,
 *       annotations) per manifest whose `subject` is the subject digest, written on manifest
 *       PUT and removed on DELETE, so listing referrers reads one directory instead of
 *       scanning the repository. Kept even when the subject does not exist (yet).
 *     _uploads/<id>/data
 *       Bytes of an upload session in progress.
 *     _uploads/<id>/startedat
 *       RFC 3339 creation time, for purging stale sessions.
 * ```
 *
 * Repository names never collide with the `_`-prefixed entries: the distribution-spec name
 * grammar does not allow a path component to start with `_`.
 */
const ROOT = '/v2';

/** Where a blob's bytes live. */
export function blobDataPath(digest: Digest): string {
  const hex = digestHex(digest);
  return `${ROOT}/blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}/data`;
}

/** The directory of all blobs, for garbage collection. */
export function blobsRootPath(): string {
  return `${ROOT}/blobs`;
}

/** The directory holding every repository. */
export function repositoriesRootPath(): string {
  return `${ROOT}/repositories`;
}

/** A repository's directory. */
export function repositoryPath(name: string): string {
  return `${ROOT}/repositories/${name}`;
}

/** The link that makes a blob part of a repository. */
export function layerLinkPath(name: string, digest: Digest): string {
  return `${repositoryPath(name)}/_layers/${digestAlgorithm(digest)}/${digestHex(digest)}/link`;
}

/** The link that records a manifest revision in a repository. */
export function manifestRevisionLinkPath(name: string, digest: Digest): string {
  return `${repositoryPath(name)}/_manifests/revisions/${digestAlgorithm(digest)}/${digestHex(digest)}/link`;
}

/** The directory of a repository's manifest revisions. */
export function manifestRevisionsPath(name: string): string {
  return `${repositoryPath(name)}/_manifests/revisions`;
}

/** The directory of a repository's tags. */
export function tagsPath(name: string): string {
  return `${repositoryPath(name)}/_manifests/tags`;
}

/** The link holding the digest a tag points at. */
export function tagCurrentLinkPath(name: string, tag: string): string {
  return `${tagsPath(name)}/${tag}/current/link`;
}

/** The referrers index directory of one subject. */
export function referrersPath(name: string, subject: Digest): string {
  return `${repositoryPath(name)}/_referrers/${digestAlgorithm(subject)}/${digestHex(subject)}`;
}

/** One referrer's entry in a subject's referrers index. */
export function referrerEntryPath(name: string, subject: Digest, referrer: Digest): string {
  return `${referrersPath(name, subject)}/${digestAlgorithm(referrer)}-${digestHex(referrer)}`;
}

/** The directory of a repository's upload sessions. */
export function uploadsPath(name: string): string {
  return `${repositoryPath(name)}/_uploads`;
}

/** The bytes of an upload session. */
export function uploadDataPath(name: string, id: string): string {
  return `${uploadsPath(name)}/${id}/data`;
}

/** The creation time of an upload session. */
export function uploadStartedAtPath(name: string, id: string): string {
  return `${uploadsPath(name)}/${id}/startedat`;
}
