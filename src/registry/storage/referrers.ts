import type { Descriptor, Digest } from '../../oci/index.js';
import { isDescriptor } from '../../oci/index.js';
import { exists, isNotFound } from './blobs.js';
import type { StoreCaches } from './caches.js';
import type { StorageDriver } from './driver.js';
import { manifestRevisionLinkPath, referrerEntryPath, referrersPath } from './paths.js';
import type { ReferrersIndex } from './store.js';
import { mapLimit } from './store-files.js';

/**
 * The referrers index (distribution-spec v1.1 "Listing referrers"): one directory per subject,
 * one small JSON descriptor per referrer, written by the manifest store on PUT and removed on
 * DELETE. Listing reads that one directory, so its cost is the number of referrers of the
 * subject, never the size of the repository; an entry found valid is remembered
 * (`StoreCaches.referrers`, forgotten on every manifest delete), and so is the whole listing until
 * a referrer is pushed or deleted: listing again costs no storage access at all.
 */

/** How many entries are read at once. */
const READ_CONCURRENCY = 16;

/**
 * Creates the referrers index of the registry over `driver`, remembering in `caches` (the
 * store's: caches.ts), which the manifest store tells of every referrer pushed or deleted.
 *
 * @example
 * const signatures = await createReferrersIndex(driver, caches).list('library/alpine', digest, {
 *   artifactType: MediaTypes.nv2ArtifactType,
 * });
 */
export function createReferrersIndex(driver: StorageDriver, caches: StoreCaches): ReferrersIndex {
  const known = caches.referrers;

  async function readEntry(
    repo: string,
    subject: Digest,
    path: string,
  ): Promise<Descriptor | undefined> {
    const remembered = known.get(path);
    if (remembered !== undefined) return remembered;
    const generation = known.generation;
    let content: Buffer;
    try {
      content = await driver.getContent(path);
    } catch (err) {
      if (isNotFound(err)) return undefined; // deleted since the listing
      throw err;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(content.toString('utf8'));
    } catch {
      return undefined;
    }
    // An entry must be a descriptor filed under its own digest; anything else is not ours.
    if (!isDescriptor(entry) || referrerEntryPath(repo, subject, entry.digest) !== path) {
      return undefined;
    }
    // Put writes the entry before the revision, and a crash can leave it alone: list only
    // referrers that are stored manifests of this repository.
    if (!(await exists(driver, manifestRevisionLinkPath(repo, entry.digest)))) return undefined;
    const descriptor = copyDescriptor(entry);
    known.set(path, descriptor, generation);
    return descriptor;
  }

  return {
    async list(repo, subject, options = {}) {
      const dir = referrersPath(repo, subject);
      let valid = known.listing(dir);
      if (valid === undefined) {
        const generation = known.generation;
        let paths: string[];
        try {
          paths = await driver.list(dir);
        } catch (err) {
          if (isNotFound(err)) return [];
          throw err;
        }
        paths.sort();
        const entries = await mapLimit(paths, READ_CONCURRENCY, (p) => readEntry(repo, subject, p));
        valid = entries.filter((d): d is Descriptor => d !== undefined);
        known.setListing(dir, valid, generation);
      }
      const { artifactType } = options;
      return valid.filter((d) => artifactType === undefined || d.artifactType === artifactType);
    },
  };
}

/** The descriptor fields a referrers response carries, and nothing else an entry may hold. */
function copyDescriptor(entry: Descriptor): Descriptor {
  const { mediaType, digest, size, artifactType, annotations } = entry;
  return {
    mediaType,
    digest,
    size,
    ...(typeof artifactType === 'string' ? { artifactType } : {}),
    ...(isStringMap(annotations) ? { annotations } : {}),
  };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}
