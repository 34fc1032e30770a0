import type { Digest } from '../../oci/index.js';
import { KeyedMutex } from './locks.js';

/**
 * In-memory copies of a repository's links, one per store (`StoreCaches`, caches.ts): the digest each tag points at, the
 * sorted list of tags, which manifest revisions exist and which blobs are linked. With them a
 * manifest GET by tag, a blob HEAD, a tags list or the reference checks of a manifest PUT
 * touch no storage at all once warm.
 *
 * Unlike the content cache (content-cache.ts), these facts change: they are correct because
 * every change goes through the stores of this process, which update them here (`change`).
 * The rules:
 *
 * - Writers change a link inside `change(repo, key, fn)`: one change per link at a time, in
 *   call order (so the cache ends in the state of the last write on storage), and the
 *   repository's generation moves before and after the write.
 * - Readers that miss read storage, then `remember` what they read with the generation they
 *   saw before reading: if any change of the repository started meanwhile, the value may be
 *   stale and is not kept.
 * - Garbage collection, which deletes links behind the stores' backs, calls `clear`.
 *
 * One process per storage root, as everywhere in the store (locks.ts): several registry
 * processes sharing a root see each other's writes only on storage, so they run without
 * these caches: over a driver marked `shared` (the S3 driver with replicas) nothing is
 * remembered — see docs/scaling.md. Absence is never cached: a tag or link
 * that is not remembered is looked up on storage every time.
 */
export interface RepositoryLinks {
  /** The repository's generation: read it before reading storage, pass it to `remember*`. */
  generation(repo: string): number;
  /** The digest `tag` points at, when known. */
  tag(repo: string, tag: string): Digest | undefined;
  rememberTag(repo: string, tag: string, digest: Digest, generation: number): void;
  /** Whether the revision `digest` is known to exist in `repo`. */
  hasRevision(repo: string, digest: Digest): boolean;
  rememberRevision(repo: string, digest: Digest, generation: number): void;
  /** Whether the blob `digest` is known to be linked into `repo`. */
  hasLayer(repo: string, digest: Digest): boolean;
  rememberLayer(repo: string, digest: Digest, generation: number): void;
  /** Every tag of `repo` with its link, byte-wise sorted (never to be modified), when known. */
  tagList(repo: string): readonly string[] | undefined;
  rememberTagList(repo: string, tags: readonly string[], generation: number): void;
  /**
   * Runs a change of one link (`key` names it: `tag:v1`, `rev:<digest>`, `layer:<digest>`)
   * after the earlier changes of the same link, moving the generation around it; `fn` updates
   * the cache (`set*`) once storage has the new state.
   */
  change<T>(repo: string, key: string, fn: () => Promise<T>): Promise<T>;
  /** Records a tag written (`digest`) or removed (undefined). Only inside `change`. */
  setTag(repo: string, tag: string, digest: Digest | undefined): void;
  setRevision(repo: string, digest: Digest, present: boolean): void;
  setLayer(repo: string, digest: Digest, present: boolean): void;
  /** Forgets everything (garbage collection changed storage). */
  clear(): void;
}

/** Entries remembered, at most, in all; past it everything is forgotten. */
const ENTRIES_MAX = 200_000;

interface RepositoryEntry {
  readonly tags: Map<string, Digest>;
  readonly revisions: Set<Digest>;
  readonly layers: Set<Digest>;
  tagList: readonly string[] | undefined;
}

/**
 * New, empty repository links (caches.ts). With `shared` (other processes write to the same storage) nothing is ever remembered: every
 * lookup misses and goes to storage; `change` still orders this process's own writes.
 */
export function createRepositoryLinks(shared: boolean): RepositoryLinks {
  const repos = new Map<string, RepositoryEntry>();
  const generations = new Map<string, number>();
  const locks = new KeyedMutex();
  let entries = 0;
  /** Bumped by `clear`: a value read before a clear is never kept. */
  let epoch = 0;

  /** Changes running per repository: nothing read while one runs is kept (it may not be durable yet). */
  const running = new Map<string, number>();

  const generation = (repo: string): number => epoch * 2 ** 32 + (generations.get(repo) ?? 0);
  /** Whether a value read since `seen` may be kept: no change started since, none running. */
  const settled = (repo: string, seen: number): boolean =>
    !shared && seen === generation(repo) && !running.has(repo);

  function entryOf(repo: string): RepositoryEntry {
    let entry = repos.get(repo);
    if (entry === undefined) {
      if (entries >= ENTRIES_MAX) clear();
      entry = { tags: new Map(), revisions: new Set(), layers: new Set(), tagList: undefined };
      repos.set(repo, entry);
    }
    return entry;
  }

  function bump(repo: string): void {
    generations.set(repo, (generations.get(repo) ?? 0) + 1);
  }

  function clear(): void {
    repos.clear();
    entries = 0;
    epoch++;
  }

  function setTag(repo: string, tag: string, digest: Digest | undefined): void {
    if (shared) return;
    const entry = digest === undefined ? repos.get(repo) : entryOf(repo);
    if (entry === undefined) return; // nothing known: nothing to correct
    const had = entry.tags.has(tag);
    if (digest === undefined) {
      if (entry.tags.delete(tag)) entries--;
    } else {
      if (!had) entries++;
      entry.tags.set(tag, digest);
    }
    const list = entry.tagList;
    if (list === undefined) return;
    const i = lowerBound(list, tag);
    const listed = list[i] === tag;
    if (digest !== undefined && !listed) {
      entry.tagList = Object.freeze([...list.slice(0, i), tag, ...list.slice(i)]);
      entries++;
    } else if (digest === undefined && listed) {
      entry.tagList = Object.freeze([...list.slice(0, i), ...list.slice(i + 1)]);
      entries--;
    }
  }

  return {
    generation,
    tag: (repo, tag) => repos.get(repo)?.tags.get(tag),
    rememberTag(repo, tag, digest, seen) {
      if (!settled(repo, seen)) return;
      const entry = entryOf(repo);
      if (!entry.tags.has(tag)) entries++;
      entry.tags.set(tag, digest);
    },
    hasRevision: (repo, digest) => repos.get(repo)?.revisions.has(digest) === true,
    rememberRevision(repo, digest, seen) {
      if (!settled(repo, seen)) return;
      const set = entryOf(repo).revisions;
      if (!set.has(digest)) entries++;
      set.add(digest);
    },
    hasLayer: (repo, digest) => repos.get(repo)?.layers.has(digest) === true,
    rememberLayer(repo, digest, seen) {
      if (!settled(repo, seen)) return;
      const set = entryOf(repo).layers;
      if (!set.has(digest)) entries++;
      set.add(digest);
    },
    tagList: (repo) => repos.get(repo)?.tagList,
    rememberTagList(repo, tags, seen) {
      if (!settled(repo, seen)) return;
      const entry = entryOf(repo);
      entries += tags.length - (entry.tagList?.length ?? 0);
      entry.tagList = Object.isFrozen(tags) ? tags : Object.freeze([...tags]);
    },
    async change(repo, key, fn) {
      return locks.run(`${repo}\n${key}`, async () => {
        bump(repo);
        running.set(repo, (running.get(repo) ?? 0) + 1);
        try {
          return await fn();
        } finally {
          const left = running.get(repo)! - 1;
          if (left === 0) running.delete(repo);
          else running.set(repo, left);
          bump(repo);
        }
      });
    },
    setTag,
    setRevision(repo, digest, present) {
      if (shared) return;
      const entry = present ? entryOf(repo) : repos.get(repo);
      if (entry === undefined) return;
      if (present && !entry.revisions.has(digest)) {
        entry.revisions.add(digest);
        entries++;
      } else if (!present && entry.revisions.delete(digest)) {
        entries--;
      }
    },
    setLayer(repo, digest, present) {
      if (shared) return;
      const entry = present ? entryOf(repo) : repos.get(repo);
      if (entry === undefined) return;
      if (present && !entry.layers.has(digest)) {
        entry.layers.add(digest);
        entries++;
      } else if (!present && entry.layers.delete(digest)) {
        entries--;
      }
    },
    clear,
  };
}

/** The first index whose name is not below `name` (byte-wise). */
export function lowerBound(sorted: readonly string[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
