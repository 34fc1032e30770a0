import { posix } from 'node:path';
import { StorageError } from '../../errors.js';
import type { Digest } from '../../oci/index.js';
import { isDigest, isTag } from '../../oci/index.js';
import { isNotFound } from './blobs.js';
import type { StoreCaches } from './caches.js';
import type { StorageDriver } from './driver.js';
import { blobDataPath, tagCurrentLinkPath, tagsPath } from './paths.js';

/**
 * Reading and removing the store's own files (manifest bytes, link files, tag directories),
 * shared by the role stores and garbage collection, and the small helpers they share.
 */

/** A manifest's bytes, or undefined when the blob is gone. */
export async function readManifestBytes(
  driver: StorageDriver,
  digest: Digest,
): Promise<Buffer | undefined> {
  try {
    return await driver.getContent(blobDataPath(digest));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** What a link file holds. */
export function linkContent(digest: Digest): Buffer {
  return Buffer.from(digest, 'utf8');
}

/**
 * The digest a link file (tag, revision, layer) holds, or undefined when there is no link.
 *
 * @throws StorageError NV2_ERR_STORAGE_IO when the file does not hold a digest.
 */
export async function readLink(driver: StorageDriver, path: string): Promise<Digest | undefined> {
  let content: Buffer;
  try {
    content = await driver.getContent(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const value = content.toString('utf8').trim();
  if (!isDigest(value)) {
    throw new StorageError('NV2_ERR_STORAGE_IO', `link ${path} does not hold a digest`);
  }
  return value;
}

/**
 * The directory of one tag (`_manifests/tags/<tag>`), removed whole when the tag is deleted
 * so that no empty tag directory lingers in a listing.
 */
export function tagDirectoryPath(repo: string, tag: string): string {
  return posix.dirname(posix.dirname(tagCurrentLinkPath(repo, tag)));
}

/** Names of the tag directories of `repo` (unverified: a directory may lack its link), sorted. */
export async function listTagNames(driver: StorageDriver, repo: string): Promise<string[]> {
  let children: string[];
  try {
    children = await driver.list(tagsPath(repo));
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  return children
    .map((p) => posix.basename(p))
    .filter((name) => isTag(name))
    .sort(compareAscii);
}

/** Byte-wise ("ASCIIbetical") order, what Go's `sort.Strings` gives and the spec allows. */
export function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Deletes a file or directory; absent is fine. */
export async function deleteIfPresent(driver: StorageDriver, path: string): Promise<void> {
  try {
    await driver.delete(path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Maps with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The digest a tag points at, from the repository links when known (link-cache.ts), else
 * from its link (then remembered).
 *
 * @throws StorageError NV2_ERR_STORAGE_IO when the link does not hold a digest.
 */
export async function resolveTag(
  driver: StorageDriver,
  caches: StoreCaches,
  repo: string,
  tag: string,
): Promise<Digest | undefined> {
  const links = caches.links;
  const known = links.tag(repo, tag);
  if (known !== undefined) return known;
  const seen = links.generation(repo);
  const digest = await readLink(driver, tagCurrentLinkPath(repo, tag));
  if (digest !== undefined) links.rememberTag(repo, tag, digest, seen);
  return digest;
}
