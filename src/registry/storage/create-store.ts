import type { BlobStoreOptions } from './blobs.js';
import { createBlobStore } from './blobs.js';
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
}

/**
 * The whole storage layer of the registry over one driver: blobs, uploads, manifests, tags,
 * referrers and catalog, each a small role (`store.ts`), all sharing `driver`.
 *
 * @example
 * const store = createStore(createFilesystemDriver({ root: '/var/lib/nv2/registry' }));
 * await store.manifests.put('library/alpine', 'v1', bytes, MediaTypes.ociManifest);
 */
export function createStore(driver: StorageDriver, options: StoreOptions = {}): RegistryStore {
  return {
    blobs: createBlobStore(driver, options.blobs),
    uploads: createUploadStore(driver, options.uploads),
    manifests: createManifestStore(driver, options.manifests),
    tags: createTagStore(driver),
    referrers: createReferrersIndex(driver),
    catalog: createCatalog(driver),
  };
}
