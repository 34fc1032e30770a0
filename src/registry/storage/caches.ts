import type { Hash } from 'node:crypto';
import type { ResumableSha256 } from './resumable-sha256.js';
import type { DigestAlgorithm } from '../../oci/index.js';
import type { ContentCache, ReferrerEntries } from './content-cache.js';
import { createContentCache, createReferrerEntries } from './content-cache.js';
import type { StorageDriver } from './driver.js';
import type { RepositoryLinks } from './link-cache.js';
import { createRepositoryLinks } from './link-cache.js';
import { KeyedMutex } from './locks.js';
import type { KnownTags } from './tag-cache.js';
import { createKnownTags } from './tag-cache.js';

/**
 * Everything the storage layer keeps in memory about one store: made once by `createStore`
 * (create-store.ts says what each part holds and why it cannot go stale) and handed to every
 * role store it builds, and to garbage collection run in the same process, so that what one
 * of them writes or removes the others see. Two stores over one storage root in one process
 * must share one `StoreCaches`; a new one is what a restarted process starts with.
 */
export interface StoreCaches {
  /** Immutable, content-addressed facts: blob sizes, small blobs, manifests (content-cache.ts). */
  readonly content: ContentCache;
  /** Referrers entries found valid, and whole listings (content-cache.ts). */
  readonly referrers: ReferrerEntries;
  /** Tags, revisions, blob links and tag lists of repositories (link-cache.ts). */
  readonly links: RepositoryLinks;
  /** Tags known to have their link, for tag listings (tag-cache.ts). */
  readonly tags: KnownTags;
  /** Running hashes of upload sessions, by `<repo>@<id>` (uploads.ts). */
  readonly uploadHashes: Map<string, UploadHashState>;
  /** The in-process locks of read-check-write steps (locks.ts). */
  readonly locks: StoreLocks;
}

/** The storage layer's locks: one store's writers exclude each other through them. */
export interface StoreLocks {
  /** Keys `<repo>@<upload id>`: one operation at a time per upload session. */
  readonly uploadSessions: KeyedMutex;
  /** Keys `<digest>`: the "data present? keep : write or move into place" step of a blob. */
  readonly blobPublish: KeyedMutex;
}

/**
 * An upload session's running hash: `hashed` bytes of its data went into `hash` (node's, or
 * for a pending file whose chunks may reach any replica a resumable one: upload-hashes.ts).
 */
export interface UploadHashState {
  readonly algorithm: DigestAlgorithm;
  readonly hash: Hash | ResumableSha256;
  hashed: number;
}

/**
 * New, empty caches for a store over `driver`. Over a `shared` driver (replicas writing to
 * the same storage) nothing that can change is remembered: only content-addressed facts,
 * this process's own upload hashes and its locks.
 *
 * @example
 * const caches = createStoreCaches(driver);
 * const store = createStore(driver, { caches });
 * await collectGarbage(driver, { caches }); // forgets what it removes
 */
export function createStoreCaches(driver: Pick<StorageDriver, 'shared'>): StoreCaches {
  const shared = driver.shared === true;
  return {
    content: createContentCache(),
    referrers: createReferrerEntries(shared),
    links: createRepositoryLinks(shared),
    tags: createKnownTags(shared),
    uploadHashes: new Map(),
    locks: { uploadSessions: new KeyedMutex(), blobPublish: new KeyedMutex() },
  };
}
