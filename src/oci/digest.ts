import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.js';

/** Digest algorithms nv2 computes and accepts (OCI image-spec "Digests": sha256, sha512). */
export const DIGEST_ALGORITHMS = ['sha256', 'sha512'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/** A validated `algorithm:hex` digest. Only `parseDigest` and `digestOf` make one. */
export type Digest = `${DigestAlgorithm}:${string}` & { readonly __digest: unique symbol };

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_PATTERN = /^(sha256|sha512):([a-f0-9]+)$/;

/** Returns whether `value` is a well-formed sha256 or sha512 digest (lower-case hex, exact length). */
export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'string') return false;
  const m = DIGEST_PATTERN.exec(value);
  return m !== null && m[2]!.length === HEX_LENGTH[m[1] as DigestAlgorithm];
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
