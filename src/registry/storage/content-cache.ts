import type { Descriptor, Digest, ManifestFacts } from '../../oci/index.js';

/**
 * In-memory caches of immutable, content-addressed facts, one per store (`StoreCaches`,
 * caches.ts: shared by every role of the store and by garbage collection): the size of a blob's data, the bytes of small blobs, and a
 * manifest's bytes with what they say. The bytes of a digest never change, so nothing here goes stale while the data is
 * there; the data is removed only by garbage collection, which runs with the server stopped
 * (README) and forgets what it removes (`forgetBlob`) for callers in the same process.
 * Whether a repository holds a blob or a manifest (its links) is never cached here.
 */
export interface ContentCache {
  blobSize(digest: Digest): number | undefined;
  setBlobSize(digest: Digest, size: number): void;
  /** The bytes of a small blob (shared: never to be modified), when remembered. */
  smallBlob(digest: Digest): Buffer | undefined;
  /** Remembers the bytes of a blob of at most `SMALL_BLOB_MAX_BYTES`. */
  setSmallBlob(digest: Digest, content: Buffer): void;
  manifest(digest: Digest): CachedManifest | undefined;
  setManifest(digest: Digest, manifest: CachedManifest): void;
  /** Forgets everything about `digest` (its data was removed). */
  forgetBlob(digest: Digest): void;
}

/** A manifest's bytes (shared: never to be modified) and what they say. */
export interface CachedManifest {
  readonly content: Buffer;
  readonly facts: ManifestFacts;
}

/** Blob sizes remembered, at most (the oldest is forgotten first). */
const BLOB_SIZES_MAX = 100_000;
/** Manifest bytes remembered, at most, in all (the least recently used go first). */
const MANIFEST_BYTES_MAX = 64 * 1024 * 1024;
/** A manifest larger than this is not remembered. */
const MANIFEST_ENTRY_MAX = 1024 * 1024;
/**
 * Blobs up to this size are served from memory (`BlobStore.readSmall`): configs, small
 * layers, signatures. Opening, reading and closing a file costs a small GET most of its time.
 */
export const SMALL_BLOB_MAX_BYTES = 64 * 1024;
/** Small blob bytes remembered, at most, in all (the least recently used go first). */
const SMALL_BLOB_BYTES_MAX = 32 * 1024 * 1024;

/** A new, empty content cache (caches.ts). */
export function createContentCache(): ContentCache {
  const sizes = new Map<Digest, number>();
  const manifests = new LruBytes<CachedManifest>(MANIFEST_BYTES_MAX, (m) => m.content.byteLength);
  const smallBlobs = new LruBytes<Buffer>(SMALL_BLOB_BYTES_MAX, (b) => b.byteLength);

  return {
    blobSize: (digest) => sizes.get(digest),
    setBlobSize(digest, size) {
      if (!sizes.has(digest) && sizes.size >= BLOB_SIZES_MAX) {
        const oldest = sizes.keys().next();
        if (oldest.done !== true) sizes.delete(oldest.value);
      }
      sizes.set(digest, size);
    },
    smallBlob: (digest) => smallBlobs.get(digest),
    setSmallBlob(digest, content) {
      if (content.byteLength <= SMALL_BLOB_MAX_BYTES) smallBlobs.set(digest, content);
    },
    manifest: (digest) => manifests.get(digest),
    setManifest(digest, manifest) {
      if (manifest.content.byteLength <= MANIFEST_ENTRY_MAX) manifests.set(digest, manifest);
    },
    forgetBlob(digest) {
      sizes.delete(digest);
      manifests.delete(digest);
      smallBlobs.delete(digest);
    },
  };
}

/** Entries by digest within a byte budget; the least recently used are dropped first. */
class LruBytes<T> {
  readonly #entries = new Map<Digest, T>();
  #bytes = 0;

  constructor(
    private readonly max: number,
    private readonly sizeOf: (entry: T) => number,
  ) {}

  get(digest: Digest): T | undefined {
    const entry = this.#entries.get(digest);
    if (entry !== undefined) {
      // Most recently used last.
      this.#entries.delete(digest);
      this.#entries.set(digest, entry);
    }
    return entry;
  }

  set(digest: Digest, entry: T): void {
    this.delete(digest);
    const bytes = this.sizeOf(entry);
    while (this.#bytes + bytes > this.max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
    this.#entries.set(digest, entry);
    this.#bytes += bytes;
  }

  delete(digest: Digest): void {
    const entry = this.#entries.get(digest);
    if (entry === undefined) return;
    this.#entries.delete(digest);
    this.#bytes -= this.sizeOf(entry);
  }
}

/**
 * Referrers entries already read and found valid (a descriptor filed under its own digest,
 * whose manifest is a stored revision), by entry path, one per store: listing referrers reads
 * the subject's directory each time, but each entry and its revision once. An entry stays
 * valid until its manifest is deleted, so every manifest delete (and garbage collection)
 * forgets them all (`clear`); entries whose file is gone are not listed anyway.
 *
 * Whole listings (the valid referrers of one subject) are remembered too, unless the driver
 * is `shared` (other replicas add referrers behind this process's back): a listing goes stale
 * whenever a referrer is pushed or deleted, so every push of a manifest with a subject calls
 * `referrersChanged` before it writes the entry and again once the manifest is stored, and a
 * listing read across either call is not kept.
 */
export interface ReferrerEntries {
  get(path: string): Descriptor | undefined;
  /** Counts `clear`s and `referrersChanged`s: a result read before one must not be kept. */
  readonly generation: number;
  /** Remembers `descriptor` unless `clear` was called since `generation` was read. */
  set(path: string, descriptor: Descriptor, generation: number): void;
  /** The valid referrers of the directory `dir`, sorted by entry path (never to be modified). */
  listing(dir: string): readonly Descriptor[] | undefined;
  /** Remembers a listing of `dir` unless anything changed since `generation` was read. */
  setListing(dir: string, referrers: readonly Descriptor[], generation: number): void;
  /** A referrer is being pushed: forgets every listing. */
  referrersChanged(): void;
  clear(): void;
}

/** Referrers entries remembered, at most (past it, everything is forgotten). */
const REFERRER_ENTRIES_MAX = 100_000;
/** Referrers listings remembered, at most (past it, every listing is forgotten). */
const REFERRER_LISTINGS_MAX = 10_000;

/**
 * New, empty referrers entries (caches.ts); with `shared` (other replicas write to the same
 * storage) no listing is ever kept.
 */
export function createReferrerEntries(shared: boolean): ReferrerEntries {
  const map = new Map<string, Descriptor>();
  const listings = new Map<string, readonly Descriptor[]>();
  const keepListings = !shared;
  let generation = 0;
  return {
    get: (path) => map.get(path),
    get generation() {
      return generation;
    },
    set(path, descriptor, checkedAt) {
      if (checkedAt !== generation) return;
      if (map.size >= REFERRER_ENTRIES_MAX) map.clear();
      map.set(path, descriptor);
    },
    listing: (dir) => listings.get(dir),
    setListing(dir, referrers, checkedAt) {
      if (!keepListings || checkedAt !== generation) return;
      if (listings.size >= REFERRER_LISTINGS_MAX) listings.clear();
      listings.set(dir, Object.freeze([...referrers]));
    },
    referrersChanged() {
      generation++;
      listings.clear();
    },
    clear() {
      generation++;
      map.clear();
      listings.clear();
    },
  };
}
