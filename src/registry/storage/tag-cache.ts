/**
 * Tags known to have their `current/link`, one per store (`StoreCaches`, caches.ts): listing
 * tags checks a tag directory for its link once, not on every listing. Shared by the tag
 * store (which learns) and the manifest store (which writes and deletes tags).
 *
 * Only this process's writes are seen, as everywhere in the store: one server process per
 * storage root. A remembered tag whose directory is gone simply is not listed (listings read
 * the directory each time); a tag deleted and being written again may be listed between its
 * directory's creation and its link's rename, which is when it is about to exist anyway.
 */
export interface KnownTags {
  has(repo: string, tag: string): boolean;
  add(repo: string, tag: string): void;
  delete(repo: string, tag: string): void;
}

/** At most this many tags are remembered in all; past it, everything is forgotten. */
const KNOWN_TAGS_MAX = 100_000;

/** New known tags (caches.ts); over `shared` storage, never any. */
export function createKnownTags(shared: boolean): KnownTags {
  return shared ? NOTHING_KNOWN : rememberingKnownTags();
}

/** Over shared storage a tag another replica deleted must not be listed: nothing is known. */
const NOTHING_KNOWN: KnownTags = {
  has: () => false,
  add: () => undefined,
  delete: () => undefined,
};

function rememberingKnownTags(): KnownTags {
  const repos = new Map<string, Set<string>>();
  let count = 0;
  return {
    has: (repo, tag) => repos.get(repo)?.has(tag) === true,
    add(repo, tag) {
      let tags = repos.get(repo);
      if (tags?.has(tag) === true) return;
      if (count >= KNOWN_TAGS_MAX) {
        repos.clear();
        count = 0;
        tags = undefined;
      }
      if (tags === undefined) {
        tags = new Set();
        repos.set(repo, tags);
      }
      tags.add(tag);
      count++;
    },
    delete(repo, tag) {
      const tags = repos.get(repo);
      if (tags?.delete(tag) !== true) return;
      count--;
      if (tags.size === 0) repos.delete(repo);
    },
  };
}
