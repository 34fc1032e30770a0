import { exists } from './blobs.js';
import { checkPageSize, isRepository } from './catalog.js';
import type { StoreCaches } from './caches.js';
import type { StorageDriver } from './driver.js';
import { tagCurrentLinkPath } from './paths.js';
import type { TagStore } from './store.js';
import { RegistryError } from './store.js';
import { listTagNames, mapLimit, resolveTag } from './store-files.js';

/** How many tag directories are checked for their link at once. */
const CHECK_CONCURRENCY = 16;

/**
 * Tags of a repository (distribution-spec "Listing tags"): the directories under
 * `_manifests/tags/`, each with a `current/link` holding a digest. Tags are moved and deleted
 * by the manifest store; this is the read side.
 */

/**
 * Creates the tag store of the registry over `driver`, remembering in `caches` (the store's:
 * caches.ts), where the manifest store records its tag writes.
 *
 * @example
 * const tags = createTagStore(driver, caches);
 * const { tags: page, more } = await tags.list('library/alpine', { n: 50, last: 'v1' });
 */
export function createTagStore(driver: StorageDriver, caches: StoreCaches): TagStore {
  const links = caches.links;

  /**
   * Every tag of `repo` that has its link, sorted: from the repository links when known
   * (link-cache.ts, kept by this process's tag writes), else read (then remembered).
   * Undefined when the repository does not exist.
   */
  async function allTags(repo: string): Promise<readonly string[] | undefined> {
    const cached = links.tagList(repo);
    if (cached !== undefined) return cached;
    const seen = links.generation(repo);
    if (!(await isRepository(driver, repo))) return undefined;
    // A tag directory without its link (left by a crash while a tag was being written)
    // is not a tag; each directory is checked once: a tag seen with its link, or written
    // here, is remembered.
    const known = caches.tags;
    const names = await listTagNames(driver, repo);
    const present = await mapLimit(names, CHECK_CONCURRENCY, async (tag) => {
      if (known.has(repo, tag)) return true;
      const found = await exists(driver, tagCurrentLinkPath(repo, tag));
      if (found) known.add(repo, tag);
      return found;
    });
    const tags = Object.freeze(names.filter((_, i) => present[i]));
    links.rememberTagList(repo, tags, seen);
    return tags;
  }

  return {
    async list(repo, options = {}) {
      checkPageSize(options.n);
      const tags = await allTags(repo);
      if (tags === undefined) {
        throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', {
          name: repo,
        });
      }
      const { n, last } = options;
      if (n === undefined && last === undefined) {
        // The whole list, shared (frozen): callers may keep it as the key of a cached answer.
        return { tags: tags as string[], more: false };
      }
      if (n === 0) return { tags: [], more: false };
      const start = last === undefined ? 0 : upperBound(tags, last);
      const end = n === undefined ? tags.length : Math.min(tags.length, start + n);
      return { tags: tags.slice(start, end), more: end < tags.length };
    },

    resolve: (repo, tag) => resolveTag(driver, caches, repo, tag),
  };
}

/** The first index whose name sorts after `name` (byte-wise). */
function upperBound(sorted: readonly string[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
