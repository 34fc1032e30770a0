import { posix } from 'node:path';
import { MAX_NAME_LENGTH } from '../../oci/index.js';
import { isNotFound } from './blobs.js';
import type { StorageDriver } from './driver.js';
import { repositoriesRootPath, repositoryPath } from './paths.js';
import type { Catalog } from './store.js';
import { RegistryError } from './store.js';
import { compareAscii, mapLimit } from './store-files.js';

/**
 * The repository catalog (`GET /v2/_catalog`, CNCF distribution's extension; the
 * distribution-spec reserves the endpoint). Repository names contain `/`, so repositories are
 * found by walking the directories under `repositoriesRootPath()`: a directory is a
 * repository when it holds one of the `_`-prefixed entries the layout gives every repository.
 * `_`-prefixed directories are never descended into (they are a repository's own data; the
 * name grammar forbids a component starting with `_`).
 */

/** The entries that make a directory a repository (see `paths.ts`). */
const REPOSITORY_MARKERS: ReadonlySet<string> = new Set(['_manifests', '_layers', '_uploads']);

/**
 * Deepest directory the walk descends to: a name of at most `MAX_NAME_LENGTH` characters has
 * at most this many `/`-separated components (each at least one character). Bounds the walk
 * whatever lies on the medium.
 */
const MAX_NAME_COMPONENTS = Math.ceil(MAX_NAME_LENGTH / 2);

/** How many directory listings of the walk run at once. */
const LIST_CONCURRENCY = 16;

/** How many candidate names of a page are checked at once (tags: does the link exist). */
const PAGE_CHECK_BATCH = 16;

/** Pagination of a listing (`n` and `last`, distribution-spec "Listing tags"). */
export interface PageOptions {
  readonly n?: number;
  readonly last?: string;
}

/**
 * Creates the catalog of the registry over `driver`.
 *
 * @example
 * const { repositories, more } = await createCatalog(driver).list({ n: 100 });
 */
export function createCatalog(driver: StorageDriver): Catalog {
  return {
    async list(options = {}) {
      checkPageSize(options.n);
      const { items, more } = await paginate(await listRepositories(driver), options);
      return { repositories: items, more };
    },
  };
}

/**
 * Every repository name, in byte-wise order. Walks directories only (never the files of a
 * repository), to at most `MAX_NAME_COMPONENTS` levels.
 */
export async function listRepositories(driver: StorageDriver): Promise<string[]> {
  const root = repositoriesRootPath();
  const names: string[] = [];
  let level: string[] = [root];
  for (let depth = 0; depth <= MAX_NAME_COMPONENTS && level.length > 0; depth++) {
    const listings = await mapLimit(level, LIST_CONCURRENCY, (dir) => listOrEmpty(driver, dir));
    const next: string[] = [];
    level.forEach((dir, i) => {
      const children = listings[i]!;
      if (dir !== root && children.some((c) => REPOSITORY_MARKERS.has(posix.basename(c)))) {
        names.push(dir.slice(root.length + 1));
      }
      for (const child of children) {
        const base = posix.basename(child);
        if (base.startsWith('_')) continue;
        if (child.length - root.length - 1 > MAX_NAME_LENGTH) continue;
        next.push(child);
      }
    });
    level = next;
  }
  return names.sort(compareAscii);
}

/** Whether `name` is a repository: its directory holds a `_manifests`, `_layers` or `_uploads`. */
export async function isRepository(driver: StorageDriver, name: string): Promise<boolean> {
  const children = await listOrEmpty(driver, repositoryPath(name));
  return children.some((c) => REPOSITORY_MARKERS.has(posix.basename(c)));
}

async function listOrEmpty(driver: StorageDriver, dir: string): Promise<string[]> {
  try {
    return await driver.list(dir);
  } catch (err) {
    // Absent, or a file (the driver answers NOT_FOUND for a list of a file).
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * Checks a page size: a non-negative integer, or undefined for "all".
 *
 * @throws RegistryError PAGINATION_NUMBER_INVALID otherwise.
 */
export function checkPageSize(n: number | undefined): void {
  if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { n });
  }
}

/**
 * One page of a sorted listing: at most `n` names strictly after `last`, keeping only those
 * `keep` accepts; `more` when an accepted name follows the page. `n` 0 gives an empty page
 * and no `more` (the spec: an empty list and no `Link` header).
 */
export async function paginate(
  sorted: readonly string[],
  options: PageOptions,
  keep?: (name: string) => Promise<boolean>,
): Promise<{ items: string[]; more: boolean }> {
  const { n, last } = options;
  if (n === 0) return { items: [], more: false };
  let start = 0;
  if (last !== undefined) {
    // First index whose name sorts after `last` (binary search: listings can be long).
    let hi = sorted.length;
    while (start < hi) {
      const mid = (start + hi) >>> 1;
      if (compareAscii(sorted[mid]!, last) <= 0) start = mid + 1;
      else hi = mid;
    }
  }
  const items: string[] = [];
  for (let i = start; i < sorted.length; i += PAGE_CHECK_BATCH) {
    const batch = sorted.slice(i, i + PAGE_CHECK_BATCH);
    const accepted = keep ? await mapLimit(batch, PAGE_CHECK_BATCH, keep) : batch.map(() => true);
    for (let j = 0; j < batch.length; j++) {
      if (!accepted[j]) continue;
      if (n !== undefined && items.length === n) return { items, more: true };
      items.push(batch[j]!);
    }
  }
  return { items, more: false };
}
