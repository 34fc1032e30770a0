/** Where content comes from and goes to: locators, bounded reads, atomic writes. Depends on `oci` only. */
export { writeFileAtomic } from './atomic-write.js';
export type { AtomicWriteOptions } from './atomic-write.js';
export { readBoundedFile, readBoundedStream } from './bounded-read.js';
export { loadManifest, parseManifestLocator } from './manifest-locator.js';
export type { LoadManifestOptions, ManifestLocator } from './manifest-locator.js';
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
