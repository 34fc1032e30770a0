import type { Descriptor, Digest, ManifestFacts } from '../../oci/index.js';
import type { StorageDriver } from './driver.js';

/**
 * In-memory caches of immutable, content-addressed facts, per driver (shared by every store
 * over the same driver): the size of a blob's data, and a manifest's bytes with what they
 * say. The bytes of a digest never change, so nothing here goes stale while the data is
 * there; the data is removed only by garbage collection, which runs with the server stopped
 * (README) and forgets what it removes (`forgetBlob`) for callers in the same process.
 * Whether a repository holds a blob or a manifest (its links) is never cached here.
 */
export interface ContentCache {
  blobSize(digest: Digest): number | undefined;
  setBlobSize(digest: Digest, size: number): void;
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

const byDriver = new WeakMap<StorageDriver, ContentCache>();

/** The content cache of `driver`, created on first use. */
export function contentCache(driver: StorageDriver): ContentCache {
  let cache = byDriver.get(driver);
  if (cache === undefined) {
    cache = createContentCache();
    byDriver.set(driver, cache);
  }
  return cache;
}

function createContentCache(): ContentCache {
  const sizes = new Map<Digest, number>();
  const manifests = new Map<Digest, CachedManifest>();
  let manifestBytes = 0;

  function dropManifest(digest: Digest): void {
    const entry = manifests.get(digest);
    if (entry === undefined) return;
    manifests.delete(digest);
    manifestBytes -= entry.content.byteLength;
  }

  return {
    blobSize: (digest) => sizes.get(digest),
    setBlobSize(digest, size) {
      if (!sizes.has(digest) && sizes.size >= BLOB_SIZES_MAX) {
        const oldest = sizes.keys().next();
        if (oldest.done !== true) sizes.delete(oldest.value);
      }
      sizes.set(digest, size);
    },
    manifest(digest) {
      const entry = manifests.get(digest);
      if (entry !== undefined) {
        // Most recently used last.
        manifests.delete(digest);
        manifests.set(digest, entry);
      }
      return entry;
    },
    setManifest(digest, manifest) {
      const bytes = manifest.content.byteLength;
      if (bytes > MANIFEST_ENTRY_MAX) return;
      dropManifest(digest);
      while (manifestBytes + bytes > MANIFEST_BYTES_MAX) {
        const oldest = manifests.keys().next();
        if (oldest.done === true) break;
        dropManifest(oldest.value);
      }
      manifests.set(digest, manifest);
      manifestBytes += bytes;
    },
    forgetBlob(digest) {
      sizes.delete(digest);
      dropManifest(digest);
    },
  };
}

/**
 * Referrers entries already read and found valid (a descriptor filed under its own digest,
 * whose manifest is a stored revision), by entry path, per driver: listing referrers reads
 * the subject's directory each time, but each entry and its revision once. An entry stays
 * valid until its manifest is deleted, so every manifest delete (and garbage collection)
 * forgets them all (`clear`); entries whose file is gone are not listed anyway.
 */
export interface ReferrerEntries {
  get(path: string): Descriptor | undefined;
  /** Counts `clear`s: an entry checked before a clear must not be remembered after it. */
  readonly generation: number;
  /** Remembers `descriptor` unless `clear` was called since `generation` was read. */
  set(path: string, descriptor: Descriptor, generation: number): void;
  clear(): void;
}

/** Referrers entries remembered, at most (past it, everything is forgotten). */
const REFERRER_ENTRIES_MAX = 100_000;

const referrersByDriver = new WeakMap<StorageDriver, ReferrerEntries>();

/** The remembered referrers entries of `driver`, created on first use. */
export function referrerEntries(driver: StorageDriver): ReferrerEntries {
  let entries = referrersByDriver.get(driver);
  if (entries === undefined) {
    const map = new Map<string, Descriptor>();
    let generation = 0;
    entries = {
      get: (path) => map.get(path),
      get generation() {
        return generation;
      },
      set(path, descriptor, checkedAt) {
        if (checkedAt !== generation) return;
        if (map.size >= REFERRER_ENTRIES_MAX) map.clear();
        map.set(path, descriptor);
      },
      clear() {
        generation++;
        map.clear();
      },
    };
    referrersByDriver.set(driver, entries);
  }
  return entries;
}
