import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidInputError } from '../errors.js';
import type { Descriptor, Digest, ManifestFacts } from '../oci/index.js';
import {
  MAX_MANIFEST_BYTES,
  MediaTypes,
  digestAlgorithm,
  digestHex,
  isDigest,
  isIndexMediaType,
  isManifestMediaType,
  isTag,
  parseManifest,
  sniffManifestMediaType,
  verifyStream,
} from '../oci/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { readBoundedStream } from './bounded-read.js';
import {
  type ReferrersIndex,
  asAsyncIterable,
  checkDescriptor,
  indexReferrer,
  invalidReference,
  ioError,
  notFound,
  plainDescriptor,
  selectReferrers,
} from './store-support.js';
import type { Deleter, ReferrerLister, Target } from './target.js';

import {
  BLOBS_DIR,
  createLayout,
  type Graph,
  identityOf,
  INDEX_FILE,
  type IndexSnapshot,
  layoutError,
  layoutMutex,
  readIndex,
  readLayoutFile,
  REF_NAME_PATTERN,
  refName,
  retag,
} from './oci-layout-format.js';

/**
 * A content store over a directory in the OCI image layout format (image-spec v1.1
 * `image-layout.md`), written so that skopeo (`oci:DIR:TAG`), oras (`--oci-layout DIR:TAG`)
 * and crane read it, and reading what they write:
 *
 * ```
 * DIR/
 *   oci-layout              {"imageLayoutVersion":"1.0.0"}
 *   index.json              an image index listing the manifests of the layout:
 *                             - one entry per tag, its `org.opencontainers.image.ref.name`
 *                               annotation holding the tag;
 *                             - one entry, without that annotation, for every other manifest
 *                               pushed (referrers, children of an index): as oras-go does,
 *                               so that the layout is self-contained and every referrer can
 *                               be found from index.json alone.
 *   blobs/<alg>/<hex>       every blob and manifest, named by its digest
 *   blobs/<alg>/.<hex>.<random>.tmp
 *                           a blob being written (removed when the write fails; a crash can
 *                           leave one behind, which no reader looks at)
 * ```
 *
 * Publishing: a blob is streamed into a temporary file beside its final path while it is
 * hashed, checked against its descriptor, fsynced and only then renamed into place, so a
 * blob path never holds partial or wrong content. index.json is replaced atomically
 * (`writeFileAtomic`), and its read-modify-write cycles are serialized within the process
 * (per directory, across all stores opened on it). Each cycle starts from the file on disk,
 * so entries another tool added in between are kept; two processes writing index.json at
 * the same moment can still lose one's update.
 *
 * Referrers are found by reading the manifests listed in index.json (and, recursively, the
 * children of listed indexes) for their `subject`. That index is built on first use and
 * rebuilt when index.json changes (its inode, size or times); manifests already read are not
 * read again.
 *
 * Why this file is long: it is one store over one directory format; publishing blobs, the
 * read-modify-write cycles of index.json and finding referrers all rely on the layout's
 * invariants described above, and the store's methods are small.
 */

/** Options of `openOciLayout`. */
export interface OpenOciLayoutOptions {
  /**
   * Create the directory, `oci-layout`, `index.json` and `blobs/` when missing (existing
   * content is kept). Without it, the directory must already be an OCI image layout.
   */
  readonly create?: boolean;
}

/**
 * Opens (or, with `create`, creates) an OCI image layout directory as a content store. See
 * the module comment for the layout written and how writes are published.
 *
 * - `resolve` takes a tag (any `org.opencontainers.image.ref.name` written by another tool),
 *   or the digest of a manifest in the layout, listed or not; it returns
 *   `{ mediaType, digest, size }` only.
 * - `push` of a manifest lists it in index.json; `tag` requires the manifest to be there.
 * - `delete` removes the blob and every index.json entry of its digest (tags included); it
 *   does not remove what the manifest points at, nor its referrers.
 *
 * @example
 * const layout = await openOciLayout('./out', { create: true });
 * await copy(registry, 'v1', layout); // then: skopeo inspect --raw oci:./out:v1
 * @throws InvalidInputError NV2_ERR_FILE_NOT_FOUND (no such directory),
 *   NV2_ERR_INVALID_OCI_LAYOUT (no or an unsupported `oci-layout` file, a malformed index.json)
 */
export async function openOciLayout(
  dir: string,
  options: OpenOciLayoutOptions = {},
): Promise<Target & ReferrerLister & Deleter> {
  const root = resolvePath(dir);
  if (options.create === true) await createLayout(root);
  try {
    if (!(await stat(root)).isDirectory()) throw layoutError(`${root} is not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InvalidInputError(
        'NV2_ERR_FILE_NOT_FOUND',
        `OCI layout directory ${root} does not exist`,
      );
    }
    throw ioError(err, `cannot open ${root}`);
  }
  await readLayoutFile(root);
  const indexPath = join(root, INDEX_FILE);
  let cachedIndex: IndexSnapshot | undefined = await readIndex(indexPath);
  let cachedGraph: { identity: string; graph: Promise<Graph> } | undefined;
  /** What each manifest read says, by digest and media type; content never changes. */
  const factsCache = new Map<string, ManifestFacts | null>();
  const exclusive = layoutMutex(root);

  const blobPath = (digest: Digest) =>
    join(root, BLOBS_DIR, digestAlgorithm(digest), digestHex(digest));

  async function currentIndex(): Promise<IndexSnapshot> {
    let s;
    try {
      s = await stat(indexPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw layoutError(`${indexPath} does not exist: not an OCI image layout`);
      }
      throw ioError(err, `cannot read ${indexPath}`);
    }
    if (cachedIndex?.identity !== identityOf(s)) cachedIndex = await readIndex(indexPath);
    return cachedIndex;
  }

  /** Read-modify-write of index.json; call within `exclusive`. */
  async function updateIndex(
    change: (entries: readonly Descriptor[]) => Descriptor[] | undefined,
  ): Promise<void> {
    const snapshot = await currentIndex();
    const entries = change(snapshot.entries);
    if (entries === undefined) return;
    const document = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      ...snapshot.document,
      manifests: entries,
    };
    cachedIndex = undefined;
    await writeFileAtomic(indexPath, JSON.stringify(document));
  }

  async function blobExists(digest: Digest): Promise<boolean> {
    try {
      return (await stat(blobPath(digest))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ioError(err, `cannot look up blob ${digest}`);
    }
  }

  async function openBlob(digest: Digest): Promise<FileHandle> {
    try {
      return await open(blobPath(digest), 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') throw notFound(digest);
      throw ioError(err, `cannot read blob ${digest}`);
    }
  }

  /** A manifest's bytes, checked against `descriptor` (size bounded first). */
  async function readManifest(descriptor: { digest: Digest; size: number }): Promise<Buffer> {
    if (descriptor.size > MAX_MANIFEST_BYTES) {
      throw new InvalidInputError(
        'NV2_ERR_FILE_TOO_LARGE',
        `manifest ${descriptor.digest} is ${descriptor.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`,
      );
    }
    const handle = await openBlob(descriptor.digest);
    const stream = handle.createReadStream();
    try {
      return await readBoundedStream(
        verifyStream(stream, descriptor),
        MAX_MANIFEST_BYTES,
        `manifest ${descriptor.digest}`,
      );
    } catch (err) {
      throw ioError(err, `cannot read manifest ${descriptor.digest}`);
    } finally {
      stream.destroy();
    }
  }

  /**
   * What a manifest of the layout says; null when it is absent from blobs/ (a layout MAY
   * lack blobs), unreadable or not a manifest of its type: such manifests have no referrers
   * and are skipped, not fatal.
   */
  async function factsOf(manifest: Descriptor): Promise<ManifestFacts | null> {
    const key = `${manifest.digest} ${manifest.mediaType}`;
    const cached = factsCache.get(key);
    if (cached !== undefined) return cached;
    let facts: ManifestFacts | null;
    try {
      facts = parseManifest(await readManifest(manifest), manifest.mediaType);
    } catch (err) {
      // Absent now does not mean absent later: only cache verdicts on content that exists.
      if ((err as InvalidInputError).code === 'NV2_ERR_CONTENT_NOT_FOUND') return null;
      if ((err as InvalidInputError).code === 'NV2_ERR_IO') throw err;
      facts = null;
    }
    factsCache.set(key, facts);
    return facts;
  }

  async function buildGraph(snapshot: IndexSnapshot): Promise<Graph> {
    const known = new Map<Digest, Descriptor>();
    const referrers: ReferrersIndex = new Map();
    const queue = [...snapshot.entries];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (!isManifestMediaType(next.mediaType) || known.has(next.digest)) continue;
      const manifest = plainDescriptor(next);
      known.set(next.digest, manifest);
      const facts = await factsOf(manifest);
      if (facts === null) continue;
      indexReferrer(referrers, manifest, facts);
      if (isIndexMediaType(manifest.mediaType)) queue.push(...facts.children);
    }
    return { identity: snapshot.identity, known, referrers };
  }

  async function currentGraph(): Promise<Graph> {
    const snapshot = await currentIndex();
    if (cachedGraph?.identity !== snapshot.identity) {
      const graph = buildGraph(snapshot);
      const entry = { identity: snapshot.identity, graph };
      cachedGraph = entry;
      graph.catch(() => {
        if (cachedGraph === entry) cachedGraph = undefined;
      });
    }
    return cachedGraph.graph;
  }

  /**
   * The descriptor of the manifest with `digest`: as index.json lists it, as a listed index
   * lists it, or else as its own bytes say (a manifest nothing in index.json reaches).
   */
  async function manifestDescriptor(digest: Digest): Promise<Descriptor> {
    const listed = (await currentIndex()).entries.find(
      (e) => e.digest === digest && isManifestMediaType(e.mediaType),
    );
    if (listed !== undefined) return plainDescriptor(listed);
    const reachable = (await currentGraph()).known.get(digest);
    if (reachable !== undefined) return reachable;
    let size: number;
    try {
      size = (await stat(blobPath(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`manifest ${digest}`);
      throw ioError(err, `cannot look up blob ${digest}`);
    }
    if (size > MAX_MANIFEST_BYTES) throw notFound(`manifest ${digest}`);
    const mediaType = sniffManifestMediaType(await readManifest({ digest, size }));
    if (mediaType === undefined) throw notFound(`manifest ${digest}`);
    return { mediaType, digest, size };
  }

  /** Streams `content` into blobs/ as `expected`: temp file, verify, fsync, rename. */
  async function writeBlob(
    expected: Descriptor,
    content: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const path = blobPath(expected.digest);
    const dir = join(root, BLOBS_DIR, digestAlgorithm(expected.digest));
    const temp = join(dir, `.${digestHex(expected.digest)}.${randomBytes(6).toString('hex')}.tmp`);
    let handle: FileHandle | undefined;
    try {
      await mkdir(dir, { recursive: true });
      handle = await open(temp, 'wx', 0o644);
      for await (const chunk of verifyStream(content, expected)) {
        for (let written = 0; written < chunk.byteLength;) {
          written += (await handle.write(chunk, written)).bytesWritten;
        }
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, path);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw ioError(err, `cannot write blob ${expected.digest}`);
    }
  }

  return {
    async fetch(target) {
      checkDescriptor(target);
      const handle = await openBlob(target.digest);
      const stream = handle.createReadStream();
      const out = Readable.from(verifyStream(stream, target), { objectMode: false });
      // Closes the file also when the caller destroys the stream before reading it.
      out.once('close', () => stream.destroy());
      return out;
    },

    async push(expected, content) {
      checkDescriptor(expected);
      const source = asAsyncIterable(content);
      if (!isManifestMediaType(expected.mediaType)) {
        if (!(await blobExists(expected.digest))) return writeBlob(expected, source);
        // Already there: still refuse content that does not match its descriptor.
        for await (const _ of verifyStream(source, expected));
        return;
      }
      if (expected.size > MAX_MANIFEST_BYTES) {
        throw new InvalidInputError(
          'NV2_ERR_FILE_TOO_LARGE',
          `manifest ${expected.digest} is ${expected.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`,
        );
      }
      const bytes = await readBoundedStream(
        verifyStream(source, expected),
        expected.size,
        `manifest ${expected.digest}`,
      );
      const facts = parseManifest(bytes, expected.mediaType);
      if (!(await blobExists(expected.digest))) {
        await writeBlob(expected, asAsyncIterable(bytes));
      }
      const manifest = plainDescriptor(expected);
      factsCache.set(`${manifest.digest} ${manifest.mediaType}`, facts);
      const entry: Descriptor =
        facts.artifactType !== undefined
          ? { ...manifest, artifactType: facts.artifactType }
          : manifest;
      await exclusive(() =>
        updateIndex((entries) =>
          entries.some((e) => e.digest === expected.digest) ? undefined : [...entries, entry],
        ),
      );
    },

    async exists(target) {
      checkDescriptor(target);
      return blobExists(target.digest);
    },

    async resolve(reference) {
      if (isDigest(reference)) return manifestDescriptor(reference);
      if (!isTag(reference) && !REF_NAME_PATTERN.test(reference)) {
        throw invalidReference(reference);
      }
      const entry = (await currentIndex()).entries.find((e) => refName(e) === reference);
      if (entry === undefined) throw notFound(`tag ${reference}`);
      return plainDescriptor(entry);
    },

    async tag(target, reference) {
      checkDescriptor(target);
      const isSelf = isDigest(reference) && reference === target.digest;
      if (!isSelf && !isTag(reference)) throw invalidReference(reference);
      await exclusive(async () => {
        const manifest = await manifestDescriptor(target.digest);
        if (!(await blobExists(target.digest))) throw notFound(`manifest ${target.digest}`);
        if (!isSelf) await updateIndex((entries) => retag(entries, manifest, reference));
      });
    },

    async referrers(subject, options = {}) {
      checkDescriptor(subject);
      const entries = (await currentGraph()).referrers.get(subject.digest)?.values();
      return selectReferrers(entries ?? [], options.artifactType);
    },

    async delete(target) {
      checkDescriptor(target);
      await exclusive(async () => {
        const listed = (await currentIndex()).entries.some((e) => e.digest === target.digest);
        if (!listed && !(await blobExists(target.digest))) throw notFound(target.digest);
        if (listed) {
          await updateIndex((entries) => entries.filter((e) => e.digest !== target.digest));
        }
        try {
          await unlink(blobPath(target.digest));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw ioError(err, `cannot delete blob ${target.digest}`);
          }
        }
        for (const key of factsCache.keys()) {
          if (key.startsWith(`${target.digest} `)) factsCache.delete(key);
        }
      });
    },
  };
}
