import { InvalidInputError, VerificationInconclusiveError, isNv2Error } from '../errors.js';
import type { Descriptor, Digest, ManifestFacts } from '../oci/index.js';
import { isDescriptor, referrerDescriptor } from '../oci/index.js';

/**
 * What the content stores (memory, OCI layout) and `copy` share: descriptor checks, their
 * "absent" and I/O errors, and the in-memory referrers index. The manifest rules themselves
 * are `oci`'s.
 */

/** Only the three fields that identify content, as `resolve` returns them. */
export function plainDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * Checks a descriptor given to a store method.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function checkDescriptor(d: Descriptor): void {
  if (!isDescriptor(d)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `not a valid descriptor: ${JSON.stringify(d)}`,
    );
  }
}

/** The content stores' "absent" error. */
export function notFound(what: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_CONTENT_NOT_FOUND', `${what}: not found`);
}

/** A reference that is neither a tag nor a digest. */
export function invalidReference(reference: string): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_INVALID_REFERENCE',
    `${JSON.stringify(reference)} is neither a tag nor a digest`,
  );
}

/** Content given to `push` as an async iterable. */
export function asAsyncIterable(
  content: AsyncIterable<Uint8Array> | Uint8Array,
): AsyncIterable<Uint8Array> {
  if (content instanceof Uint8Array) {
    return (async function* () {
      yield content;
    })();
  }
  return content;
}

/** Filters referrer descriptors by artifact type, and sorts them by digest for stable output. */
export function selectReferrers(
  referrers: Iterable<Descriptor>,
  artifactType: string | undefined,
): Descriptor[] {
  const out: Descriptor[] = [];
  for (const r of referrers) {
    if (artifactType === undefined || r.artifactType === artifactType) out.push(r);
  }
  return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

/** A digest-keyed map of referrer descriptors per subject (the stores' referrers index). */
export type ReferrersIndex = Map<Digest, Map<Digest, Descriptor>>;

/** Records `referrer` (with `facts.subject`) in `index`. */
export function indexReferrer(
  index: ReferrersIndex,
  referrer: Descriptor,
  facts: ManifestFacts,
): void {
  if (facts.subject === undefined) return;
  let entries = index.get(facts.subject.digest);
  if (entries === undefined) index.set(facts.subject.digest, (entries = new Map()));
  entries.set(referrer.digest, referrerDescriptor(referrer, facts));
}

/**
 * Turns a failed file-system call into NV2_ERR_IO (an inconclusive, retryable failure);
 * nv2 errors and anything that is not a system error pass through unchanged.
 */
export function ioError(err: unknown, what: string): unknown {
  if (isNv2Error(err)) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.syscall === 'string') {
    return new VerificationInconclusiveError('NV2_ERR_IO', `${what}: ${e.message}`, { cause: err });
  }
  return err;
}
