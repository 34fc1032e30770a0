import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { InvalidInputError, VerificationFailedError } from '../errors.js';
import type { Digest, DigestAlgorithm } from './digest.js';
import { DIGEST_ALGORITHMS, digestAlgorithm, isDigest } from './digest.js';

/**
 * Verify while streaming (oras-go's `content.VerifyReader`, distribution's upload commit):
 * content is hashed as it passes, never buffered whole, and a stream that runs past its
 * expected size is cut off at once instead of read to its end. This is the one place that
 * decides whether bytes are what their descriptor says; remote fetch, OCI-layout reads and
 * registry upload commits all go through it.
 */

/** What the content must be: its digest and, whenever it is known, its size. */
export interface ExpectedContent {
  readonly digest: Digest;
  /**
   * Exact size in bytes. Give it whenever it is known: without it a stream is only checked
   * at its end and nothing bounds how much is read.
   */
  readonly size?: number;
}

/**
 * Passes `source` through unchanged while checking it against `expected`, as an async
 * iterable (so it also serves as a `stream.pipeline` stage: `(src) => verifyStream(src, e)`).
 *
 * The chunks yielded are NOT verified yet: the digest is known only at the end. Write them
 * somewhere unpublished (a temp file, an upload) and publish only once iteration has finished
 * without an error, as the registry's upload commit does (habit 7).
 *
 * - More bytes than `size`: throws as soon as the chunk that passes the size arrives; that
 *   chunk is not yielded and the source is not read further (its iterator is returned, which
 *   destroys a Node stream).
 * - Fewer bytes than `size`, or another digest: throws when the source ends.
 *
 * Arguments are checked at once, before anything is read.
 *
 * @example
 * await pipeline(response.body, (src) => verifyStream(src, descriptor), createWriteStream(temp));
 * await rename(temp, final); // only reached when the content verified
 * @throws VerificationFailedError NV2_ERR_CONTENT_SIZE_MISMATCH (too long or too short),
 *   NV2_ERR_CONTENT_DIGEST_MISMATCH (another digest)
 * @throws InvalidInputError NV2_ERR_INVALID_DIGEST (not a digest),
 *   NV2_ERR_INVALID_ARGUMENT (size not a non-negative safe integer), at the call
 */
export function verifyStream(
  source: AsyncIterable<Uint8Array>,
  expected: ExpectedContent,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (!isDigest(expected.digest)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_DIGEST',
      `invalid digest ${JSON.stringify(expected.digest)}`,
    );
  }
  const { digest, size } = expected;
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `invalid size ${String(size)}`);
  }
  return verify(source, digest, size);
}

async function* verify(
  source: AsyncIterable<Uint8Array>,
  digest: Digest,
  size: number | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  const hash = createHash(digestAlgorithm(digest));
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (size !== undefined && total > size) {
      // Leaving the loop returns the source's iterator: nothing past this chunk is read.
      throw new VerificationFailedError(
        'NV2_ERR_CONTENT_SIZE_MISMATCH',
        `content is longer than the ${size} bytes expected for ${digest}`,
      );
    }
    hash.update(chunk);
    yield chunk;
  }
  if (size !== undefined && total !== size) {
    throw new VerificationFailedError(
      'NV2_ERR_CONTENT_SIZE_MISMATCH',
      `content is ${total} bytes, ${size} expected for ${digest}`,
    );
  }
  const actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}`;
  if (actual !== digest) {
    throw new VerificationFailedError(
      'NV2_ERR_CONTENT_DIGEST_MISMATCH',
      `content digest is ${actual}, ${digest} expected`,
    );
  }
}

/** A pass-through stream that hashes and counts what flows through it. */
export interface HashingStream {
  /** Pipe content through this; it comes out unchanged. */
  readonly transform: Transform;
  /** The digest of every byte that has passed so far (final once `transform` has ended). */
  digest(): Digest;
  /** Bytes that have passed so far. */
  readonly size: number;
}

/**
 * A pass-through Transform that hashes while streaming, for writers that learn the digest
 * of what they wrote (an upload whose digest the client names only at the end). It checks
 * nothing: compare `digest()` and `size` with what was expected, or use `verifyStream`.
 *
 * @example
 * const hashing = hashingStream('sha256');
 * await pipeline(request, hashing.transform, writable);
 * if (hashing.digest() !== expected) throw …;
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an algorithm other than sha256/sha512
 */
export function hashingStream(algorithm: DigestAlgorithm = 'sha256'): HashingStream {
  if (!(DIGEST_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `unsupported digest algorithm ${JSON.stringify(algorithm)}`,
    );
  }
  const hash = createHash(algorithm);
  let size = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.byteLength;
      callback(null, chunk);
    },
  });
  return {
    transform,
    // copy(): the hash stays usable, so digest() may be asked at any time, more than once.
    digest: () => `${algorithm}:${hash.copy().digest('hex')}` as Digest,
    get size() {
      return size;
    },
  };
}
