import { Readable } from 'node:stream';
import { InvalidInputError } from '../errors.js';
import type { Descriptor, Digest, ManifestFacts } from '../oci/index.js';
import {
  MAX_MANIFEST_BYTES,
  isDigest,
  isManifestMediaType,
  isTag,
  parseManifest,
  verifyStream,
} from '../oci/index.js';
import { readBoundedStream } from './bounded-read.js';
import {
  type ReferrersIndex,
  asAsyncIterable,
  checkDescriptor,
  indexReferrer,
  invalidReference,
  notFound,
  plainDescriptor,
  selectReferrers,
} from './store-support.js';
import type { Deleter, ReferrerLister, Target } from './target.js';

/** A manifest the store holds: the descriptor it was pushed as, and what it says. */
interface StoredManifest {
  readonly descriptor: Descriptor;
  readonly facts: ManifestFacts;
}

/**
 * Creates an empty in-memory content store (oras-go's `memory.Store`): blobs and manifests by
 * digest, tags, and referrers found by indexing the `subject` of every manifest pushed, so
 * a referrer pushed before its subject is listed as soon as it is pushed.
 *
 * Content is verified against its descriptor before it becomes visible, and again while it
 * is fetched (a fetch by a descriptor of another size fails). A manifest is any content
 * pushed with a manifest media type (OCI image manifest or index, Docker schema 2 manifest or
 * manifest list); it must be a JSON object of that type, at most `MAX_MANIFEST_BYTES`.
 * Children of a manifest need not be pushed first. Everything is held in memory: meant for
 * tests, and for building small artifacts before copying them elsewhere.
 *
 * @example
 * const store = createMemoryStore();
 * await store.push(descriptor, bytes);
 * await store.tag(descriptor, 'v1');
 * const same = await store.resolve('v1'); // { mediaType, digest, size }
 */
export function createMemoryStore(): Target & ReferrerLister & Deleter {
  const blobs = new Map<Digest, Buffer>();
  const manifests = new Map<Digest, StoredManifest>();
  const tags = new Map<string, Digest>();
  const referrers: ReferrersIndex = new Map();

  function manifestOf(digest: Digest, what: string): StoredManifest {
    const stored = manifests.get(digest);
    if (stored === undefined) throw notFound(`manifest ${what}`);
    return stored;
  }

  return {
    async fetch(target) {
      checkDescriptor(target);
      const content = blobs.get(target.digest);
      if (content === undefined) throw notFound(target.digest);
      // A copy, so that a reader changing its chunks cannot change the store; verified again
      // on the way out, so that a descriptor of another size is refused here too.
      const copy = Buffer.from(content);
      return Readable.from(verifyStream(asAsyncIterable(copy), target), { objectMode: false });
    },

    async push(expected, content) {
      checkDescriptor(expected);
      const isManifest = isManifestMediaType(expected.mediaType);
      if (isManifest && expected.size > MAX_MANIFEST_BYTES) {
        throw new InvalidInputError(
          'NV2_ERR_FILE_TOO_LARGE',
          `manifest ${expected.digest} is ${expected.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`,
        );
      }
      // verifyStream stops at `size` bytes, so this holds at most what the descriptor says.
      const bytes = await readBoundedStream(
        verifyStream(asAsyncIterable(content), expected),
        expected.size,
        `content ${expected.digest}`,
      );
      const facts = isManifest ? parseManifest(bytes, expected.mediaType) : undefined;
      if (!blobs.has(expected.digest)) blobs.set(expected.digest, bytes);
      if (facts !== undefined && !manifests.has(expected.digest)) {
        const descriptor = plainDescriptor(expected);
        manifests.set(expected.digest, { descriptor, facts });
        indexReferrer(referrers, descriptor, facts);
      }
    },

    async exists(target) {
      checkDescriptor(target);
      return blobs.has(target.digest);
    },

    async resolve(reference) {
      if (isDigest(reference)) return plainDescriptor(manifestOf(reference, reference).descriptor);
      if (!isTag(reference)) throw invalidReference(reference);
      const digest = tags.get(reference);
      if (digest === undefined) throw notFound(`tag ${reference}`);
      return plainDescriptor(manifestOf(digest, reference).descriptor);
    },

    async tag(target, reference) {
      checkDescriptor(target);
      const isSelf = isDigest(reference) && reference === target.digest;
      if (!isSelf && !isTag(reference)) throw invalidReference(reference);
      manifestOf(target.digest, target.digest);
      if (!isSelf) tags.set(reference, target.digest);
    },

    async referrers(subject, options = {}) {
      checkDescriptor(subject);
      return selectReferrers(referrers.get(subject.digest)?.values() ?? [], options.artifactType);
    },

    async delete(target) {
      checkDescriptor(target);
      if (!blobs.delete(target.digest)) throw notFound(target.digest);
      const stored = manifests.get(target.digest);
      if (stored === undefined) return;
      manifests.delete(target.digest);
      for (const [tag, digest] of tags) if (digest === target.digest) tags.delete(tag);
      const subject = stored.facts.subject?.digest;
      if (subject !== undefined) {
        const entries = referrers.get(subject);
        entries?.delete(target.digest);
        if (entries?.size === 0) referrers.delete(subject);
      }
    },
  };
}
