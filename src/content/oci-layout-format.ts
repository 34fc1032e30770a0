import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '../errors.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { MediaTypes, isDescriptor } from '../oci/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { readBoundedFile, readBoundedStream } from './bounded-read.js';
import { type ReferrersIndex, ioError } from './store-support.js';

/**
 * The OCI image layout on disk (image-spec v1.1 `image-layout.md`), as `openOciLayout` reads
 * and writes it: the `oci-layout` file, index.json read as a snapshot (with the identity that
 * tells when it changed), layout creation, the per-directory mutex of index.json updates, and
 * the tag annotations of index.json entries.
 */

const LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const BLOBS_DIR = 'blobs';

/** The only `imageLayoutVersion` image-spec defines (v1.0 through v1.1). */
const IMAGE_LAYOUT_VERSION = '1.0.0';

/** The index.json annotation that names a tag (image-spec `annotations.md`). */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** Largest `oci-layout` file read: it holds one short JSON object. */
const MAX_LAYOUT_FILE_BYTES = 64 * 1024;

/**
 * Largest index.json read. It lists every manifest and tag (a few hundred bytes each), so it
 * outgrows the 4 MiB manifest limit long before a registry's would: 32 MiB is about 100 000
 * entries.
 */
const MAX_INDEX_BYTES = 32 * 1024 * 1024;

/**
 * image-spec `annotations.md` grammar of `org.opencontainers.image.ref.name`. Other tools
 * write names such as `docker.io/library/alpine:3` there; `resolve` accepts them, `tag`
 * writes only tags.
 */
export const REF_NAME_PATTERN =
  /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/** What index.json said when last read, and how to tell whether it changed since. */
export interface IndexSnapshot {
  /** inode, size and times of the file read: any replacement or write changes it. */
  readonly identity: string;
  /** The whole document, so that fields nv2 does not use are written back unchanged. */
  readonly document: Readonly<Record<string, unknown>>;
  /** `manifests[]`, each exactly as written (validated as descriptors). */
  readonly entries: readonly Descriptor[];
}

/** The manifests reachable from one index.json, and the referrers among them. */
export interface Graph {
  readonly identity: string;
  /** Every manifest listed in index.json or reachable through a listed index. */
  readonly known: ReadonlyMap<Digest, Descriptor>;
  readonly referrers: ReferrersIndex;
}

export function layoutError(message: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_INVALID_OCI_LAYOUT',
    message,
    cause === undefined ? undefined : { cause },
  );
}

export function identityOf(s: {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw layoutError(`${what} is not JSON`, err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw layoutError(`${what} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

export async function readIndex(path: string): Promise<IndexSnapshot> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw layoutError(`${path} does not exist: not an OCI image layout`);
    }
    throw ioError(err, `cannot read ${path}`);
  }
  let bytes: Buffer;
  let identity: string;
  try {
    // One handle for stat and read: the identity is that of the bytes parsed.
    const s = await handle.stat();
    if (s.size > MAX_INDEX_BYTES) {
      throw new InvalidInputError(
        'NV2_ERR_FILE_TOO_LARGE',
        `${path} is larger than the ${MAX_INDEX_BYTES} bytes allowed`,
      );
    }
    identity = identityOf(s);
    bytes = await readBoundedStream(
      handle.createReadStream({ autoClose: false }),
      MAX_INDEX_BYTES,
      path,
    );
  } catch (err) {
    throw ioError(err, `cannot read ${path}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
  const document = parseJson(bytes, path);
  const manifests = document['manifests'] ?? [];
  if (!Array.isArray(manifests)) throw layoutError(`${path}: manifests is not an array`);
  manifests.forEach((entry, i) => {
    if (!isDescriptor(entry)) throw layoutError(`${path}: manifests[${i}] is not a descriptor`);
  });
  return { identity, document, entries: manifests as Descriptor[] };
}

export async function readLayoutFile(root: string): Promise<void> {
  const path = join(root, LAYOUT_FILE);
  let bytes: Buffer;
  try {
    bytes = await readBoundedFile(path, MAX_LAYOUT_FILE_BYTES, 'oci-layout file');
  } catch (err) {
    if ((err as InvalidInputError).code === 'NV2_ERR_FILE_NOT_FOUND') {
      throw layoutError(`${root} is not an OCI image layout: it has no oci-layout file`, err);
    }
    throw err;
  }
  const version = parseJson(bytes, path)['imageLayoutVersion'];
  if (version !== IMAGE_LAYOUT_VERSION) {
    throw layoutError(
      `${path}: imageLayoutVersion ${JSON.stringify(version)} is not supported (only ${IMAGE_LAYOUT_VERSION})`,
    );
  }
}

/** Writes `data` to `path` unless it exists. */
async function writeIfMissing(path: string, data: string): Promise<void> {
  try {
    await writeFileAtomic(path, data, { exclusive: true });
  } catch (err) {
    if ((err as InvalidInputError).code !== 'NV2_ERR_FILE_EXISTS') throw err;
  }
}

/**
 * Creates what a layout needs and lacks: the directory and `oci-layout` first, and
 * `blobs/` and `index.json` only once `oci-layout` is known to be one nv2 understands, so
 * that a directory that is something else is left as it was.
 */
export async function createLayout(root: string): Promise<void> {
  try {
    await mkdir(root, { recursive: true });
  } catch (err) {
    throw ioError(err, `cannot create ${root}`);
  }
  await writeIfMissing(
    join(root, LAYOUT_FILE),
    JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }),
  );
  await readLayoutFile(root);
  try {
    await mkdir(join(root, BLOBS_DIR), { recursive: true });
  } catch (err) {
    throw ioError(err, `cannot create ${join(root, BLOBS_DIR)}`);
  }
  await writeIfMissing(
    join(root, INDEX_FILE),
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }),
  );
}

/** Runs async functions one at a time, in call order (index.json's read-modify-write). */
type Mutex = <T>(fn: () => Promise<T>) => Promise<T>;

function createMutex(): Mutex {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * One mutex per layout directory in this process, so that two stores opened on the same
 * directory do not interleave their index.json updates either.
 */
const layoutMutexes = new Map<string, Mutex>();

export function layoutMutex(root: string): Mutex {
  let mutex = layoutMutexes.get(root);
  if (mutex === undefined) layoutMutexes.set(root, (mutex = createMutex()));
  return mutex;
}

export function refName(entry: Descriptor): string | undefined {
  return entry.annotations?.[REF_NAME];
}

/** `entry` without the ref.name annotation (and without `annotations` if that was the only one). */
export function untagged(entry: Descriptor): Descriptor {
  if (entry.annotations === undefined || !(REF_NAME in entry.annotations)) return entry;
  const { [REF_NAME]: _tag, ...annotations } = entry.annotations;
  const { annotations: _all, ...rest } = entry;
  return Object.keys(annotations).length > 0 ? { ...rest, annotations } : rest;
}

function withTag(entry: Descriptor, tag: string): Descriptor {
  return { ...entry, annotations: { ...entry.annotations, [REF_NAME]: tag } };
}

/**
 * index.json entries with `tag` pointing at `manifest`: the tag is taken off any other entry
 * (which stays, untagged, if nothing else lists its manifest), then put on an untagged entry
 * of `manifest` or on a new one. Undefined when nothing changes.
 */
export function retag(
  entries: readonly Descriptor[],
  manifest: Descriptor,
  tag: string,
): Descriptor[] | undefined {
  if (entries.some((e) => refName(e) === tag && e.digest === manifest.digest)) return undefined;
  const next: Descriptor[] = [];
  for (const entry of entries) {
    if (refName(entry) !== tag) {
      next.push(entry);
      continue;
    }
    const listedElsewhere = entries.some((e) => e !== entry && e.digest === entry.digest);
    if (!listedElsewhere) next.push(untagged(entry));
  }
  const i = next.findIndex((e) => e.digest === manifest.digest && refName(e) === undefined);
  if (i >= 0) next[i] = withTag(next[i]!, tag);
  else {
    const base = next.find((e) => e.digest === manifest.digest);
    next.push(withTag(base !== undefined ? untagged(base) : manifest, tag));
  }
  return next;
}
