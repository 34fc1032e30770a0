import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.js';

/** Digest algorithms nv2 computes and accepts (OCI image-spec "Digests": sha256, sha512). */
export const DIGEST_ALGORITHMS = ['sha256', 'sha512'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/** A validated `algorithm:hex` digest. Only `parseDigest` and `digestOf` make one. */
export type Digest = `${DigestAlgorithm}:${string}` & { readonly __digest: unique symbol };

// One exact pattern per algorithm, tested without captures: every signature verified and
// every registry request checks a digest, and a match array per check is garbage.
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const SHA512_DIGEST = /^sha512:[a-f0-9]{128}$/;

/** Returns whether `value` is a well-formed sha256 or sha512 digest (lower-case hex, exact length). */
export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'string') return false;
  return value.length === 71 ? SHA256_DIGEST.test(value) : SHA512_DIGEST.test(value);
}

/**
 * Parses a digest string.
 *
 * @example parseDigest('sha256:' + '0'.repeat(64))
 * @throws InvalidInputError NV2_ERR_INVALID_DIGEST when it is not `sha256:<64 hex>` or `sha512:<128 hex>`.
 */
export function parseDigest(value: string): Digest {
  if (!isDigest(value)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_DIGEST',
      `invalid digest ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The algorithm part of a digest. */
export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/** The hex part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/**
 * Computes the digest of some bytes.
 *
 * @example digestOf(new TextEncoder().encode('{}')) // sha256:44136fa3…
 */
export function digestOf(content: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(content).digest('hex')}` as Digest;
}
