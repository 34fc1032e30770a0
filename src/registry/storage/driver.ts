import type { Readable } from 'node:stream';

/**
 * The storage driver: the only code that touches the medium (a directory today, object
 * storage later). Filesystem-shaped and deliberately small, like CNCF distribution's
 * `StorageDriver`: blobs, repository links, tags, uploads and the referrers index all live
 * above it (see `paths.ts`), so a new backend implements these methods and nothing else, and
 * passes the shared contract suite (`test/suites/storage-driver.ts`).
 *
 * Paths are absolute, `/`-separated, and made of segments matching `[A-Za-z0-9._-]+`
 * (`isValidStoragePath`); a driver refuses anything else with NV2_ERR_STORAGE_INVALID_PATH, so
 * no request-derived string can ever escape the driver's root.
 *
 * Errors: a missing path is `StorageError` NV2_ERR_STORAGE_NOT_FOUND; any other failure of
 * the medium is `StorageError` NV2_ERR_STORAGE_IO. Messages name the storage path, never a
 * host path (the host error is the `cause`).
 *
 * Rules every driver follows (the contract suite checks each one):
 *
 * - The root `/` is always a directory (it exists even when storage is empty). It is valid
 *   for `stat`, `list` and `walk` only; every other method refuses it with
 *   NV2_ERR_STORAGE_INVALID_PATH (it cannot be read, written, moved or deleted).
 * - Directories are implied by the files below them. A method that needs a file and finds a
 *   directory (`getContent`, `reader`, `move`'s source), or needs a directory and finds a
 *   file (`list`, `walk`), answers NV2_ERR_STORAGE_NOT_FOUND: there is no such file or
 *   directory. Writing a file where a directory is (`putContent`, `writer`, `move`'s
 *   destination), or below a file, fails with NV2_ERR_STORAGE_IO.
 * - Invalid paths are refused before the medium is touched, by every method and for every
 *   path argument.
 */
export interface StorageDriver {
  /** A short name for logs and metrics: `filesystem`, `memory`, `s3`. */
  readonly name: string;

  /** Reads a whole (small) file: links, tags, index files. */
  getContent(path: string): Promise<Buffer>;

  /**
   * Writes a whole (small) file atomically: a concurrent reader sees the old content or the
   * new, never a mix; after the promise resolves the content survives a crash (fsync).
   * Parent directories are created as needed.
   */
  putContent(path: string, content: Uint8Array): Promise<void>;

  /**
   * Writes several small files as one change, each as `putContent` does; all are visible
   * and durable when the promise resolves (meanwhile a reader may see some and not others). A driver that has it makes them survive a crash all together or not at
   * all (the filesystem driver: one journal record, one shared fdatasync). Optional: callers
   * without it write each file with `putContent`, in the same order (`putFiles`).
   */
  putContents?(files: readonly StorageFile[]): Promise<void>;

  /**
   * A stream of a file's content from `offset` (default 0), `length` bytes at most (default:
   * to the end). Streaming: memory stays flat whatever the file size.
   *
   * An `offset` at or past the end of the file gives an empty stream, not an error (as in
   * distribution: callers check ranges against `stat`), and so does `length` 0. A negative or
   * non-integer `offset` or `length` is NV2_ERR_STORAGE_INVALID_RANGE. A stream opened
   * before `putContent` or `move` replaces the file reads one whole version, old or new, never
   * a mix (the filesystem and memory drivers: the old one). The caller must consume or destroy
   * the stream: on the filesystem it holds an open file until then.
   */
  reader(path: string, options?: { offset?: number; length?: number }): Promise<Readable>;

  /**
   * A writer for a file that is being built (an upload). With `append`, it continues an
   * existing file; otherwise it starts empty. Content written is not guaranteed durable until
   * `commit()`.
   *
   * `size` announces how many bytes will be written (a request's Content-Length), so that a
   * driver may send them to the medium as one stream (the S3 driver: one PutObject instead
   * of a multipart upload). A driver that uses it keeps nothing of a writer closed before
   * exactly that many bytes were written: the file stays as it was before the writer, and
   * `commit` fails with NV2_ERR_STORAGE_IO. Drivers may ignore it.
   */
  writer(path: string, options?: { append?: boolean; size?: number }): Promise<FileWriter>;

  /** Facts about a file or directory. */
  stat(path: string): Promise<FileInfo>;

  /** The direct children of a directory, as full paths, sorted. Empty directories may vanish. */
  list(path: string): Promise<string[]>;

  /**
   * Moves a file to `destination`, replacing what is there, creating parent directories.
   * Atomic on the filesystem driver (rename); this is how verified content becomes visible.
   */
  move(source: string, destination: string): Promise<void>;

  /** Deletes a file or a directory with everything below it. */
  delete(path: string): Promise<void>;

  /**
   * Visits every file (not directory) below `path`, depth first, in sorted order. Used by
   * garbage collection and upload purging; `visit` may be async.
   *
   * "Sorted" means the visited paths, taken as whole strings, are in ascending order (what
   * `paths.sort()` gives: `/a-b`, `/a.txt` before `/a/x`), the order an object store lists
   * keys in. Visits are sequential: each `visit` promise settles before the next starts, and
   * an error thrown by `visit` stops the walk and rejects with that same error. Files removed
   * during the walk (by `visit` or anyone else) and not yet visited are skipped.
   */
  walk(path: string, visit: (info: FileInfo) => void | Promise<void>): Promise<void>;

  /**
   * Whether other processes (replicas) write to the same storage. The stores then cache
   * nothing that can change (tags, links, tag lists): every read of those goes to storage, so
   * a write acknowledged by one replica is seen by the others on their next request. Facts
   * about content (a digest's bytes and size) are still cached: they never change.
   */
  readonly shared?: boolean;

  /**
   * Whether a writer given `size` shows nothing new at its path until exactly `size` bytes
   * are written and it is committed or closed, and then the whole file at once (an object
   * store's PUT). The upload store then writes a blob whose digest and length are known
   * straight to its final path, holding back its last bytes until the digest is verified,
   * instead of into an upload session that it then moves (on an object store a move is a
   * copy of every byte).
   */
  readonly wholeFileWriters?: boolean;

  /**
   * Pending files: a file built by several writers one after another, in any process, that
   * shows nothing at its path until one of them commits it. Upload sessions use them on a
   * medium that cannot append (an object store, where continuing an object copies every
   * byte before: each chunk of a session would copy all the chunks before it). Optional:
   * without it, sessions append to a plain file with `writer`.
   */
  readonly pending?: PendingFiles;

  /**
   * A URL from which a client without credentials can GET the file for `expiresInSeconds`
   * (a presigned object-store URL), for drivers that have one; the registry then redirects
   * blob downloads there instead of streaming them.
   */
  presignedGetUrl?(path: string, expiresInSeconds: number): Promise<string>;

  /**
   * Removes what writers that never finished left on the medium and that no path names (an
   * object store's incomplete multipart uploads) when it was started before `before`; returns
   * how many. Upload purging calls it.
   */
  abortIncompleteUploads?(before: Date): Promise<number>;

  /**
   * Finishes the driver's background work so that nothing is left to recover at the next
   * start (the filesystem driver checkpoints its journal). Called at shutdown; the driver
   * must not be used afterwards.
   */
  close?(): Promise<void>;
}

/**
 * Pending files (`StorageDriver.pending`), named by the path they become. One writer at a
 * time per path; callers serialize (upload sessions do).
 */
export interface PendingFiles {
  /** Starts an empty pending file for `path`, replacing one there (it leaves nothing behind). */
  create(path: string): Promise<void>;
  /**
   * Bytes of the pending file for `path` so far, and the note its last writer left;
   * undefined when there is none.
   */
  stat(path: string): Promise<{ size: number; note: string | undefined } | undefined>;
  /**
   * A writer continuing the pending file for `path` (NOT_FOUND when there is none). `close`
   * keeps what was written pending, for the next writer; `commit` makes `path` the whole
   * file, durable and visible at once, and ends the pending file; `cancel` discards the
   * pending file and deletes `path`. `size` is as in `StorageDriver.writer`: a writer closed
   * short keeps nothing.
   */
  writer(path: string, options?: { size?: number }): Promise<PendingWriter>;
  /** Discards the pending file for `path`, if there is one, and everything it stored. */
  discard(path: string): Promise<void>;
}

/** A writer of a pending file. */
export interface PendingWriter extends FileWriter {
  /**
   * A short note kept with the pending file by `close`, together with the bytes (the upload
   * store's resumable hash state); starts as the note the previous writer left.
   */
  note: string | undefined;
}

/** A whole small file to write (`putContents`). */
export interface StorageFile {
  readonly path: string;
  readonly content: Uint8Array;
}

/**
 * Writes `files` as one change: with `putContents` when the driver has it, else with
 * `putContent` one after another, in order (each durable before the next is written).
 */
export async function putFiles(
  driver: StorageDriver,
  files: readonly StorageFile[],
): Promise<void> {
  if (files.length === 0) return;
  if (driver.putContents !== undefined) {
    await driver.putContents(files);
    return;
  }
  for (const { path, content } of files) await driver.putContent(path, content);
}

/** Facts about a stored file or directory. */
export interface FileInfo {
  readonly path: string;
  /** Bytes; 0 for directories. */
  readonly size: number;
  readonly modTime: Date;
  readonly isDirectory: boolean;
}

/** A file being written. One writer per path at a time; callers serialize (upload sessions do). */
export interface FileWriter {
  /**
   * Appends bytes. Resolves when the driver has accepted them (back-pressure). Calls made
   * without awaiting the previous one are applied in call order.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Bytes in the file so far, including what an appending writer started from. */
  readonly size: number;
  /** Makes everything written durable (fsync) and closes the writer. */
  commit(): Promise<void>;
  /** Closes the writer and deletes the file. */
  cancel(): Promise<void>;
  /**
   * Closes the writer, keeping what was written (an upload that continues later). Idempotent:
   * safe in a `finally` after `commit` or `cancel`. Once a writer is closed, committed or
   * cancelled, `write`, `commit` and `cancel` fail with NV2_ERR_STORAGE_IO.
   */
  close(): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Whether `path` is a valid storage path: absolute, segments of `[A-Za-z0-9._-]`, no `.`/`..`. */
export function isValidStoragePath(path: string): boolean {
  if (!path.startsWith('/') || path.length > 4096) return false;
  if (path === '/') return true;
  for (const segment of path.slice(1).split('/')) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') return false;
  }
  return true;
}
