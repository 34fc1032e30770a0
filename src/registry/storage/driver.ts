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
 * the medium is `StorageError` NV2_ERR_STORAGE_IO.
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
   * A stream of a file's content from `offset` (default 0), `length` bytes at most (default:
   * to the end). Streaming: memory stays flat whatever the file size.
   */
  reader(path: string, options?: { offset?: number; length?: number }): Promise<Readable>;

  /**
   * A writer for a file that is being built (an upload). With `append`, it continues an
   * existing file; otherwise it starts empty. Content written is not guaranteed durable until
   * `commit()`.
   */
  writer(path: string, options?: { append?: boolean }): Promise<FileWriter>;

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
   */
  walk(path: string, visit: (info: FileInfo) => void | Promise<void>): Promise<void>;
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
  /** Appends bytes. Resolves when the driver has accepted them (back-pressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Bytes in the file so far, including what an appending writer started from. */
  readonly size: number;
  /** Makes everything written durable (fsync) and closes the writer. */
  commit(): Promise<void>;
  /** Closes the writer and deletes the file. */
  cancel(): Promise<void>;
  /** Closes the writer, keeping what was written (an upload that continues later). */
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
