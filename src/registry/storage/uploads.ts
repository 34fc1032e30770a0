// Near 400 lines: the session protocol (start, append, commit, cancel, purge) is one state
// machine over one set of locks and paths; session files, body writing and running hashes
// live in upload-sessions.ts, upload-body.ts and upload-hashes.ts.
import { createHash, randomUUID } from 'node:crypto';
import { Nv2Error } from '../../errors.js';
import type { Digest, DigestAlgorithm } from '../../oci/index.js';
import { digestAlgorithm } from '../../oci/index.js';
import { exists, isNotFound, linkBlob } from './blobs.js';
import type { StoreCaches, UploadHashState } from './caches.js';
import type { FileWriter, PendingWriter, StorageDriver } from './driver.js';
import { blobDataPath, uploadDataPath, uploadStartedAtPath } from './paths.js';
import type { BlobInfo, UploadSession, UploadStore } from './store.js';
import { RegistryError } from './store.js';
import { sizeInvalid, verifyFile, writeBody } from './upload-body.js';
import { ResumableSha256 } from './resumable-sha256.js';
import { digestOfState, resumeHash, saveHash } from './upload-hashes.js';
import {
  deleteSession,
  findSessions,
  isUploadId,
  readSession,
  sessionKey,
  sessionStartedAt,
  uploadUnknown,
} from './upload-sessions.js';

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
 * per session, in the store's `StoreCaches`: caches.ts). The lock is
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

/** The digest algorithm a session hashes with while it streams, unless told otherwise. */
const DEFAULT_ALGORITHM: DigestAlgorithm = 'sha256';

/**
 * Creates the upload store of the registry over `driver`, keeping running hashes and locks in
 * `caches` (the store's: caches.ts).
 *
 * @example
 * const driver = createFilesystemDriver({ root });
 * const uploads = createUploadStore(driver, createStoreCaches(driver));
 * const session = await uploads.start('library/alpine');
 * await uploads.append('library/alpine', session.id, request, { offset: 0 });
 * const blob = await uploads.commit('library/alpine', session.id, digest);
 */
export function createUploadStore(
  driver: StorageDriver,
  caches: StoreCaches,
  options: UploadStoreOptions = {},
): UploadStore {
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? randomUUID;
  const sessionLocks = caches.locks.uploadSessions;
  const blobLocks = caches.locks.blobPublish;
  const hashes = caches.uploadHashes;
  const link =
    options.link ?? ((repo: string, digest: Digest) => linkBlob(driver, caches, repo, digest));

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

  /** `read`, or BLOB_UPLOAD_UNKNOWN. */
  async function readKnown(repo: string, id: string): Promise<UploadSession> {
    const session = await readSession(driver, repo, id);
    if (session === undefined) throw uploadUnknown(id);
    return session;
  }

  /**
   * Opens the session's data for appending (its pending file when it has one), with the
   * running hash when it still describes exactly the bytes stored (it does not after a
   * restart or a failed write). `stored`: the bytes already there; `size`: the bytes about
   * to be written, when known.
   */
  async function openData(
    repo: string,
    id: string,
    stored: number,
    size?: number,
  ): Promise<{ writer: FileWriter; state: UploadHashState | undefined }> {
    const dataPath = uploadDataPath(repo, id);
    const pending = await openPending(dataPath, size);
    if (pending !== undefined) {
      return { writer: pending, state: await resumeHash(pending.note, pending.size) };
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
    state: UploadHashState | undefined,
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
          ? digestOfState(state) === digest ||
            // A resumed hash another version may have saved differently: the bytes decide.
            (state.hash instanceof ResumableSha256 &&
              (await verifyFile(driver, dataPath, digest, size)))
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
      const known = (await readSession(driver, repo, id)) !== undefined;
      // Removes a half-created or half-deleted session too, even though it reads as unknown.
      await deleteSession(driver, repo, id, true);
      hashes.delete(key);
      return known;
    });
  }

  async function purge(before: Date): Promise<number> {
    let removed = 0;
    for (const { repo, id } of await findSessions(driver)) {
      const key = sessionKey(repo, id);
      const purged = await sessionLocks.run(key, async () => {
        const startedAt = await sessionStartedAt(driver, repo, id);
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
    const state: UploadHashState = { algorithm, hash: createHash(algorithm), hashed: 0 };
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
      return readSession(driver, repo, id);
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
function keepHash(writer: FileWriter | PendingWriter, state: UploadHashState | undefined): void {
  if ('note' in writer) writer.note = saveHash(state, writer.size);
}
