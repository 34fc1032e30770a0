import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileInfo } from './driver.js';
import { isValidStoragePath } from './driver.js';
import { ioError } from './driver-checks.js';
import { errno } from './filesystem-errors.js';

/**
 * Listing for the filesystem driver: which names of a directory are storage paths (no
 * temporary files, no journal, no links), in the order `list` and `walk` promise.
 */

/** Visits every file below `host` (storage path `path`) in sorted order (`StorageDriver.walk`). */
export async function walkDirectory(
  host: string,
  path: string,
  visit: (info: FileInfo) => void | Promise<void>,
): Promise<void> {
  let entries;
  try {
    entries = await readdir(host, { withFileTypes: true });
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed during the walk
    throw ioError('walk', path, code ?? 'error', err);
  }
  // Sorted so that whole paths come out in ascending order (`a/` sorts after `a-b` and
  // `a.txt`, as `/a/x` does after `/a-b` and `/a.txt`). Links and temp files are skipped.
  const children = entries
    .filter((e) => isVisibleName(e.name) && (e.isFile() || e.isDirectory()))
    .map((e) => ({ name: e.name, key: e.isDirectory() ? `${e.name}/` : e.name }))
    .sort((a, b) => compare(a.key, b.key));
  for (const { name } of children) {
    const childHost = join(host, name);
    const child = childPath(path, name);
    let stats;
    try {
      // Again, now: the entry may have been removed or replaced since readdir.
      stats = await lstat(childHost);
    } catch (err) {
      if (errno(err) === 'ENOENT') continue;
      throw ioError('walk', child, errno(err) ?? 'error', err);
    }
    if (stats.isDirectory()) {
      await walkDirectory(childHost, child, visit);
    } else if (stats.isFile()) {
      await visit({ path: child, size: stats.size, modTime: stats.mtime, isDirectory: false });
    }
  }
}

/** Names a storage path can have; temp files and anything else put there are not shown. */
export function isVisibleName(name: string): boolean {
  return isValidStoragePath(`/${name}`);
}

export function childPath(path: string, name: string): string {
  return path === '/' ? `/${name}` : `${path}/${name}`;
}

/** Code-unit order (what `Array.prototype.sort` does by default; paths are ASCII). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
