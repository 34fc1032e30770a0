import { posix } from 'node:path';
import { StorageError } from '../../errors.js';
import type { Descriptor, Digest } from '../../oci/index.js';
import { MAX_MANIFEST_BYTES, isDigest, isTag, referrerDescriptor } from '../../oci/index.js';
import { createBlobStore, exists, hasRevision } from './blobs.js';
import type { StoreCaches } from './caches.js';
import type { CachedManifest } from './content-cache.js';
import type { StorageDriver, StorageFile } from './driver.js';
import { putFiles } from './driver.js';
import type { ValidatedManifest } from './manifest-validation.js';
import { checkManifestPush, isForeignLayer, readManifestFacts } from './manifest-validation.js';
import {
  blobDataPath,
  manifestRevisionLinkPath,
  referrerEntryPath,
  tagCurrentLinkPath,
} from './paths.js';
import type { ManifestStore, StoredManifest } from './store.js';
import { RegistryError } from './store.js';
import {
  deleteIfPresent,
  linkContent,
  listTagNames,
  mapLimit,
  readLink,
  readManifestBytes,
  resolveTag,
  tagDirectoryPath,
} from './store-files.js';

/**
 * Manifests of a repository (distribution-spec "Pushing manifests", "Pulling manifests",
 * "Deleting manifests"), stored with the layout of `paths.ts`:
 *
 * - the exact bytes pushed are a blob (`blobDataPath`, the content-addressed store);
 * - `_manifests/revisions/<alg>/<hex>/link` records the manifest in the repository, and makes
 *   its bytes a blob of the repository too (no `_layers` link, as in distribution);
 * - `_manifests/tags/<tag>/current/link` holds the digest a tag points at;
 * - `_referrers/<alg>/<subject hex>/<alg>-<hex>` holds the referrer descriptor of every
 *   manifest with a `subject` (distribution-spec v1.1 "Listing referrers").
 *
 * Put writes blob, referrers entry, revision and tag as one change (`putFiles`: on the
 * filesystem one journal record, all or nothing after a crash; elsewhere one atomic
 * `putContent` each, in this order), so concurrent pushes of the same manifest or to the
 * same tag are safe (the last writer of a tag wins). Without `putContents` a crash can leave a
 * referrers entry without its revision; the referrers index skips such entries and garbage
 * collection removes them. Delete goes the
 * other way (referrers entry, tags, revision last), so a failed delete can simply be retried.
 */

/** Options of `createManifestStore`. */
export interface ManifestStoreOptions {
  /**
   * Largest manifest accepted, in bytes (default `MAX_MANIFEST_BYTES`, 4 MiB: what the
   * distribution-spec asks registries to accept at least and CNCF distribution accepts at most).
   */
  readonly maxManifestBytes?: number;
}

/** How many blob or child checks of one manifest run at once (a manifest may list thousands). */
const CHECK_CONCURRENCY = 16;

/**
 * Creates the manifest store of the registry over `driver`, remembering in `caches` (the
 * store's: caches.ts).
 *
 * @example
 * const driver = createMemoryDriver();
 * const manifests = createManifestStore(driver, createStoreCaches(driver));
 * const stored = await manifests.put('library/alpine', 'v1', bytes, MediaTypes.ociManifest);
 * stored.descriptor.digest; // digest of the exact bytes
 */
export function createManifestStore(
  driver: StorageDriver,
  caches: StoreCaches,
  options: ManifestStoreOptions = {},
): ManifestStore {
  const maxBytes = options.maxManifestBytes ?? MAX_MANIFEST_BYTES;
  const blobs = createBlobStore(driver, caches);
  const links = caches.links;
  const knownTags = caches.tags;
  const referrerEntries = caches.referrers;

  /** The digest `reference` names in `repo`, if it is a stored revision. */
  async function resolve(repo: string, reference: string): Promise<Digest | undefined> {
    let digest: Digest | undefined;
    if (isDigest(reference)) digest = reference;
    else if (isTag(reference)) digest = await resolveTag(driver, caches, repo, reference);
    if (digest === undefined) return undefined;
    return (await hasRevision(driver, caches, repo, digest)) ? digest : undefined;
  }

  async function load(repo: string, reference: string): Promise<StoredManifest | undefined> {
    const digest = await resolve(repo, reference);
    if (digest === undefined) return undefined;
    const cache = caches.content;
    let cached = cache.manifest(digest);
    if (cached === undefined) {
      const bytes = await readManifestBytes(driver, digest);
      if (bytes === undefined) return undefined;
      cached = { content: bytes, facts: readManifestFacts(bytes, digest) };
      cache.setManifest(digest, cached);
    }
    return storedManifestOf(digest, cached);
  }

  /** Fails with MANIFEST_BLOB_UNKNOWN naming the first referenced blob or child not in `repo`. */
  async function checkReferences(repo: string, manifest: ValidatedManifest): Promise<void> {
    const wanted: { digest: Digest; check: () => Promise<boolean> }[] = [];
    const seen = new Set<Digest>();
    const blobDescriptors = manifest.config ? [manifest.config, ...manifest.layers] : [];
    for (const d of blobDescriptors) {
      if (seen.has(d.digest) || isForeignLayer(d)) continue;
      seen.add(d.digest);
      wanted.push({
        digest: d.digest,
        check: async () => (await blobs.stat(repo, d.digest)) !== undefined,
      });
    }
    for (const d of manifest.manifests) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      wanted.push({
        digest: d.digest,
        check: () => hasRevision(driver, caches, repo, d.digest),
      });
    }
    const present = await mapLimit(wanted, CHECK_CONCURRENCY, (w) => w.check());
    const missing = wanted.find((_, i) => !present[i]);
    if (missing !== undefined) {
      throw new RegistryError(
        'MANIFEST_BLOB_UNKNOWN',
        `manifest references ${missing.digest}, which is not in the repository`,
        { digest: missing.digest },
      );
    }
  }

  /** Removes a tag's directory, forgetting the tag first (from then on it may be gone). */
  function deleteTag(repo: string, tag: string): Promise<void> {
    return links.change(repo, tagKey(tag), async () => {
      links.setTag(repo, tag, undefined);
      // Forgotten before and after: a listing meanwhile may have seen the link still there.
      knownTags.delete(repo, tag);
      await deleteIfPresent(driver, tagDirectoryPath(repo, tag));
      knownTags.delete(repo, tag);
    });
  }

  return {
    async put(repo, reference, content, contentType) {
      const { manifest, digest, descriptor, referenceIsDigest } = checkManifestPush(
        reference,
        content,
        contentType,
        maxBytes,
      );
      await checkReferences(repo, manifest);

      // Every file of the push is written as one change (`putFiles`): on the filesystem, one
      // journal record and one shared fdatasync, and after a crash all of them or none.
      // Without `putContents`, they are written one by one in this order, so that a crash
      // leaves at worst a referrers entry without its revision (skipped by the index, removed
      // by garbage collection) or a revision without its tag.
      const files: StorageFile[] = [];
      const cache = caches.content;
      // With `putContents` the bytes go in the one write with the links: writing them again
      // when they are already stored (content-addressed: the same bytes) costs less than the
      // lookup that every push would wait for. Without it, each file is a write of its own.
      const writesBlob =
        cache.blobSize(digest) === undefined &&
        (driver.putContents !== undefined || !(await exists(driver, blobDataPath(digest))));
      if (writesBlob) files.push({ path: blobDataPath(digest), content });
      if (manifest.subject !== undefined) {
        const entry = referrerDescriptor(descriptor, manifest);
        files.push({
          path: referrerEntryPath(repo, manifest.subject.digest, digest),
          content: Buffer.from(JSON.stringify(entry), 'utf8'),
        });
      }
      // Links already known to be on storage (durably: see link-cache.ts) are not written
      // again: pushing the same manifest or tag twice costs no write.
      const writesRevision = !links.hasRevision(repo, digest);
      if (writesRevision) {
        files.push({ path: manifestRevisionLinkPath(repo, digest), content: linkContent(digest) });
      }
      const writesTag = !referenceIsDigest && links.tag(repo, reference) !== digest;
      if (writesTag) {
        files.push({ path: tagCurrentLinkPath(repo, reference), content: linkContent(digest) });
      }
      const publish = async (): Promise<void> => {
        // A remembered referrers listing is dropped before the entry is written and again
        // after: a listing read while the files were being written may lack this referrer.
        if (manifest.subject !== undefined) referrerEntries.referrersChanged();
        await putFiles(driver, files);
        if (manifest.subject !== undefined) referrerEntries.referrersChanged();
        cache.setBlobSize(digest, content.byteLength);
        if (writesRevision) links.setRevision(repo, digest, true);
        if (writesTag) links.setTag(repo, reference, digest);
      };
      // The link changes hold their keys (revision, then tag: always in this order, and
      // nothing takes them the other way round) around the one write.
      const underTag = writesTag ? () => links.change(repo, tagKey(reference), publish) : publish;
      await (writesRevision ? links.change(repo, revisionKey(digest), underTag) : underTag());
      if (writesTag) knownTags.add(repo, reference);
      return {
        descriptor,
        content,
        ...(manifest.subject !== undefined ? { subject: manifest.subject } : {}),
      };
    },

    get: (repo, reference) => load(repo, reference),

    async stat(repo, reference) {
      return (await load(repo, reference))?.descriptor;
    },

    async delete(repo, reference) {
      if (isTag(reference)) {
        // Existence, not content: a tag whose link is corrupt can still be deleted.
        if (!(await exists(driver, tagCurrentLinkPath(repo, reference)))) return false;
        await deleteTag(repo, reference);
        return true;
      }
      if (!isDigest(reference)) return false;
      const digest = reference;
      const revision = manifestRevisionLinkPath(repo, digest);
      if (!(await exists(driver, revision))) return false;
      // Its referrers entry may stay (subject unreadable): no longer a valid entry.
      referrerEntries.clear();

      // The subject is known only from the bytes. Without readable bytes there is no entry
      // to find; garbage collection removes an entry whose manifest is gone.
      const content = await readManifestBytes(driver, digest);
      let subject: Descriptor | undefined;
      try {
        subject = content === undefined ? undefined : readManifestFacts(content, digest).subject;
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
      }
      if (subject !== undefined) {
        await deleteIfPresent(driver, referrerEntryPath(repo, subject.digest, digest));
      }
      await mapLimit(await listTagNames(driver, repo), CHECK_CONCURRENCY, async (tag) => {
        let target: Digest | undefined;
        try {
          target = await readLink(driver, tagCurrentLinkPath(repo, tag));
        } catch (err) {
          // A corrupt tag link points at nothing; it is not this manifest's to remove.
          if (err instanceof StorageError && err.code === 'NV2_ERR_STORAGE_IO') return;
          throw err;
        }
        if (target === digest) await deleteTag(repo, tag);
      });
      // Last, so that a delete that failed half-way is found and finished by a retry.
      await links.change(repo, revisionKey(digest), async () => {
        links.setRevision(repo, digest, false);
        await deleteIfPresent(driver, posix.dirname(revision));
      });
      referrerEntries.clear();
      return true;
    },
  };
}

/** The `RepositoryLinks.change` key of a tag. */
function tagKey(tag: string): string {
  return `tag:${tag}`;
}

/** The `RepositoryLinks.change` key of a manifest revision. */
function revisionKey(digest: Digest): string {
  return `rev:${digest}`;
}

/**
 * The stored manifest of a cached manifest, built once per cache entry: a GET allocates
 * nothing for it. Frozen, as it is shared by every request.
 */
const storedByEntry = new WeakMap<CachedManifest, StoredManifest>();

function storedManifestOf(digest: Digest, cached: CachedManifest): StoredManifest {
  let stored = storedByEntry.get(cached);
  if (stored === undefined || stored.descriptor.digest !== digest) {
    const { content, facts } = cached;
    const descriptor: Descriptor = Object.freeze({
      mediaType: facts.mediaType,
      digest,
      size: content.byteLength,
      ...(facts.artifactType !== undefined ? { artifactType: facts.artifactType } : {}),
      ...(facts.annotations !== undefined ? { annotations: facts.annotations } : {}),
    });
    stored = Object.freeze({
      descriptor,
      content,
      ...(facts.subject !== undefined ? { subject: facts.subject } : {}),
    });
    storedByEntry.set(cached, stored);
  }
  return stored;
}
