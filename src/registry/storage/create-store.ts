import type { BlobStoreOptions } from './blobs.js';
import { createBlobStore } from './blobs.js';
import type { StoreCaches } from './caches.js';
import { createStoreCaches } from './caches.js';
import { createCatalog } from './catalog.js';
import type { StorageDriver } from './driver.js';
import type { ManifestStoreOptions } from './manifests.js';
import { createManifestStore } from './manifests.js';
import { createReferrersIndex } from './referrers.js';
import type { RegistryStore } from './store.js';
import { createTagStore } from './tags.js';
import type { UploadStoreOptions } from './uploads.js';
import { createUploadStore } from './uploads.js';

/** Options of `createStore`, passed to the role stores that take any. */
export interface StoreOptions {
  readonly blobs?: BlobStoreOptions;
  readonly manifests?: ManifestStoreOptions;
  readonly uploads?: UploadStoreOptions;
  /**
   * The store's in-memory caches (default: new ones, `createStoreCaches(driver)`). Given when
   * something else in the process works on the same storage and must share them: garbage
   * collection (`collectGarbage(driver, { caches })`), or a second store over the same root.
   */
  readonly caches?: StoreCaches;
}

/**
 * The whole storage layer of the registry over one driver: blobs, uploads, manifests, tags,
 * referrers and catalog, each a small role (`store.ts`), all sharing `driver` and one
 * `StoreCaches` (caches.ts), made here and handed to each role.
 *
 * What the caches hold, and why none goes stale:
 *
 * - `content` (content-cache.ts): blob sizes, the bytes of small blobs, manifests with what
 *   they say. Keyed by digest, and the bytes of a digest never change; they disappear only
 *   through garbage collection, which is given the same caches and forgets each blob it
 *   removes. Kept over `shared` drivers too: content-addressed facts hold for every replica.
 * - `referrers` (content-cache.ts): referrers entries found valid, and whole listings. Every
 *   manifest delete and every collection forgets the entries; every push of a referrer
 *   forgets the listings before and after it writes, and a listing read across either is
 *   not kept. Over a `shared` driver no listing is kept (other replicas add referrers).
 * - `links` (link-cache.ts): tags, manifest revisions, blob links and tag lists. Every
 *   change of a link goes through the roles of this store, which update the cache inside
 *   `change` with generations around the write, so a concurrent read never keeps an old
 *   value; collection clears it. Over a `shared` driver nothing is remembered.
 * - `tags` (tag-cache.ts): tags known to have their link, for tag listings; the manifest
 *   store forgets a tag before and after deleting it. Over a `shared` driver, none.
 * - `uploadHashes`: the running hash of each upload session while this process streams it;
 *   used only while it still describes exactly the bytes in the session's file (checked at
 *   every append and commit), else the file is hashed again.
 * - `locks`: the in-process locks of an upload session's steps and of publishing a blob.
 *
 * All of it holds only while this process is the one writer of the storage (or the driver
 * is `shared`), as everywhere in the store: two stores over one root in one process must be
 * given the same `caches`.
 *
 * @example
 * const store = createStore(createFilesystemDriver({ root: '/var/lib/nv2/registry' }));
 * await store.manifests.put('library/alpine', 'v1', bytes, MediaTypes.ociManifest);
 */
export function createStore(driver: StorageDriver, options: StoreOptions = {}): RegistryStore {
  const caches = options.caches ?? createStoreCaches(driver);
  return {
    blobs: createBlobStore(driver, caches, options.blobs),
    uploads: createUploadStore(driver, caches, options.uploads),
    manifests: createManifestStore(driver, caches, options.manifests),
    tags: createTagStore(driver, caches),
    referrers: createReferrersIndex(driver, caches),
    catalog: createCatalog(driver),
  };
}
