import { posix } from 'node:path';
import { StorageError } from '../../errors.js';
import type { Descriptor, Digest, ManifestFacts, ManifestKind } from '../../oci/index.js';
import {
  FOREIGN_LAYER_MEDIA_TYPES,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  digestAlgorithm,
  digestOf,
  isDigest,
  isMediaType,
  isTag,
  manifestKind,
  referrerDescriptor,
} from '../../oci/index.js';
import { createBlobStore, exists, hasRevision, isNotFound } from './blobs.js';
import type { CachedManifest } from './content-cache.js';
import { contentCache, referrerEntries } from './content-cache.js';
import type { StorageDriver, StorageFile } from './driver.js';
import { putFiles } from './driver.js';
import {
  blobDataPath,
  manifestRevisionLinkPath,
  referrerEntryPath,
  tagCurrentLinkPath,
  tagsPath,
} from './paths.js';
import type { ManifestStore, StoredManifest } from './store.js';
import { RegistryError } from './store.js';
import { repositoryLinks } from './link-cache.js';
import { knownTags } from './tag-cache.js';

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

/**
 * Content types that say nothing about the manifest: the media type then comes from the
 * manifest's own `mediaType` field (as distribution does for an empty or `application/json`
 * Content-Type).
 */
const GENERIC_CONTENT_TYPES: ReadonlySet<string> = new Set([
  '',
  'application/json',
  'application/octet-stream',
]);

/** How many blob or child checks of one manifest run at once (a manifest may list thousands). */
const CHECK_CONCURRENCY = 16;

/** A validated manifest: what put needs from the JSON. */
export interface ValidatedManifest extends ManifestFacts {
  readonly kind: ManifestKind['kind'];
  readonly config?: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Creates the manifest store of the registry over `driver`.
 *
 * @example
 * const manifests = createManifestStore(createMemoryDriver());
 * const stored = await manifests.put('library/alpine', 'v1', bytes, MediaTypes.ociManifest);
 * stored.descriptor.digest; // digest of the exact bytes
 */
export function createManifestStore(
  driver: StorageDriver,
  options: ManifestStoreOptions = {},
): ManifestStore {
  const maxBytes = options.maxManifestBytes ?? MAX_MANIFEST_BYTES;
  const blobs = createBlobStore(driver);

  const links = repositoryLinks(driver);

  /** The digest `reference` names in `repo`, if it is a stored revision. */
  async function resolve(repo: string, reference: string): Promise<Digest | undefined> {
    let digest: Digest | undefined;
    if (isDigest(reference)) digest = reference;
    else if (isTag(reference)) digest = await resolveTag(driver, repo, reference);
    if (digest === undefined) return undefined;
    return (await hasRevision(driver, repo, digest)) ? digest : undefined;
  }

  async function load(repo: string, reference: string): Promise<StoredManifest | undefined> {
    const digest = await resolve(repo, reference);
    if (digest === undefined) return undefined;
    const cache = contentCache(driver);
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
        check: () => hasRevision(driver, repo, d.digest),
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
      knownTags(driver).delete(repo, tag);
      await deleteIfPresent(driver, tagDirectoryPath(repo, tag));
      knownTags(driver).delete(repo, tag);
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
      const cache = contentCache(driver);
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
        if (manifest.subject !== undefined) referrerEntries(driver).referrersChanged();
        await putFiles(driver, files);
        if (manifest.subject !== undefined) referrerEntries(driver).referrersChanged();
        cache.setBlobSize(digest, content.byteLength);
        if (writesRevision) links.setRevision(repo, digest, true);
        if (writesTag) links.setTag(repo, reference, digest);
      };
      // The link changes hold their keys (revision, then tag: always in this order, and
      // nothing takes them the other way round) around the one write.
      const underTag = writesTag ? () => links.change(repo, tagKey(reference), publish) : publish;
      await (writesRevision ? links.change(repo, revisionKey(digest), underTag) : underTag());
      if (writesTag) knownTags(driver).add(repo, reference);
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
      referrerEntries(driver).clear();

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
      referrerEntries(driver).clear();
      return true;
    },
  };
}

/** A manifest push that passed every check that needs no storage. */
export interface CheckedManifestPush {
  readonly manifest: ValidatedManifest;
  /** The digest of the exact bytes (with the algorithm of a digest reference). */
  readonly digest: Digest;
  readonly descriptor: Descriptor;
  readonly referenceIsDigest: boolean;
}

/**
 * The checks of a manifest push that need no storage (size, reference grammar, schema,
 * digest reference), shared by every metadata store.
 *
 * @throws RegistryError SIZE_INVALID, TAG_INVALID, DIGEST_INVALID, MANIFEST_INVALID.
 */
export function checkManifestPush(
  reference: string,
  content: Buffer,
  contentType: string,
  maxBytes: number,
): CheckedManifestPush {
  if (content.byteLength > maxBytes) {
    throw new RegistryError(
      'SIZE_INVALID',
      `manifest is ${content.byteLength} bytes, more than the ${maxBytes} accepted`,
      { size: content.byteLength, limit: maxBytes },
    );
  }
  const referenceIsDigest = isDigest(reference);
  if (!referenceIsDigest && !isTag(reference)) {
    throw reference.includes(':')
      ? new RegistryError('DIGEST_INVALID', 'reference is not a valid digest', { reference })
      : new RegistryError('TAG_INVALID', 'reference is not a valid tag', { reference });
  }
  const manifest = validateManifest(content, contentType);
  const digest = referenceIsDigest
    ? digestOf(content, digestAlgorithm(reference))
    : digestOf(content);
  if (referenceIsDigest && digest !== reference) {
    throw new RegistryError(
      'DIGEST_INVALID',
      'manifest does not match the digest it was pushed by',
      {
        digest: reference,
        actual: digest,
      },
    );
  }
  const descriptor: Descriptor = {
    mediaType: manifest.mediaType,
    digest,
    size: content.byteLength,
    ...(manifest.artifactType !== undefined ? { artifactType: manifest.artifactType } : {}),
    ...(manifest.annotations !== undefined ? { annotations: manifest.annotations } : {}),
  };
  return { manifest, digest, descriptor, referenceIsDigest };
}

function invalid(reason: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', `manifest invalid: ${reason}`, { reason });
}

/** Strips parameters and case from a Content-Type (the spec: registries SHOULD ignore parameters). */
function normalizeContentType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The media type a stored manifest is served with: its `mediaType` field, else (an OCI
 * manifest or index that leaves the field out, which image-spec allows) `manifests[]` makes it
 * an index and anything else an image manifest, as CNCF distribution decides.
 */
function storedMediaType(json: Record<string, unknown>): string {
  const field = json['mediaType'];
  if (typeof field === 'string' && field !== '') return field;
  return Array.isArray(json['manifests']) && json['config'] === undefined
    ? MediaTypes.ociIndex
    : MediaTypes.ociManifest;
}

function parseJsonObject(content: Buffer): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** Checks a manifest pushed with `contentType`; throws MANIFEST_INVALID with the reason. */
function validateManifest(content: Buffer, contentType: string | undefined): ValidatedManifest {
  const json = parseJsonObject(content);
  if (json === undefined) throw invalid('not a JSON object');

  const field = json['mediaType'];
  if (field !== undefined && typeof field !== 'string') throw invalid('mediaType is not a string');
  const header = normalizeContentType(contentType);
  let mediaType: string;
  if (manifestKind(header) !== undefined) {
    if (field !== undefined && field !== header) {
      throw invalid(`mediaType ${JSON.stringify(field)} does not match Content-Type ${header}`);
    }
    mediaType = header;
  } else if (GENERIC_CONTENT_TYPES.has(header) && field !== undefined) {
    mediaType = field;
  } else {
    throw invalid(
      `unsupported manifest media type ${JSON.stringify(GENERIC_CONTENT_TYPES.has(header) ? (field ?? '') : header)}`,
    );
  }
  const type = manifestKind(mediaType);
  if (type === undefined)
    throw invalid(`unsupported manifest media type ${JSON.stringify(mediaType)}`);

  if (field === undefined) {
    // Docker schema 2 requires the field (distribution refuses these without it).
    if (!type.oci) throw invalid(`mediaType is required in ${mediaType}`);
    // Nothing on disk records the Content-Type: the bytes alone must say what they are.
    if (storedMediaType(json) !== mediaType) {
      throw invalid(`without a mediaType field this manifest would read back as another type`);
    }
  }
  if (json['schemaVersion'] !== 2) throw invalid('schemaVersion must be 2');

  const annotations = checkAnnotations(json['annotations'], 'annotations');
  let config: Descriptor | undefined;
  let layers: Descriptor[] = [];
  let manifests: Descriptor[] = [];
  if (type.kind === 'manifest') {
    if (json['config'] === undefined) throw invalid('config is required');
    config = checkDescriptor(json['config'], 'config');
    layers = checkDescriptorArray(json['layers'], 'layers');
  } else {
    manifests = checkDescriptorArray(json['manifests'], 'manifests');
  }

  let subject: Descriptor | undefined;
  let artifactType: string | undefined;
  if (type.oci) {
    if (json['subject'] !== undefined) subject = checkDescriptor(json['subject'], 'subject');
    const at = json['artifactType'];
    // distribution-spec v1.1 treats an empty artifactType like a missing one.
    if (at !== undefined && at !== '') {
      if (!isMediaType(at)) throw invalid('artifactType is not a media type');
      artifactType = at;
    }
  }
  return {
    mediaType,
    kind: type.kind,
    children: config !== undefined ? [config, ...layers] : manifests,
    ...(config !== undefined ? { config } : {}),
    layers,
    manifests,
    ...(subject !== undefined ? { subject } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

function checkDescriptorArray(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item, i) => checkDescriptor(item, `${where}[${i}]`));
}

/** A descriptor (image-spec descriptor.md): mediaType, digest and size required, the rest typed. */
function checkDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where} is not a descriptor`);
  }
  const d = value as Record<string, unknown>;
  if (!isMediaType(d['mediaType'])) throw invalid(`${where}.mediaType is not a media type`);
  if (!isDigest(d['digest'])) throw invalid(`${where}.digest is not a supported digest`);
  const size = d['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size is not a non-negative integer`);
  }
  const urls = d['urls'];
  if (urls !== undefined && !(Array.isArray(urls) && urls.every((u) => typeof u === 'string'))) {
    throw invalid(`${where}.urls must be an array of strings`);
  }
  if (d['data'] !== undefined && typeof d['data'] !== 'string') {
    throw invalid(`${where}.data must be a base64 string`);
  }
  const at = d['artifactType'];
  if (at !== undefined && !isMediaType(at)) {
    throw invalid(`${where}.artifactType is not a media type`);
  }
  const annotations = checkAnnotations(d['annotations'], `${where}.annotations`);
  return {
    mediaType: d['mediaType'],
    digest: d['digest'],
    size,
    ...(typeof at === 'string' ? { artifactType: at } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
    ...(Array.isArray(urls) && urls.length > 0 ? { urls } : {}),
  } as Descriptor;
}

/** Annotations are a string-to-string map (image-spec annotations.md). */
function checkAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where} must be a string-to-string map`);
  }
  for (const v of Object.values(value)) {
    if (typeof v !== 'string') throw invalid(`${where} must be a string-to-string map`);
  }
  return value as Record<string, string>;
}

export function isForeignLayer(d: Descriptor): boolean {
  const urls = (d as { urls?: unknown }).urls;
  return FOREIGN_LAYER_MEDIA_TYPES.has(d.mediaType) && Array.isArray(urls) && urls.length > 0;
}

/**
 * Reads what a stored manifest says. Lenient (the bytes were validated when pushed), but
 * bytes that are not a JSON object are a storage fault.
 *
 * @throws StorageError NV2_ERR_STORAGE_IO when the bytes are not a JSON object.
 */
export function readManifestFacts(content: Buffer, digest: Digest): ManifestFacts {
  const json = parseJsonObject(content);
  if (json === undefined) {
    throw new StorageError('NV2_ERR_STORAGE_IO', `stored manifest ${digest} is not a JSON object`);
  }
  const mediaType = storedMediaType(json);
  const oci = manifestKind(mediaType)?.oci ?? false;
  const children = [
    ...storedChildren([json['config']]),
    ...storedChildren(json['layers']),
    ...storedChildren(json['manifests']),
  ];
  let subject: Descriptor | undefined;
  let artifactType: string | undefined;
  if (oci) {
    try {
      if (json['subject'] !== undefined) subject = checkDescriptor(json['subject'], 'subject');
    } catch {
      subject = undefined;
    }
    if (isMediaType(json['artifactType'])) artifactType = json['artifactType'];
  }
  let annotations: Record<string, string> | undefined;
  try {
    annotations = checkAnnotations(json['annotations'], 'annotations');
  } catch {
    annotations = undefined;
  }
  return {
    mediaType,
    children,
    ...(subject !== undefined ? { subject } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

/**
 * The children listed in `value` (an array of descriptors), read leniently: every entry with
 * a valid digest counts, whatever else it holds, so that garbage collection, which follows
 * digests, never collects a blob a stored manifest names. Malformed `mediaType` or `size`
 * (which a manifest pushed here cannot have) read as `''` and 0.
 */
function storedChildren(value: unknown): Descriptor[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((d: unknown): Descriptor[] => {
    if (typeof d !== 'object' || d === null) return [];
    const entry = d as Record<string, unknown>;
    const digest = entry['digest'];
    if (!isDigest(digest)) return [];
    const mediaType = entry['mediaType'];
    const size = entry['size'];
    return [
      {
        mediaType: typeof mediaType === 'string' ? mediaType : '',
        digest,
        size: typeof size === 'number' ? size : 0,
      },
    ];
  });
}

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

/** The `RepositoryLinks.change` key of a tag. */
function tagKey(tag: string): string {
  return `tag:${tag}`;
}

/** The `RepositoryLinks.change` key of a manifest revision. */
function revisionKey(digest: Digest): string {
  return `rev:${digest}`;
}

/**
 * The digest a tag points at, from the repository links when known (link-cache.ts), else
 * from its link (then remembered).
 *
 * @throws StorageError NV2_ERR_STORAGE_IO when the link does not hold a digest.
 */
export async function resolveTag(
  driver: StorageDriver,
  repo: string,
  tag: string,
): Promise<Digest | undefined> {
  const links = repositoryLinks(driver);
  const known = links.tag(repo, tag);
  if (known !== undefined) return known;
  const seen = links.generation(repo);
  const digest = await readLink(driver, tagCurrentLinkPath(repo, tag));
  if (digest !== undefined) links.rememberTag(repo, tag, digest, seen);
  return digest;
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
