import { exists } from './blobs.js';
import { checkPageSize, isRepository, paginate } from './catalog.js';
import type { StorageDriver } from './driver.js';
import { listTagNames, readLink } from './manifests.js';
import { tagCurrentLinkPath } from './paths.js';
import type { TagStore } from './store.js';
import { knownTags } from './tag-cache.js';
import { RegistryError } from './store.js';

/**
 * Tags of a repository (distribution-spec "Listing tags"): the directories under
 * `_manifests/tags/`, each with a `current/link` holding a digest. Tags are moved and deleted
 * by the manifest store; this is the read side.
 */

/**
 * Creates the tag store of the registry over `driver`.
 *
 * @example
 * const { tags, more } = await createTagStore(driver).list('library/alpine', { n: 50, last: 'v1' });
 */
export function createTagStore(driver: StorageDriver): TagStore {
  return {
    async list(repo, options = {}) {
      checkPageSize(options.n);
      if (!(await isRepository(driver, repo))) {
        throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', {
          name: repo,
        });
      }
      // A tag directory without its link (left by a crash while a tag was being written)
      // is not a tag; only the names on the page, and the one after it, are checked, and
      // each only once: a tag seen with its link, or written here, is remembered.
      const known = knownTags(driver);
      const names = await listTagNames(driver, repo);
      if (names.every((tag) => known.has(repo, tag))) {
        // All checked before: no per-tag work at all (the common case, and a long list).
        const { items, more } = await paginate(names, options);
        return { tags: items, more };
      }
      const { items, more } = await paginate(names, options, async (tag) => {
        if (known.has(repo, tag)) return true;
        const found = await exists(driver, tagCurrentLinkPath(repo, tag));
        if (found) known.add(repo, tag);
        return found;
      });
      return { tags: items, more };
    },

    resolve: (repo, tag) => readLink(driver, tagCurrentLinkPath(repo, tag)),
  };
}
