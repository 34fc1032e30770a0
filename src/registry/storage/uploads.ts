// Over 400 lines: the session protocol (start, append, commit, cancel, purge) is one
// state machine over one set of locks and paths; the running hashes live in upload-hashes.ts.
import { createHash, randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { Nv2Error, VerificationFailedError } from '../../errors.js';
import type { Digest, DigestAlgorithm } from '../../oci/index.js';
import { digestAlgorithm, parseRfc3339, verifyStream } from '../../oci/index.js';
import { exists, isNotFound, linkBlob } from './blobs.js';
import type { FileWriter, PendingWriter, StorageDriver } from './driver.js';
import type { HashState } from './upload-hashes.js';
import { digestOfState, hashStatesOf, resumeHash, saveHash } from './upload-hashes.js';
import { BLOB_PUBLISH_LOCKS, UPLOAD_SESSION_LOCKS, sharedMutex } from './locks.js';
import {
  blobDataPath,
  repositoriesRootPath,
  uploadDataPath,
  uploadStartedAtPath,
  uploadsPath,
} from './paths.js';
import type { BlobInfo, UploadSession, UploadStore } from './store.js';
import { RegistryError } from './store.js';

/**
 * Blob upload sessions (distribution-spec "Pushing blobs": POST, PATCH, PUT, DELETE).
 *
 * A session is the directory `_uploads/<id>/` of its repository: `startedat` (written first,
 * so every session is purgeable) and `data` (the bytes so far). Chunks stream into `data`
 * through an appending driver writer; nothing buffers a body, so memory stays flat whatever
 * the blob size.
 *
 * Publishing follows STYLE.md habit 7: commit makes `data` durable (writer commit = fsync),
 * verifies its digest, and only then moves it to `blobDataPath` (rename on the filesystem);
 * then it writes the repository link. A crash at any moment leaves no blob or a complete,
 * verified one, never a partial file at the blob path. At worst it leaves an unlinked blob
 * (garbage collection removes it) or a stale session (`purge` removes it).
 *
 * Digests: the running hash of a session (sha256, or the algorithm `putBlob` was given) is
 * kept in memory while the process lives, so commit costs no re-read. After a restart, after
 * a failed write, or when commit asks for another algorithm (sha512), commit re-hashes the
 * `data` file as a stream.
 *
 * Over a driver with pending files (`StorageDriver.pending`: S3, which cannot append), a
 * session's data is a pending file: each chunk, on any replica, continues it (one multipart
 * upload per session), and commit makes `data` whole before verifying and moving it. Its
 * running hash is a resumable SHA-256 saved with the pending file (`upload-hashes.ts`), so
 * a commit on another replica than the chunks' still costs no re-read.
 *
 * Over a driver whose writers show a file only whole (`wholeFileWriters`: S3), a blob pushed
 * in one request with its digest and length (`POST ?digest=`) skips the session: it streams
 * to the blob's own path and its last bytes wait for the digest (`putBlobInPlace`).
 *
 * Concurrency: operations on one session run one at a time, in call order (a `KeyedMutex`
 * per session, shared by every upload store over the same driver object). The lock is
 * in-process: several registry processes on one storage root must route a session's requests
 * to one process.
 */

/** Options of `createUploadStore`; both exist for tests. */
export interface UploadStoreOptions {
  /** The clock for `startedAt` (default: the system clock). */
  readonly now?: () => Date;
  /** Session ids (default: `crypto.randomUUID`); each must be a fresh lower-case UUID v4. */
  readonly newId?: () => string;
  /**
   * Makes a committed blob part of the repository (default: its `_layers` link on the driver).
   * A metadata database records the link itself instead.
   */
  readonly link?: (repo: string, digest: Digest, size: number) => Promise<void>;
}

/**
 * At most this many sessions keep a running hash in memory (a node `Hash` each, a few hundred
 * bytes). Clients can open sessions and abandon them; past the bound new sessions simply get
 * hashed from storage at commit, so abandoned sessions cannot grow memory without limit.
 */
export const MAX_IN_MEMORY_HASH_STATES = 10_000;

/** Bytes of a request body gathered into one storage write. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** The digest algorithm a session hashes with while it streams, unless told otherwise. */
const DEFAULT_ALGORITHM: DigestAlgorithm = 'sha256';

/**
 * Session ids are random UUID v4, lower case, exactly as `randomUUID` makes them. An id from a
 * request is checked against this before any path is built from it.
 */
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Whether `id` is a well-formed upload session id (lower-case UUID v4). */
export function isUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

/**
 * Creates the upload store of the registry over `driver`.
 *
 * @example
 * const uploads = createUploadStore(createFilesystemDriver({ root }));
 * const session = await uploads.start('library/alpine');
 * await uploads.append('library/alpine', session.id, request, { offset: 0 });
 * const blob = await uploads.commit('library/alpine', session.id, digest);
 */
export function createUploadStore(
  driver: StorageDriver,
  options: UploadStoreOptions = {},
): UploadStore {
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? randomUUID;
  const sessionLocks = sharedMutex(driver, UPLOAD_SESSION_LOCKS);
  const blobLocks = sharedMutex(driver, BLOB_PUBLISH_LOCKS);
  const hashes = hashStatesOf(driver);
  const link = options.link ?? ((repo: string, digest: Digest) => linkBlob(driver, repo, digest));

  async function start(repo: string, algorithm: DigestAlgorithm): Promise<UploadSession> {
    const id = newId();
    if (!isUploadId(id)) {
      throw new Nv2Error('NV2_ERR_INTERNAL', 'upload id generator returned a malformed id');
    }
    const startedAtPath = uploadStartedAtPath(repo, id);
    if (await exists(driver, startedAtPath)) {
      throw new Nv2Error('NV2_ERR_INTERNAL', 'upload id generator repeated an id');
    }
    const startedAt = now();
    const written = Buffer.from(startedAt.toISOString(), 'utf8');
    if (driver.pending !== undefined) {
      // Side by side (an object store's writes are slow): a session left with only its
      // pending file by a crash is still found by purge, which dates it by its directory.
      await Promise.all([
        driver.putContent(startedAtPath, written),
        driver.pending.create(uploadDataPath(repo, id)),
      ]);
    } else {
      // startedat first: a crash before `data` exists leaves a session purge can still find.
      await driver.putContent(startedAtPath, written);
      await driver.putContent(uploadDataPath(repo, id), new Uint8Array(0));
    }
    // A pending file carries its own resumable hash (`upload-hashes.ts`).
    if (driver.pending === undefined && hashes.size < MAX_IN_MEMORY_HASH_STATES) {
      hashes.set(sessionKey(repo, id), { algorithm, hash: createHash(algorithm), hashed: 0 });
    }
    return { id, repo, size: 0, startedAt };
  }

  /**
   * The session as stored; undefined unless both `startedat` and its data (a file, or a
   * pending file) are there. Takes no lock.
   */
  async function read(repo: string, id: string): Promise<UploadSession | undefined> {
    try {
      const [content, size] = await Promise.all([
        driver.getContent(uploadStartedAtPath(repo, id)),
        dataSize(repo, id),
      ]);
      const startedAt = parseStartedAt(content);
      if (startedAt === undefined || size === undefined) return undefined;
      return { id, repo, size, startedAt };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Bytes of a session's data: its pending file, else (no pending file) its `data` file. */
  async function dataSize(repo: string, id: string): Promise<number | undefined> {
    const dataPath = uploadDataPath(repo, id);
    const pending = await driver.pending?.stat(dataPath);
    if (pending !== undefined) return pending.size;
    const data = await driver.stat(dataPath);
    return data.isDirectory ? undefined : data.size;
  }

  /** `read`, or BLOB_UPLOAD_UNKNOWN. */
  async function readKnown(repo: string, id: string): Promise<UploadSession> {
    const session = await read(repo, id);
    if (session === undefined) throw uploadUnknown(id);
    return session;
  }

  /**
   * Opens the session's data for appending (its pending file when it has one), with the
   * running hash when it still describes exactly the bytes stored (it does not after a
   * restart or a failed write). `size`: the bytes about to be written, when known.
   */
  async function openData(
    repo: string,
    id: string,
    stored: number,
    size?: number,
  ): Promise<{ writer: FileWriter; state: HashState | undefined }> {
    const dataPath = uploadDataPath(repo, id);
    const pending = await openPending(dataPath, size);
    if (pending !== undefined) {
      return { writer: pending, state: resumeHash(pending.note, pending.size) };
    }
    // A first chunk of known length can go to storage as one stream (S3: one PutObject).
    const writer = await driver.writer(dataPath, {
      append: true,
      ...(size !== undefined && stored === 0 ? { size } : {}),
    });
    const key = sessionKey(repo, id);
    let state = hashes.get(key);
    if (state !== undefined && state.hashed !== writer.size) {
      hashes.delete(key);
      state = undefined;
    }
    return { writer, state };
  }

  /** A writer of the pending file at `path`; undefined when the driver or the path has none. */
  async function openPending(path: string, size?: number): Promise<PendingWriter | undefined> {
    if (driver.pending === undefined) return undefined;
    try {
      return await driver.pending.writer(path, size !== undefined ? { size } : {});
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Streams `body` into the writer. On failure the writer is closed keeping what was written
   * (a resumable upload: the client asks for the offset and continues), and the running hash
   * is dropped unless it still matches the file.
   */
  async function writeBodyOrClose(
    repo: string,
    id: string,
    writer: FileWriter,
    state: HashState | undefined,
    body: AsyncIterable<Uint8Array>,
    length: number | undefined,
  ): Promise<void> {
    try {
      await writeBody(writer, state, body, length);
    } catch (err) {
      if (state !== undefined && state.hashed !== writer.size) hashes.delete(sessionKey(repo, id));
      keepHash(writer, state);
      await writer.close().catch(() => undefined); // the first error is the one to report
      throw err;
    }
  }

  async function append(
    repo: string,
    id: string,
    body: AsyncIterable<Uint8Array>,
    options: { offset?: number; length?: number } = {},
  ): Promise<UploadSession> {
    if (!isUploadId(id)) throw uploadUnknown(id);
    // No await before `run`: the lock queue order is the order requests called in.
    return sessionLocks.run(sessionKey(repo, id), async () => {
      const session = await readKnown(repo, id);
      // Checked under the lock, so a concurrent chunk cannot slip in between check and write.
      if (options.offset !== undefined && options.offset !== session.size) {
        throw new RegistryError('RANGE_INVALID', undefined, {
          offset: options.offset,
          size: session.size,
        });
      }
      const { writer, state } = await openData(repo, id, session.size, options.length);
      await writeBodyOrClose(repo, id, writer, state, body, options.length);
      const size = writer.size;
      keepHash(writer, state);
      await writer.close();
      return { ...session, size };
    });
  }

  async function commit(
    repo: string,
    id: string,
    digest: Digest,
    finalChunk?: AsyncIterable<Uint8Array>,
    options: { length?: number } = {},
  ): Promise<BlobInfo> {
    if (!isUploadId(id)) throw uploadUnknown(id);
    const key = sessionKey(repo, id);
    return sessionLocks.run(key, async () => {
      const session = await readKnown(repo, id);
      const dataPath = uploadDataPath(repo, id);
      const { writer, state } = await openData(
        repo,
        id,
        session.size,
        finalChunk !== undefined ? options.length : undefined,
      );
      if (finalChunk !== undefined) {
        await writeBodyOrClose(repo, id, writer, state, finalChunk, options.length);
      } else if (options.length !== undefined && options.length !== 0) {
        await writer.close();
        throw sizeInvalid(options.length, 0);
      }
      const size = writer.size;
      // Durable before anything can publish it: after the move, the blob must survive a crash.
      await writer.commit();

      const algorithm = digestAlgorithm(digest);
      hashes.delete(key); // consumed (or useless) from here on
      const verified =
        state !== undefined && state.algorithm === algorithm && state.hashed === size
          ? digestOfState(state) === digest
          : await verifyFile(driver, dataPath, digest, size);
      if (!verified) {
        await deleteSession(driver, repo, id);
        throw new RegistryError('DIGEST_INVALID', undefined, { digest });
      }

      const blobPath = blobDataPath(digest);
      // In-process, this keeps concurrent commits of one digest from racing; across processes
      // the move is an atomic replace of identical, verified bytes, so the race is harmless.
      // When the blob is already there, the upload's copy is dropped with the session below.
      await blobLocks.run(digest, async () => {
        if (!(await exists(driver, blobPath))) await driver.move(dataPath, blobPath);
      });
      await link(repo, digest, size);
      await deleteSession(driver, repo, id);
      return { digest, size };
    });
  }

  async function cancel(repo: string, id: string): Promise<boolean> {
    if (!isUploadId(id)) return false;
    const key = sessionKey(repo, id);
    return sessionLocks.run(key, async () => {
      const known = (await read(repo, id)) !== undefined;
      // Removes a half-created or half-deleted session too, even though it reads as unknown.
      await deleteSession(driver, repo, id, true);
      hashes.delete(key);
      return known;
    });
  }

  /** When a session started: `startedat`, else (damaged session) its files' modification time. */
  async function startedAtOf(repo: string, id: string): Promise<Date | undefined> {
    try {
      const startedAt = parseStartedAt(await driver.getContent(uploadStartedAtPath(repo, id)));
      if (startedAt !== undefined) return startedAt;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    for (const path of [uploadDataPath(repo, id), sessionPath(repo, id)]) {
      try {
        return (await driver.stat(path)).modTime;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return undefined;
  }

  async function purge(before: Date): Promise<number> {
    let removed = 0;
    for (const { repo, id } of await findSessions(driver)) {
      const key = sessionKey(repo, id);
      const purged = await sessionLocks.run(key, async () => {
        const startedAt = await startedAtOf(repo, id);
        if (startedAt === undefined || startedAt.getTime() >= before.getTime()) return false;
        await deleteSession(driver, repo, id, true);
        hashes.delete(key);
        return true;
      });
      if (purged) removed += 1;
    }
    // What writers killed mid-write left in an object store (incomplete multipart uploads).
    if (driver.abortIncompleteUploads !== undefined) {
      removed += await driver.abortIncompleteUploads(before);
    }
    return removed;
  }

  /**
   * `putBlob` over a driver whose writers show a file only whole (`wholeFileWriters`): the
   * bytes stream straight to the blob's path, hashed as they go, and the last batch waits
   * until the digest is verified. A wrong digest or a short body closes the writer short, so
   * nothing appears (an existing blob stays as it was); a right one appears whole. No session
   * and no move: on an object store the move is a copy of every byte, and a request that dies
   * leaves no file (the store drops an incomplete PUT; `purge` aborts a multipart upload).
   */
  async function putBlobInPlace(
    repo: string,
    digest: Digest,
    body: AsyncIterable<Uint8Array>,
    length: number,
  ): Promise<BlobInfo> {
    const algorithm = digestAlgorithm(digest);
    const state: HashState = { algorithm, hash: createHash(algorithm), hashed: 0 };
    // Opened while the first bytes arrive: the driver's checks take a few requests.
    const opening = driver.writer(blobDataPath(digest), { size: length });
    opening.catch(() => undefined); // awaited below
    try {
      const held = await writeBody(opening, state, body, length, true);
      if (digestOfState(state) !== digest) {
        throw new RegistryError('DIGEST_INVALID', undefined, { digest });
      }
      const writer = await opening;
      await writer.write(held.length === 1 ? held[0]! : Buffer.concat(held));
      await writer.commit();
    } finally {
      // Short: nothing kept. The first error is the one to report.
      await opening.then((writer) => writer.close()).catch(() => undefined);
    }
    await link(repo, digest, length);
    return { digest, size: length };
  }

  return {
    start: (repo) => start(repo, DEFAULT_ALGORITHM),

    async get(repo: string, id: string): Promise<UploadSession | undefined> {
      if (!isUploadId(id)) return undefined;
      return read(repo, id);
    },

    append,
    commit,
    cancel,

    async putBlob(
      repo: string,
      digest: Digest,
      body: AsyncIterable<Uint8Array>,
      options: { length?: number } = {},
    ): Promise<BlobInfo> {
      if (driver.wholeFileWriters === true && options.length !== undefined && options.length > 0) {
        return putBlobInPlace(repo, digest, body, options.length);
      }
      // Hash with the digest's own algorithm while streaming: no re-read, even for sha512.
      const session = await start(repo, digestAlgorithm(digest));
      try {
        await append(repo, session.id, body, options);
        return await commit(repo, session.id, digest);
      } catch (err) {
        await cancel(repo, session.id).catch(() => undefined); // the first error is the one to report
        throw err;
      }
    },

    purge,
  };
}

/** Leaves the running hash with a pending file's bytes, for the process of the next chunk. */
function keepHash(writer: FileWriter | PendingWriter, state: HashState | undefined): void {
  if ('note' in writer) writer.note = saveHash(state, writer.size);
}

/**
 * Writes `body` through `writer`, updating the running hash with exactly the bytes written.
 * With `length`, never writes past it: the chunk that overflows is cut at `length`, then
 * SIZE_INVALID; too few bytes is SIZE_INVALID at the end.
 *
 * `writer` may still be opening: the first batch waits for it, later ones never do.
 *
 * With `holdLast` (and `length`), the last batch, the one holding the final byte, is hashed
 * but not written: it is returned, for the caller to write once the digest is verified. On
 * failure nothing more is written then (the held bytes would complete the file).
 */
async function writeBody(
  writer: FileWriter | Promise<FileWriter>,
  state: HashState | undefined,
  body: AsyncIterable<Uint8Array>,
  length: number | undefined,
  holdLast = false,
): Promise<Uint8Array[]> {
  // Chunks arrive as the socket delivers them (tens of KiB); they are gathered into writes of
  // WRITE_BATCH_BYTES, with one write in flight while the next batch is received and hashed,
  // so a 64 MiB blob costs about 64 writes instead of a thousand round trips, each waited for.
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let inFlight: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (batchBytes === 0) return;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
    batch = [];
    batchBytes = 0;
    if (inFlight !== undefined) await inFlight;
    inFlight = Promise.resolve(writer).then((opened) => opened.write(data));
    // Awaited below; meanwhile a failure must not count as unhandled.
    inFlight.catch(() => undefined);
  };
  let received = 0;
  try {
    for await (const chunk of body) {
      const room = length === undefined ? chunk.byteLength : length - received;
      const part = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
      if (part.byteLength > 0) {
        // Hashed before it is written: a failed write leaves `hashed` ahead of the file's
        // size, and the caller then drops the running hash.
        if (state !== undefined) {
          state.hash.update(part);
          state.hashed += part.byteLength;
        }
        batch.push(part);
        batchBytes += part.byteLength;
        received += part.byteLength;
        if (batchBytes >= WRITE_BATCH_BYTES && !(holdLast && received === length)) await flush();
      }
      if (part !== chunk) throw sizeInvalid(length!, received + chunk.byteLength - part.byteLength);
    }
    if (!holdLast) await flush();
    await inFlight;
  } catch (err) {
    // What was received is kept (a resumable upload continues from the stored size), as when
    // every chunk was written as it came; the first error is the one to report.
    try {
      if (!holdLast) await flush();
      await inFlight;
    } catch {
      // reported: err
    }
    throw err;
  }
  if (length !== undefined && received !== length) throw sizeInvalid(length, received);
  return batch;
}

/**
 * Whether a stored file is `size` bytes with digest `digest`, read as a stream (flat memory)
 * through the shared verifier (`oci/verify-stream.ts`).
 */
async function verifyFile(
  driver: StorageDriver,
  path: string,
  digest: Digest,
  size: number,
): Promise<boolean> {
  const stream = await driver.reader(path);
  try {
    for await (const _chunk of verifyStream(stream, { digest, size })) {
      // Nothing to do with the bytes: reading them through the verifier is the point.
    }
    return true;
  } catch (err) {
    if (err instanceof VerificationFailedError && CONTENT_MISMATCH.has(err.code)) return false;
    throw err;
  } finally {
    stream.destroy();
  }
}

/** What `verifyStream` reports when content is not what was expected. */
const CONTENT_MISMATCH: ReadonlySet<string> = new Set([
  'NV2_ERR_CONTENT_DIGEST_MISMATCH',
  'NV2_ERR_CONTENT_SIZE_MISMATCH',
]);

/**
 * Every session directory under every repository, found by listing: repository directories
 * nest (`a/b/c`) and their own entries start with `_`, so only `_uploads` and non-`_` children
 * are descended into, and the (many) layer and manifest links are never visited.
 */
async function findSessions(driver: StorageDriver): Promise<{ repo: string; id: string }[]> {
  const root = repositoriesRootPath();
  const found: { repo: string; id: string }[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const child of await listIfPresent(driver, dir)) {
      const name = posix.basename(child);
      if (name === '_uploads') {
        const repo = dir.slice(root.length + 1);
        if (repo === '' || uploadsPath(repo) !== child) continue;
        for (const session of await listIfPresent(driver, child)) {
          const id = posix.basename(session);
          if (isUploadId(id)) found.push({ repo, id });
        }
      } else if (!name.startsWith('_')) {
        await visit(child);
      }
    }
  };
  await visit(root);
  return found;
}

async function listIfPresent(driver: StorageDriver, dir: string): Promise<string[]> {
  try {
    return await driver.list(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * A session's directory. `paths.ts` names only its two files; the directory is their parent,
 * derived from `uploadDataPath` so the layout stays defined in one place.
 */
function sessionPath(repo: string, id: string): string {
  return posix.dirname(uploadDataPath(repo, id));
}

/**
 * Deletes a session's directory; with `discard`, its pending file first (what it stored
 * lies outside the directory: an object store's multipart upload). A committed session has
 * none left.
 */
async function deleteSession(
  driver: StorageDriver,
  repo: string,
  id: string,
  discard = false,
): Promise<void> {
  if (discard) await driver.pending?.discard(uploadDataPath(repo, id));
  try {
    await driver.delete(sessionPath(repo, id));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** `startedat` content as a date; undefined when it is not one. */
function parseStartedAt(content: Buffer): Date | undefined {
  return parseRfc3339(content.toString('utf8').trim());
}

/** Lock and hash-state key of a session; `@` cannot occur in a repository name. */
function sessionKey(repo: string, id: string): string {
  return `${repo}@${id}`;
}

function uploadUnknown(id: string): RegistryError {
  // The id is echoed only when well-formed: a malformed one is the client's own string.
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, isUploadId(id) ? { id } : undefined);
}

function sizeInvalid(expected: number, received: number): RegistryError {
  return new RegistryError('SIZE_INVALID', undefined, { expected, received });
}
