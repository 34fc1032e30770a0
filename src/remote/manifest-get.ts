import { RegistryResponseError, VerificationFailedError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import {
  MAX_MANIFEST_BYTES,
  digestAlgorithm,
  digestOf,
  isDigest,
  isManifestMediaType,
  manifestMediaTypeField,
} from '../oci/index.js';
import { displayUrl, readBody } from './http.js';
import { type RepositoryApi, mediaTypeOf } from './repository-api.js';

/**
 * Reading a manifest by tag or digest into memory (distribution-spec "Pulling manifests"):
 * bounded, hashed, and checked against the digest asked for and the registry's
 * `Docker-Content-Digest`; its media type from `Content-Type`, else from its own field.
 */

/** A manifest or index as bytes. */
export interface ManifestBytes {
  readonly descriptor: Descriptor;
  readonly content: Buffer;
}

/** GETs a manifest by tag or digest, bounded, and describes it from its bytes. */
export async function getManifest(
  api: RepositoryApi,
  accept: string,
  reference: string,
  what: string,
): Promise<ManifestBytes> {
  const res = await api.send('GET', api.url(`manifests/${reference}`), 'pull', {
    headers: { Accept: accept },
  });
  if (res.status !== 200) throw await api.unexpected(res, what);
  const content = await readBody(res, MAX_MANIFEST_BYTES, 'the manifest');
  const headerDigest = res.header('docker-content-digest');
  const expected = isDigest(reference)
    ? reference
    : isDigest(headerDigest)
      ? headerDigest
      : undefined;
  const actual = digestOf(content, expected !== undefined ? digestAlgorithm(expected) : 'sha256');
  if (expected !== undefined && actual !== expected) {
    throw new VerificationFailedError(
      'NV2_ERR_CONTENT_DIGEST_MISMATCH',
      `${displayUrl(res.url)}: the manifest hashes to ${actual}, ${expected} expected (${what})`,
    );
  }
  let mediaType = mediaTypeOf(res.header('content-type'));
  if (mediaType === undefined || !isManifestMediaType(mediaType)) {
    let field: string | undefined;
    try {
      field = manifestMediaTypeField(content);
    } catch {
      field = undefined;
    }
    mediaType = field ?? mediaType;
  }
  if (mediaType === undefined) {
    throw new RegistryResponseError(
      'NV2_ERR_REGISTRY_RESPONSE',
      `GET ${displayUrl(res.url)}: the manifest has no media type (${what})`,
      { method: 'GET', url: displayUrl(res.url), status: res.status, errors: [] },
    );
  }
  return { descriptor: { mediaType, digest: actual, size: content.byteLength }, content };
}
