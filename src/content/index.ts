/**
 * Where content comes from and goes to: locators, bounded reads, atomic writes, the Target
 * role interfaces and their stores (memory, OCI image layout), and `copy` between any two.
 * Depends on `oci` only.
 */
export { writeFileAtomic } from './atomic-write.js';
export type { AtomicWriteOptions } from './atomic-write.js';
export { readBoundedFile, readBoundedStream } from './bounded-read.js';
export { DEFAULT_COPY_CONCURRENCY, copy } from './copy.js';
export type { CopyOptions, CopyProgressEvent, CopyResult } from './copy.js';
export { loadManifest, parseManifestLocator } from './manifest-locator.js';
export type { LoadManifestOptions, ManifestLocator } from './manifest-locator.js';
export { createMemoryStore } from './memory-store.js';
export { asAsyncIterable } from './store-support.js';
export { openOciLayout } from './oci-layout.js';
export type { OpenOciLayoutOptions } from './oci-layout.js';
export { parseOciLayoutLocator } from './oci-layout-locator.js';
export type { OciLayoutLocator } from './oci-layout-locator.js';
export { canDelete, hasReferrers } from './target.js';
export type {
  Deleter,
  Exister,
  Fetcher,
  Pusher,
  ReadOnlyStorage,
  ReadOnlyTarget,
  ReferrerLister,
  Resolver,
  Storage,
  Tagger,
  TagResolver,
  Target,
} from './target.js';
