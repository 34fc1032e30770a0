import { posix } from 'node:path';
import type { Digest, ManifestFacts } from '../../oci/index.js';
import { childManifests, isDigest, parseRfc3339 } from '../../oci/index.js';
import { isNotFound } from './blobs.js';
import type { StoreCaches } from './caches.js';
import type { FileInfo, StorageDriver } from './driver.js';
import { readManifestFacts } from './manifest-validation.js';
import {
  blobDataPath,
  blobsRootPath,
  layerLinkPath,
  manifestRevisionLinkPath,
  referrerEntryPath,
  repositoriesRootPath,
  tagCurrentLinkPath,
  uploadDataPath,
  uploadStartedAtPath,
} from './paths.js';
import { deleteIfPresent, mapLimit, readLink, readManifestBytes } from './store-files.js';

/**
 * Garbage collection, mark and sweep, as CNCF distribution's `registry garbage-collect`:
 *
 * 1. Inventory: one walk of every repository, each file classified by the layout of
 *    `paths.ts` (a file is acted on only when rebuilding its path with the `paths.ts`
 *    function gives the same path; anything else is left alone).
 * 2. With `deleteUntagged`: a manifest is live when a tag points at it, when it is a child of
 *    a live index, or when its `subject` is live (to a fixed point: a referrer of a referrer
 *    of a tagged image lives). Every other manifest is removed (revision link and referrers
 *    entry). Without it, every manifest is live.
 * 3. Mark: the bytes, config, layers and index children of every live manifest, across all
 *    repositories (blobs are shared).
 * 4. Sweep: unmarked blob data; then repository blob links whose data is gone; referrers
 *    entries whose manifest is gone; upload sessions older than `uploadsOlderThan`.
 *
 * Like distribution's, this is not safe while clients push: a blob uploaded but not yet
 * referenced by a manifest is unmarked, and is swept. Run it with the registry read-only (or
 * stopped). Conservative on faults: a storage error, or a manifest whose bytes are not JSON,
 * stops the run before anything is deleted (a manifest that cannot be read cannot be marked).
 */

/** Options of `collectGarbage`. */
export interface GcOptions {
  /** Report what would be removed, remove nothing. */
  readonly dryRun?: boolean;
  /** Also remove manifests no tag reaches (see the module comment for what stays). */
  readonly deleteUntagged?: boolean;
  /**
   * Upload sessions started longer ago than this many milliseconds are removed (default
   * `DEFAULT_UPLOAD_MAX_AGE_MS`, one week, distribution's upload purging age).
   */
  readonly uploadsOlderThan?: number;
  /** The clock (default: the system clock); for tests. */
  readonly now?: () => Date;
  /**
   * The caches of the store over `driver` in this process, if there is one (caches.ts): what
   * the collection removes is forgotten there. Without them, no store of this process may be
   * over the same storage (`nv2 registry gc` runs with none).
   */
  readonly caches?: StoreCaches;
}

/** What a collection removed (or, in a dry run, would remove). */
export interface GcReport {
  readonly dryRun: boolean;
  readonly repositories: number;
  /** Manifest revisions found, in all repositories. */
  readonly manifests: number;
  /** Untagged manifests removed (with `deleteUntagged`). */
  readonly manifestsDeleted: number;
  /** Blobs found in the blob store. */
  readonly blobs: number;
  readonly blobsMarked: number;
  readonly blobsDeleted: number;
  /** Repository blob links removed because their blob is gone. */
  readonly blobLinksDeleted: number;
  /** Referrers-index entries removed because their manifest is gone. */
  readonly referrerEntriesDeleted: number;
  readonly uploadsDeleted: number;
  /** Bytes of blob data freed. */
  readonly blobBytesFreed: number;
  /** Bytes of upload session data freed. */
  readonly uploadBytesFreed: number;
  /** `blobBytesFreed + uploadBytesFreed`. */
  readonly bytesFreed: number;
  /** The blobs removed, for logs and dry runs. */
  readonly deletedBlobs: readonly Digest[];
  /** The manifests removed, for logs and dry runs. */
  readonly deletedManifests: readonly { readonly repository: string; readonly digest: Digest }[];
}

/** Default age after which an upload session counts as abandoned: one week. */
export const DEFAULT_UPLOAD_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** How many manifests are read at once. */
const READ_CONCURRENCY = 16;

/** What one repository holds, as found by the walk. */
interface Inventory {
  readonly name: string;
  readonly revisions: Set<Digest>;
  /** Blob links: digest → link path. */
  readonly layers: Map<Digest, string>;
  /** Tag → link path. */
  readonly tags: Map<string, string>;
  readonly referrers: { subject: Digest; referrer: Digest; path: string }[];
  /** Upload id → its files. */
  readonly uploads: Map<string, { data?: FileInfo; startedAt?: FileInfo }>;
}

/**
 * Runs a garbage collection over `driver`.
 *
 * @example
 * const report = await collectGarbage(driver, { dryRun: true, deleteUntagged: true });
 * report.blobsDeleted; // how many blobs a real run would remove
 */
export async function collectGarbage(
  driver: StorageDriver,
  options: GcOptions = {},
): Promise<GcReport> {
  const dryRun = options.dryRun ?? false;
  const caches = options.caches;
  const now = (options.now ?? (() => new Date()))();
  const uploadCutoff = now.getTime() - (options.uploadsOlderThan ?? DEFAULT_UPLOAD_MAX_AGE_MS);
  const remove = async (path: string): Promise<void> => {
    if (dryRun) return;
    // Forgotten before and after: links among what goes (link-cache.ts).
    caches?.links.clear();
    await deleteIfPresent(driver, path);
    caches?.links.clear();
    // Revisions and referrers entries among what goes: forget every remembered entry.
    caches?.referrers.clear();
  };

  // 1. Inventory. Repositories first, blobs after (see the sweep of links below).
  const repos = await inventory(driver);
  // Every manifest is read (once, however many repositories hold it) before anything is
  // deleted.
  const facts = new Map<Digest, ManifestFacts | undefined>();
  const manifestDigests = [...new Set(repos.flatMap((r) => [...r.revisions]))];
  await mapLimit(manifestDigests, READ_CONCURRENCY, async (digest) => {
    const content = await readManifestBytes(driver, digest);
    facts.set(digest, content === undefined ? undefined : readManifestFacts(content, digest));
  });

  // 2. Liveness.
  const live = new Map<Inventory, Set<Digest>>();
  for (const repo of repos) {
    live.set(
      repo,
      options.deleteUntagged ? await liveManifests(driver, repo, facts) : new Set(repo.revisions),
    );
  }

  // 3. Mark.
  const marked = new Set<Digest>();
  for (const repo of repos) {
    for (const digest of live.get(repo)!) {
      marked.add(digest);
      const f = facts.get(digest);
      if (f === undefined) continue; // bytes gone: nothing left to keep for it
      for (const d of f.children) marked.add(d.digest);
    }
  }

  // Blobs are listed after the repositories: a link written after the repository walk is
  // not seen (so not removed); a blob written after it is unmarked, the documented race.
  const blobs = await listBlobs(driver);

  // 4. Sweep. Manifests first, then what they held.
  const deletedManifests: { repository: string; digest: Digest }[] = [];
  for (const repo of repos) {
    const keep = live.get(repo)!;
    for (const digest of repo.revisions) {
      if (keep.has(digest)) continue;
      deletedManifests.push({ repository: repo.name, digest });
      await remove(posix.dirname(manifestRevisionLinkPath(repo.name, digest)));
    }
  }

  let referrerEntriesDeleted = 0;
  for (const repo of repos) {
    const keep = live.get(repo)!;
    for (const entry of repo.referrers) {
      if (keep.has(entry.referrer)) continue;
      referrerEntriesDeleted++;
      await remove(entry.path);
    }
  }

  const deletedBlobs: Digest[] = [];
  const survivors = new Set<Digest>();
  let blobBytesFreed = 0;
  for (const [digest, info] of blobs) {
    if (marked.has(digest)) {
      survivors.add(digest);
      continue;
    }
    deletedBlobs.push(digest);
    blobBytesFreed += info.size;
    await remove(posix.dirname(info.path));
    if (!dryRun) caches?.content.forgetBlob(digest);
  }

  let blobLinksDeleted = 0;
  for (const repo of repos) {
    for (const [digest, path] of repo.layers) {
      if (survivors.has(digest)) continue;
      blobLinksDeleted++;
      await remove(posix.dirname(path));
    }
  }

  let uploadsDeleted = 0;
  let uploadBytesFreed = 0;
  for (const repo of repos) {
    for (const [id, files] of repo.uploads) {
      const started = await uploadStartTime(driver, files);
      if (started === undefined || started >= uploadCutoff) continue;
      uploadsDeleted++;
      uploadBytesFreed += files.data?.size ?? 0;
      await remove(posix.dirname(uploadDataPath(repo.name, id)));
    }
  }

  return {
    dryRun,
    repositories: repos.length,
    manifests: repos.reduce((sum, r) => sum + r.revisions.size, 0),
    manifestsDeleted: deletedManifests.length,
    blobs: blobs.size,
    blobsMarked: survivors.size,
    blobsDeleted: deletedBlobs.length,
    blobLinksDeleted,
    referrerEntriesDeleted,
    uploadsDeleted,
    blobBytesFreed,
    uploadBytesFreed,
    bytesFreed: blobBytesFreed + uploadBytesFreed,
    deletedBlobs,
    deletedManifests,
  };
}

/**
 * The manifests of `repo` that a tag reaches: tagged ones, children of live indexes, and
 * referrers of live manifests, to a fixed point.
 */
async function liveManifests(
  driver: StorageDriver,
  repo: Inventory,
  facts: ReadonlyMap<Digest, ManifestFacts | undefined>,
): Promise<Set<Digest>> {
  const referrersOf = new Map<Digest, Digest[]>();
  for (const digest of repo.revisions) {
    const subject = facts.get(digest)?.subject?.digest;
    if (subject === undefined) continue;
    referrersOf.set(subject, [...(referrersOf.get(subject) ?? []), digest]);
  }
  const live = new Set<Digest>();
  const queue: Digest[] = [];
  const reach = (digest: Digest): void => {
    if (!repo.revisions.has(digest) || live.has(digest)) return;
    live.add(digest);
    queue.push(digest);
  };
  // A corrupt tag link stops the run (readLink throws): which manifest it kept is unknown.
  for (const path of repo.tags.values()) {
    const digest = await readLink(driver, path);
    if (digest !== undefined) reach(digest);
  }
  for (let digest = queue.pop(); digest !== undefined; digest = queue.pop()) {
    const f = facts.get(digest);
    for (const child of f === undefined ? [] : childManifests(f)) reach(child.digest);
    for (const referrer of referrersOf.get(digest) ?? []) reach(referrer);
  }
  return live;
}

/** Every repository's files, classified; one walk of the whole repositories tree. */
async function inventory(driver: StorageDriver): Promise<Inventory[]> {
  const root = repositoriesRootPath();
  const byName = new Map<string, Inventory>();
  const repo = (name: string): Inventory => {
    let inv = byName.get(name);
    if (inv === undefined) {
      inv = {
        name,
        revisions: new Set(),
        layers: new Map(),
        tags: new Map(),
        referrers: [],
        uploads: new Map(),
      };
      byName.set(name, inv);
    }
    return inv;
  };
  await walkIfPresent(driver, root, (info) => {
    const segments = info.path.slice(root.length + 1).split('/');
    // The repository name ends where its first `_` entry starts.
    const at = segments.findIndex((s) => s.startsWith('_'));
    if (at < 1) return;
    const name = segments.slice(0, at).join('/');
    const rest = segments.slice(at);
    const digestOf = (alg: string | undefined, hex: string | undefined): Digest | undefined => {
      const value = `${alg}:${hex}`;
      return isDigest(value) ? value : undefined;
    };
    const [kind, a, b, c, d] = rest;
    if (kind === '_layers' && rest.length === 4 && c === 'link') {
      const digest = digestOf(a, b);
      if (digest !== undefined && layerLinkPath(name, digest) === info.path) {
        repo(name).layers.set(digest, info.path);
      }
    } else if (kind === '_manifests' && a === 'revisions' && rest.length === 5 && d === 'link') {
      const digest = digestOf(b, c);
      if (digest !== undefined && manifestRevisionLinkPath(name, digest) === info.path) {
        repo(name).revisions.add(digest);
      }
    } else if (kind === '_manifests' && a === 'tags' && rest.length === 5 && d === 'link') {
      if (b !== undefined && tagCurrentLinkPath(name, b) === info.path)
        repo(name).tags.set(b, info.path);
    } else if (kind === '_referrers' && rest.length === 4) {
      const subject = digestOf(a, b);
      const dash = c!.indexOf('-');
      const referrer = digestOf(c!.slice(0, dash), c!.slice(dash + 1));
      if (
        subject !== undefined &&
        referrer !== undefined &&
        referrerEntryPath(name, subject, referrer) === info.path
      ) {
        repo(name).referrers.push({ subject, referrer, path: info.path });
      }
    } else if (kind === '_uploads' && rest.length === 3 && a !== undefined) {
      const files = repo(name).uploads.get(a) ?? {};
      if (b === 'data' && uploadDataPath(name, a) === info.path) files.data = info;
      else if (b === 'startedat' && uploadStartedAtPath(name, a) === info.path)
        files.startedAt = info;
      else return;
      repo(name).uploads.set(a, files);
    }
    // `_manifests`, `_layers` or `_uploads` alone make a repository, even when empty.
    repo(name);
  });
  return [...byName.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** Every blob in the blob store: digest → its data file. */
async function listBlobs(driver: StorageDriver): Promise<Map<Digest, FileInfo>> {
  const root = blobsRootPath();
  const blobs = new Map<Digest, FileInfo>();
  await walkIfPresent(driver, root, (info) => {
    const [alg, , hex, name, ...extra] = info.path.slice(root.length + 1).split('/');
    if (name !== 'data' || extra.length > 0) return;
    const digest = `${alg}:${hex}`;
    if (isDigest(digest) && blobDataPath(digest) === info.path) blobs.set(digest, info);
  });
  return blobs;
}

/** When a session started (ms): its `startedat`, else the newest modification time of its files. */
async function uploadStartTime(
  driver: StorageDriver,
  files: { data?: FileInfo; startedAt?: FileInfo },
): Promise<number | undefined> {
  if (files.startedAt !== undefined) {
    try {
      const time = parseRfc3339(
        (await driver.getContent(files.startedAt.path)).toString('utf8').trim(),
      );
      if (time !== undefined) return time.getTime();
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const times = [files.data, files.startedAt].flatMap((f) => (f ? [f.modTime.getTime()] : []));
  return times.length > 0 ? Math.max(...times) : undefined;
}

async function walkIfPresent(
  driver: StorageDriver,
  root: string,
  visit: (info: FileInfo) => void,
): Promise<void> {
  // Only a missing root means "nothing there": an error during the walk must stop the run,
  // since a partial inventory would leave live blobs unmarked.
  try {
    await driver.stat(root);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  await driver.walk(root, visit);
}
