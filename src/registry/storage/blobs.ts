import type { Readable } from 'node:stream';
import { InvalidInputError, StorageError } from '../../errors.js';
import type { Digest } from '../../oci/index.js';
import { digestAlgorithm, digestOf } from '../../oci/index.js';
import type { StoreCaches } from './caches.js';
import { SMALL_BLOB_MAX_BYTES } from './content-cache.js';
import type { StorageDriver } from './driver.js';
import { blobDataPath, layerLinkPath, manifestRevisionLinkPath } from './paths.js';
import type { BlobInfo, BlobStore, ByteRange } from './store.js';
import { RegistryError } from './store.js';

/**
 * Blobs as a repository sees them (distribution's "linked blob store"): the bytes live once,
 * content-addressed, at `blobDataPath`; a repository has a blob only while its `_layers` link
 * exists. Bytes reach `blobDataPath` only through `putBlobContent` (small content, written
 * atomically) or an upload commit (`uploads.ts`: verified, fsynced, then moved), so a present
 * `data` file is always complete and matches its digest.
 */

/** Options of `createBlobStore`. */
export interface BlobStoreOptions {
  /**
   * Answer blob downloads with a redirect to a presigned URL valid this long, so the bytes go
   * straight from the object store to the client (the driver must have `presignedGetUrl`).
   */
  readonly redirect?: { readonly expiresInSeconds: number };
  /**
   * The blob if it is part of `repo`, with its size (default: its links on the driver). A
   * metadata database answers from its own tables instead.
   */
  readonly linked?: (repo: string, digest: Digest) => Promise<BlobInfo | undefined>;
}

/**
 * Creates the blob store of the registry over `driver`, remembering in `caches` (the store's:
 * caches.ts).
 *
 * @example
 * const driver = createMemoryDriver();
 * const blobs = createBlobStore(driver, createStoreCaches(driver));
 * const info = await blobs.stat('library/alpine', digest); // undefined unless linked
 */
export function createBlobStore(
  driver: StorageDriver,
  caches: StoreCaches,
  options: BlobStoreOptions = {},
): BlobStore {
  const links = caches.links;
  const presign = driver.presignedGetUrl?.bind(driver);
  const redirect = options.redirect;
  const linked =
    options.linked ??
    ((repo: string, digest: Digest) => statLinkedBlob(driver, caches, repo, digest));
  if (redirect !== undefined && presign === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `the ${driver.name} storage driver cannot redirect downloads (it has no presigned URLs)`,
    );
  }
  return {
    stat: linked,

    ...(redirect !== undefined && presign !== undefined
      ? {
          async redirectUrl(
            repo: string,
            digest: Digest,
            known?: BlobInfo,
          ): Promise<string | undefined> {
            if ((known ?? (await linked(repo, digest))) === undefined) return undefined;
            return presign(blobDataPath(digest), redirect.expiresInSeconds);
          },
        }
      : {}),

    async open(
      repo: string,
      digest: Digest,
      range?: ByteRange,
      known?: BlobInfo,
    ): Promise<Readable> {
      const info = known ?? (await linked(repo, digest));
      if (info === undefined) throw blobUnknown(digest);
      let options: { offset: number; length: number } | undefined;
      if (range !== undefined) {
        // The HTTP layer checks ranges against the size; this keeps a slip from reaching the
        // driver as a negative or past-the-end read.
        const { start, end } = range;
        if (
          !Number.isSafeInteger(start) ||
          !Number.isSafeInteger(end) ||
          start < 0 ||
          end < start ||
          end >= info.size
        ) {
          throw new RegistryError('RANGE_INVALID', undefined, { start, end, size: info.size });
        }
        options = { offset: start, length: end - start + 1 };
      }
      try {
        return await driver.reader(blobDataPath(digest), options);
      } catch (err) {
        // Garbage-collected between the stat and the read.
        if (isNotFound(err)) throw blobUnknown(digest);
        throw err;
      }
    },

    async readSmall(repo: string, digest: Digest, known?: BlobInfo): Promise<Buffer | undefined> {
      const info = known ?? (await linked(repo, digest));
      if (info === undefined) throw blobUnknown(digest);
      if (info.size > SMALL_BLOB_MAX_BYTES) return undefined;
      const cache = caches.content;
      const held = cache.smallBlob(digest);
      if (held !== undefined) return held;
      let content: Buffer;
      try {
        content = await driver.getContent(blobDataPath(digest));
      } catch (err) {
        // Garbage-collected between the stat and the read.
        if (isNotFound(err)) throw blobUnknown(digest);
        throw err;
      }
      if (content.byteLength !== info.size) {
        throw new StorageError(
          'NV2_ERR_STORAGE_IO',
          `blob ${digest} holds ${content.byteLength} bytes, not the ${info.size} its size says`,
        );
      }
      cache.setSmallBlob(digest, content);
      return content;
    },

    async mount(repo: string, digest: Digest, from: string): Promise<BlobInfo | undefined> {
      const info = await statLinkedBlob(driver, caches, from, digest);
      if (info === undefined) return undefined;
      if (from !== repo) await linkBlob(driver, caches, repo, digest);
      return info;
    },

    delete(repo: string, digest: Digest): Promise<boolean> {
      const link = layerLinkPath(repo, digest);
      // Serialized so that of concurrent deletes exactly one reports the link (the filesystem
      // driver's recursive delete does not fail when a racing delete got there first).
      return links.change(repo, layerKey(digest), async () => {
        try {
          await driver.stat(link);
          // Forgotten first: from here on the link may be gone.
          links.setLayer(repo, digest, false);
          await driver.delete(link);
          return true;
        } catch (err) {
          // Absent, or removed by another process between the stat and ours.
          if (isNotFound(err)) return false;
          throw err;
        }
      });
    },
  };
}

/** Options of `putBlobContent`. */
export interface PutBlobContentOptions {
  /** The caller has just computed `digest` from the content itself: no second hash. */
  readonly hashed?: boolean;
  /**
   * Whether to write the `_layers` link (default true). The manifest store does not: its
   * revision link makes a manifest's bytes a blob of the repository (`statLinkedBlob`), and
   * one link fewer is two fsyncs fewer per manifest push.
   */
  readonly link?: boolean;
}

/**
 * Stores small content (a manifest's bytes) as a blob of `repo`: verifies `digest` against
 * the bytes, writes the blob data if it is not there yet (atomically and durably, with
 * `putContent`), then links it into `repo`. Idempotent and safe to call concurrently.
 * Internal to the storage layer (the manifest store uses it); uploads go through `uploads.ts`.
 *
 * @throws RegistryError DIGEST_INVALID when `content` does not hash to `digest`.
 */
export async function putBlobContent(
  driver: StorageDriver,
  caches: StoreCaches,
  repo: string,
  content: Uint8Array,
  digest: Digest,
  options: PutBlobContentOptions = {},
): Promise<BlobInfo> {
  if (options.hashed !== true && digestOf(content, digestAlgorithm(digest)) !== digest) {
    throw new RegistryError('DIGEST_INVALID', undefined, { digest });
  }
  const data = blobDataPath(digest);
  const cache = caches.content;
  // A size known to the content cache was read from, or written to, the data file.
  if (cache.blobSize(digest) === undefined) {
    await caches.locks.blobPublish.run(digest, async () => {
      if (!(await exists(driver, data))) await driver.putContent(data, content);
    });
    cache.setBlobSize(digest, content.byteLength);
  }
  if (options.link !== false) await linkBlob(driver, caches, repo, digest);
  return { digest, size: content.byteLength };
}

/** Whether the manifest revision `digest` is stored in `repo` (remembered once seen). */
export async function hasRevision(
  driver: StorageDriver,
  caches: StoreCaches,
  repo: string,
  digest: Digest,
): Promise<boolean> {
  const links = caches.links;
  if (links.hasRevision(repo, digest)) return true;
  const seen = links.generation(repo);
  const found = await exists(driver, manifestRevisionLinkPath(repo, digest));
  if (found) links.rememberRevision(repo, digest, seen);
  return found;
}

/**
 * Makes a blob whose data is present part of `repo` (durably: `putContent` fsyncs). The
 * caller guarantees the data exists; a link never points at missing bytes on purpose.
 */
export async function linkBlob(
  driver: StorageDriver,
  caches: StoreCaches,
  repo: string,
  digest: Digest,
): Promise<void> {
  const links = caches.links;
  // Known linked (written durably, or read when no change was running): nothing to write.
  if (links.hasLayer(repo, digest)) return;
  await links.change(repo, layerKey(digest), async () => {
    await driver.putContent(layerLinkPath(repo, digest), Buffer.from(digest, 'utf8'));
    links.setLayer(repo, digest, true);
  });
}

/** The `RepositoryLinks.change` key of a blob link. */
function layerKey(digest: Digest): string {
  return `layer:${digest}`;
}

/** The blob if `repo` links it and its bytes are present; the size is the data file's. */
async function statLinkedBlob(
  driver: StorageDriver,
  caches: StoreCaches,
  repo: string,
  digest: Digest,
): Promise<BlobInfo | undefined> {
  const links = caches.links;
  try {
    if (!links.hasLayer(repo, digest) && !links.hasRevision(repo, digest)) {
      const seen = links.generation(repo);
      let linked = false;
      try {
        const link = await driver.getContent(layerLinkPath(repo, digest));
        // A link holds the digest it is filed under; anything else is not a link to this blob.
        linked = link.toString('utf8').trim() === digest;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (linked) links.rememberLayer(repo, digest, seen);
      // A manifest of the repository is a blob of it too, through its revision link (as in
      // distribution, whose blob statter checks both links).
      else if (!(await hasRevision(driver, caches, repo, digest))) return undefined;
    }
    // The data of a digest never changes: its size is looked up once (content-cache.ts).
    const cache = caches.content;
    const known = cache.blobSize(digest);
    if (known !== undefined) return { digest, size: known };
    const data = await driver.stat(blobDataPath(digest));
    if (data.isDirectory) return undefined;
    cache.setBlobSize(digest, data.size);
    return { digest, size: data.size };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Whether a file is present. */
export async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Whether `err` is the driver saying a path does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof StorageError && err.code === 'NV2_ERR_STORAGE_NOT_FOUND';
}

function blobUnknown(digest: Digest): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', undefined, { digest });
}
