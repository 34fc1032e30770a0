import type { Digest } from '../../oci/index.js';
import {
  DIGEST_ALGORITHMS,
  MAX_NAME_LENGTH,
  isDigest,
  isRepositoryName,
  isTag,
} from '../../oci/index.js';
import { ApiError } from './errors.js';
import type { Method, Pattern, PatternParams } from './handler.js';

/**
 * The path parameters of a request, checked against their grammars (repository name, tag,
 * digest, upload session id) before any handler runs, so no request-derived string reaches the
 * store unchecked. Access control (`auth/`) and the UI use the same name grammar.
 */

/** The raw path parameters of a match, before validation. */
export interface RawParams {
  readonly name?: string;
  readonly tail?: string;
}

/**
 * Checks what a route captured and returns its typed parameters. `method` matters for manifest
 * references only: a read (GET, HEAD) of a reference that is neither a valid tag nor a valid
 * digest names nothing that can exist, and is 404 MANIFEST_UNKNOWN, as distribution answers
 * (its route grammar does not match such a reference) and as the distribution-spec conformance
 * suite expects (`.INVALID_MANIFEST_NAME`, "GET/HEAD nonexistent manifest should return 404").
 * Writes and deletes keep the precise 400 TAG_INVALID or DIGEST_INVALID, which the suite allows.
 *
 * @throws ApiError NAME_INVALID, TAG_INVALID, DIGEST_INVALID, MANIFEST_UNKNOWN,
 *   BLOB_UPLOAD_UNKNOWN
 */
export function validateParams<P extends Pattern>(
  pattern: P,
  raw: RawParams,
  method: Method,
): PatternParams[P] {
  if (raw.name === undefined) return {} as PatternParams[P];
  const name = raw.name;
  if (!isRepositoryName(name)) {
    throw new ApiError('NAME_INVALID', {
      ...(name.length <= MAX_NAME_LENGTH ? { detail: { name } } : {}),
    });
  }
  const tail = raw.tail ?? '';
  let params: PatternParams[Pattern];
  switch (pattern) {
    case '/v2/<name>/blobs/<digest>':
    case '/v2/<name>/referrers/<digest>':
      params = { name, digest: parseDigestParam(tail) };
      break;
    case '/v2/<name>/manifests/<reference>':
      try {
        params = parseReferenceParam(name, tail);
      } catch (err) {
        if (method !== 'GET' && method !== 'HEAD') throw err;
        throw new ApiError('MANIFEST_UNKNOWN', {
          message: 'manifest unknown: the reference is neither a valid tag nor a valid digest',
        });
      }
      break;
    case '/v2/<name>/blobs/uploads/<session_id>':
      // Ids the store issues are UUIDs; anything else cannot be a session of ours.
      if (!SESSION_ID.test(tail)) throw new ApiError('BLOB_UPLOAD_UNKNOWN');
      params = { name, sessionId: tail };
      break;
    default:
      params = { name };
  }
  return params as PatternParams[P];
}

/** A plausible upload session id: bounded and path-safe (the store's own check is stricter). */
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The digest grammar's `algorithm` (OCI image-spec "Digests"), to tell "unsupported" apart. */
const DIGEST_ALGORITHM = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*$/;

/**
 * Parses a digest from a path or query. Only sha256 and sha512 are served; any other algorithm,
 * well-formed or not, is DIGEST_INVALID ("unsupported digest algorithm").
 *
 * @throws ApiError DIGEST_INVALID
 */
export function parseDigestParam(value: string): Digest {
  if (isDigest(value)) return value;
  const colon = value.indexOf(':');
  const algorithm = colon > 0 ? value.slice(0, colon) : '';
  if (
    algorithm.length <= 32 &&
    DIGEST_ALGORITHM.test(algorithm) &&
    !(DIGEST_ALGORITHMS as readonly string[]).includes(algorithm)
  ) {
    throw new ApiError('DIGEST_INVALID', {
      message: 'unsupported digest algorithm',
      detail: { algorithm, supported: DIGEST_ALGORITHMS },
    });
  }
  throw new ApiError('DIGEST_INVALID', { message: 'invalid digest' });
}

/**
 * A manifest reference: a digest when it has a `:` (no tag does), else a tag.
 *
 * @throws ApiError DIGEST_INVALID, TAG_INVALID
 */
function parseReferenceParam(
  name: string,
  reference: string,
): PatternParams['/v2/<name>/manifests/<reference>'] {
  if (reference.includes(':')) {
    return { name, reference, digest: parseDigestParam(reference) };
  }
  if (!isTag(reference)) throw new ApiError('TAG_INVALID', { message: 'invalid tag' });
  return { name, reference, digest: undefined };
}
