import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lstat, mkdir, open, readdir, realpath, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidInputError, StorageError } from '../../errors.js';
import type { FileInfo, FileWriter, StorageDriver } from './driver.js';
import { isValidStoragePath } from './driver.js';
import { checkPath, checkRange, ioError, notFound, writerFinished } from './driver-checks.js';
import { fileChunks } from './file-chunks.js';

/** Options of `createFilesystemDriver`. */
export interface FilesystemDriverOptions {
  /**
   * The directory holding everything (created on first use). It may itself be, or lie
   * below, a symbolic link: it is resolved once, and nothing below it is followed.
   */
  readonly root: string;
}

// Never open the last component of a path through a symbolic link (ELOOP instead), and
// never block opening something that is not a regular file (a FIFO someone left there).
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | O_NOFOLLOW | O_NONBLOCK;

/**
 * A repository or upload being deleted can remove a directory between our creating it and
 * using it; creating the parents again this many times covers any realistic interleaving.
 */
const PARENT_ATTEMPTS = 3;

/**
 * Temporary files (`putContent`) are named with a `~`, which no storage path segment can
 * contain: `list` and `walk` never show them and no storage path can name one.
 */
const TEMP_PREFIX = '.tmp~';

/** Size of each read when streaming a file. */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * How many host directories `hostPath` remembers as checked (no symbolic link between the
 * root and them). The oldest is forgotten first; a forgotten directory is checked again.
 */
const VERIFIED_DIRECTORIES_MAX = 4096;

/** First read of `getContent`: enough for any link and most manifests in one read. */
const SMALL_READ_BYTES = 16 * 1024;

/**
 * The storage driver over a local directory: storage path `/a/b` is `<root>/a/b`.
 *
 * - `putContent` writes a temporary file beside the target, fsyncs it, renames it over the
 *   target and fsyncs the directory: readers see the old or the new content, never a part,
 *   and the new content survives a crash once the promise resolves. A crash can leave a
 *   temporary file behind (invisible to `list` and `walk`, removed with its directory).
 * - `reader` streams from an open file descriptor, so a reader that is open when the file is
 *   replaced keeps reading the old content whole.
 * - `writer` writes the target in place (an upload is not visible to clients until it is
 *   verified and `move`d); `commit` fsyncs the file and its directory.
 * - `move` is `rename(2)`: atomic, replacing the destination; the destination directory is
 *   fsynced.
 *
 * Symbolic links: the driver never follows one below the root. A link in the middle of a path
 * is refused by every method with NV2_ERR_STORAGE_IO before anything is read or written
 * (checked with `realpath` of the parent directory, and with `lstat` for each directory it
 * creates); a link as the last component is refused by `getContent`, `reader`, `writer`,
 * `stat`, `list`, `walk` and as `move`'s source (`O_NOFOLLOW`, `lstat`); `putContent`, `move`
 * onto it and `delete` replace or remove the link itself, never its target. `list` and
 * `walk` skip links. This guards against links that are there by mistake; someone who can
 * write into the root while the registry runs can always race these checks, so the root must
 * be writable by the registry's user only.
 *
 * The `realpath` check is done once per directory: the driver remembers (up to
 * VERIFIED_DIRECTORIES_MAX) the directories that passed it or that it created itself, and
 * forgets a directory and everything below it when `delete` or `move` removes or replaces
 * it, or when using it fails with ENOENT. A directory replaced by a link by someone else
 * after the check goes unnoticed: the same race the check always had, accepted above.
 *
 * @example
 * const driver = createFilesystemDriver({ root: '/var/lib/nv2/registry' });
 * await driver.putContent('/v2/repositories/a/_manifests/tags/v1/current/link', bytes);
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT when `root` is empty
 */
export function createFilesystemDriver(options: FilesystemDriverOptions): StorageDriver {
  if (typeof options.root !== 'string' || options.root === '') {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'storage root must be a directory');
  }
  const configuredRoot = resolve(options.root);
  let rootPromise: Promise<string> | undefined;
  /** Host directories known to have no symbolic link between the root and them. */
  const verified = new Set<string>();
  const syncDir = createDirectorySyncer();
  const failedFlushes: FailedFlushes = new Set();

  function remember(dir: string): void {
    if (verified.has(dir)) return;
    if (verified.size >= VERIFIED_DIRECTORIES_MAX) {
      const oldest = verified.values().next();
      if (oldest.done !== true) verified.delete(oldest.value);
    }
    verified.add(dir);
  }

  /** Forgets `host` and every directory below it (removed, or replaced by something else). */
  function forget(host: string): void {
    if (verified.size === 0) return;
    const below = `${host}${sep}`;
    for (const dir of verified) {
      if (dir === host || dir.startsWith(below)) verified.delete(dir);
    }
  }

  /** The root, created and resolved once (a failure is retried on the next call). */
  async function hostRoot(op: string, path: string): Promise<string> {
    rootPromise ??= (async () => {
      await mkdir(configuredRoot, { recursive: true });
      return realpath(configuredRoot);
    })();
    try {
      return await rootPromise;
    } catch (err) {
      rootPromise = undefined;
      throw ioError(op, path, `storage root unusable: ${errno(err) ?? 'error'}`, err);
    }
  }

  /**
   * The host path of `path`, after checking that no directory between the root and it is a
   * symbolic link. Missing parents are NOT_FOUND, or created with `create`.
   */
  async function hostPath(op: string, path: string, create: boolean): Promise<string> {
    const root = await hostRoot(op, path);
    const segments = path === '/' ? [] : path.slice(1).split('/');
    const host = join(root, ...segments);
    if (segments.length <= 1) return host;
    const parent = dirname(host);
    if (verified.has(parent)) return host;
    let real: string;
    try {
      real = await realpath(parent);
    } catch (err) {
      const code = errno(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw ioError(op, path, code ?? 'error', err);
      if (!create) throw notFound(op, path, err);
      await makeParents(op, path, root, segments.slice(0, -1));
      remember(parent);
      return host;
    }
    // Any difference means a link (or a case-folding file system resolving another name).
    if (real !== parent) throw symlinkRefused(op, path);
    remember(parent);
    return host;
  }

  /**
   * `mkdir -p` that refuses to pass through a symbolic link, fsyncing what it creates. It
   * starts below the deepest directory already checked (each directory it passes is checked
   * with `lstat` and remembered), so a new repository or digest directory costs a mkdir and
   * an lstat per new directory only.
   */
  async function makeParents(
    op: string,
    path: string,
    root: string,
    segments: string[],
    fromRoot = false,
  ): Promise<void> {
    let start = 0;
    if (!fromRoot) {
      for (let i = segments.length; i > 0; i--) {
        if (verified.has(join(root, ...segments.slice(0, i)))) {
          start = i;
          break;
        }
      }
    }
    let dir = join(root, ...segments.slice(0, start));
    for (const segment of segments.slice(start)) {
      const next = join(dir, segment);
      let created = false;
      try {
        await mkdir(next);
        created = true;
      } catch (err) {
        const code = errno(err);
        if (code === 'ENOENT' && !fromRoot) {
          // A remembered directory is gone: forget it, and check everything from the root.
          forget(join(root, ...segments.slice(0, start)));
          return makeParents(op, path, root, segments, true);
        }
        if (code !== 'EEXIST') throw ioError(op, path, code ?? 'error', err);
      }
      const stats = await lstat(next).catch((err: unknown) => {
        throw ioError(op, path, errno(err) ?? 'error', err);
      });
      if (stats.isSymbolicLink()) throw symlinkRefused(op, path);
      if (!stats.isDirectory()) throw ioError(op, path, 'a file is in the way');
      if (created) await syncDirectory(syncDir, op, path, dir);
      remember(next);
      dir = next;
    }
  }

  /**
   * Runs `fn` on the host path of `path` with its parents created, again if they vanish
   * (ENOENT) in between. Other errors, and ENOENT after the last attempt, are rethrown.
   */
  async function withParents<T>(
    op: string,
    path: string,
    fn: (host: string) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const host = await hostPath(op, path, true);
      try {
        return await fn(host);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
        // The parent was removed in between (or is remembered but gone): check it again.
        forget(dirname(host));
        if (attempt >= PARENT_ATTEMPTS) throw err;
      }
    }
  }

  /** Opens a regular file for reading; NOT_FOUND when missing or a directory. */
  async function openFile(op: string, path: string): Promise<{ handle: FileHandle; size: number }> {
    const host = await hostPath(op, path, false);
    let handle: FileHandle;
    try {
      handle = await open(host, READ_FLAGS);
    } catch (err) {
      throw readError(op, path, err);
    }
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw notFound(op, path);
      if (!stats.isFile()) throw ioError(op, path, 'not a regular file');
      return { handle, size: stats.size };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw readError(op, path, err);
    }
  }

  /** lstat of `path`, refusing a symbolic link; NOT_FOUND when missing. */
  async function statPath(op: string, path: string): Promise<{ host: string; info: FileInfo }> {
    const host = await hostPath(op, path, false);
    try {
      const stats = await lstat(host);
      if (stats.isSymbolicLink()) throw symlinkRefused(op, path);
      if (!stats.isFile() && !stats.isDirectory()) {
        throw ioError(op, path, 'not a regular file or directory');
      }
      return {
        host,
        info: {
          path,
          size: stats.isDirectory() ? 0 : stats.size,
          modTime: stats.mtime,
          isDirectory: stats.isDirectory(),
        },
      };
    } catch (err) {
      throw readError(op, path, err);
    }
  }

  async function walkDirectory(
    host: string,
    path: string,
    visit: (info: FileInfo) => void | Promise<void>,
  ): Promise<void> {
    let entries;
    try {
      entries = await readdir(host, { withFileTypes: true });
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed during the walk
      throw ioError('walk', path, code ?? 'error', err);
    }
    // Sorted so that whole paths come out in ascending order (`a/` sorts after `a-b` and
    // `a.txt`, as `/a/x` does after `/a-b` and `/a.txt`). Links and temp files are skipped.
    const children = entries
      .filter((e) => isVisibleName(e.name) && (e.isFile() || e.isDirectory()))
      .map((e) => ({ name: e.name, key: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => compare(a.key, b.key));
    for (const { name } of children) {
      const childHost = join(host, name);
      const child = childPath(path, name);
      let stats;
      try {
        // Again, now: the entry may have been removed or replaced since readdir.
        stats = await lstat(childHost);
      } catch (err) {
        if (errno(err) === 'ENOENT') continue;
        throw ioError('walk', child, errno(err) ?? 'error', err);
      }
      if (stats.isDirectory()) {
        await walkDirectory(childHost, child, visit);
      } else if (stats.isFile()) {
        await visit({ path: child, size: stats.size, modTime: stats.mtime, isDirectory: false });
      }
    }
  }

  return {
    name: 'filesystem',

    async getContent(path) {
      checkPath('getContent', path, false);
      const host = await hostPath('getContent', path, false);
      // open, read, close: no stat and no readFile (fstat + read) for the small files most
      // reads are (a link is 71 bytes); the size is learnt only when the first read fills
      // the buffer. A directory fails the read with EISDIR (NOT_FOUND).
      let handle: FileHandle;
      try {
        handle = await open(host, READ_FLAGS);
      } catch (err) {
        throw readError('getContent', path, err);
      }
      try {
        let buffer = Buffer.allocUnsafe(SMALL_READ_BYTES);
        let length = 0;
        for (;;) {
          const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
          if (bytesRead === 0) break;
          length += bytesRead;
          if (length === buffer.length) {
            const stats = await handle.stat();
            if (!stats.isFile()) throw ioError('getContent', path, 'not a regular file');
            // One byte more than the size, to see the end in the next read.
            const grown = Buffer.allocUnsafe(Math.max(stats.size + 1, buffer.length * 2));
            buffer.copy(grown, 0, 0, length);
            buffer = grown;
          }
        }
        if (length === 0 && !(await handle.stat()).isFile()) {
          throw ioError('getContent', path, 'not a regular file');
        }
        // Mostly empty: a copy of the right size, as callers may keep the content (caches).
        return length < buffer.length / 2
          ? Buffer.from(buffer.subarray(0, length))
          : buffer.subarray(0, length);
      } catch (err) {
        throw readError('getContent', path, err);
      } finally {
        await handle.close().catch(() => undefined);
      }
    },

    async putContent(path, content) {
      checkPath('putContent', path, false);
      try {
        await withParents('putContent', path, async (host) => {
          const dir = dirname(host);
          const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
          const handle = await open(temp, 'wx', 0o644);
          try {
            await handle.writeFile(content);
            await handle.sync();
            await handle.close();
            await rename(temp, host);
          } catch (err) {
            await handle.close().catch(() => undefined);
            await unlink(temp).catch(() => undefined);
            throw err;
          }
          await syncDirectory(syncDir, 'putContent', path, dir);
        });
      } catch (err) {
        throw writeError('putContent', path, err);
      }
    },

    async reader(path, options) {
      checkPath('reader', path, false);
      const { offset, length } = checkRange(path, options);
      const { handle, size } = await openFile('reader', path);
      if (offset >= size || length === 0) {
        await handle.close().catch(() => undefined);
        return Readable.from([], { objectMode: false });
      }
      const end = length === undefined ? size : Math.min(size, offset + length);
      // 1 MiB reads: with the default 64 KiB, a large blob costs a thread-pool round trip per
      // 64 KiB and downloads run at half the disk's speed (bench:registry); the buffers are
      // used again once the consumer hands them back (file-chunks.ts).
      return fileChunks(handle, offset, end, READ_CHUNK_BYTES);
    },

    async writer(path, options) {
      checkPath('writer', path, false);
      const append = options?.append === true;
      const flags = WRITE_FLAGS | (append ? constants.O_APPEND : constants.O_TRUNC);
      let host!: string;
      let handle: FileHandle;
      let size: number;
      try {
        handle = await withParents('writer', path, async (h) => {
          host = h;
          return open(h, flags, 0o644);
        });
      } catch (err) {
        throw writeError('writer', path, err);
      }
      try {
        const stats = await handle.stat();
        if (!stats.isFile()) throw ioError('writer', path, 'not a regular file');
        size = stats.size;
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw writeError('writer', path, err);
      }
      // A file started afresh holds nothing an earlier failed flush may have lost.
      if (!append) failedFlushes.delete(host);
      return fileWriter(path, host, handle, size, syncDir, failedFlushes);
    },

    async stat(path) {
      checkPath('stat', path, true);
      return (await statPath('stat', path)).info;
    },

    async list(path) {
      checkPath('list', path, true);
      const { host, info } = await statPath('list', path);
      if (!info.isDirectory) throw notFound('list', path);
      let entries;
      try {
        entries = await readdir(host, { withFileTypes: true });
      } catch (err) {
        throw readError('list', path, err);
      }
      return entries
        .filter((e) => isVisibleName(e.name) && (e.isFile() || e.isDirectory()))
        .map((e) => e.name)
        .sort(compare)
        .map((name) => childPath(path, name));
    },

    async move(source, destination) {
      checkPath('move', source, false);
      checkPath('move', destination, false);
      const { host: sourceHost, info } = await statPath('move', source);
      if (info.isDirectory) throw notFound('move', source);
      if (source === destination) return;
      try {
        await withParents('move', destination, async (host) => {
          // The source is a file, but the destination may have been a link to a directory.
          forget(host);
          try {
            await rename(sourceHost, host);
          } catch (err) {
            if (errno(err) === 'ENOENT' && !(await present(sourceHost))) {
              throw notFound('move', source, err);
            }
            throw err;
          }
          await syncDirectory(syncDir, 'move', destination, dirname(host));
        });
      } catch (err) {
        throw writeError('move', destination, err);
      }
    },

    async delete(path) {
      checkPath('delete', path, false);
      const host = await hostPath('delete', path, false);
      try {
        // lstat, not stat: a link is removed itself (rm never follows one, at any depth).
        await lstat(host);
        forget(host);
        await rm(host, { recursive: true, maxRetries: 2 });
      } catch (err) {
        throw readError('delete', path, err);
      } finally {
        // Again: a concurrent call may have checked a directory while it was being removed.
        forget(host);
      }
    },

    async walk(path, visit) {
      checkPath('walk', path, true);
      const { host, info } = await statPath('walk', path);
      if (!info.isDirectory) throw notFound('walk', path);
      await walkDirectory(host, path, visit);
    },
  };
}

/**
 * Bytes written between two early flushes of a file being written: its data is handed to the
 * disk while more arrives, so that `commit`'s fsync waits for the last few MiB, not for the
 * whole upload.
 */
const EARLY_SYNC_BYTES = 8 * 1024 * 1024;

/**
 * Host paths of files whose early flush failed. After a failed fsync the kernel may have
 * dropped the dirty pages, and a descriptor opened later would not be told: such a file can
 * never be committed (only rewritten from the start, or cancelled).
 */
type FailedFlushes = Set<string>;

/** The writer over an open descriptor; writes are queued, so they land in call order. */
function fileWriter(
  path: string,
  host: string,
  handle: FileHandle,
  initialSize: number,
  syncDir: DirectorySyncer,
  failedFlushes: FailedFlushes,
): FileWriter {
  let open = true;
  let size = initialSize;
  let queue: Promise<void> = Promise.resolve();
  let failure: StorageError | undefined;
  let unflushed = 0;
  /** The early flush running, if any (never rejects). */
  let flushing: Promise<void> | undefined;

  function flushEarly(): void {
    unflushed = 0;
    flushing = handle.datasync().then(
      () => {
        flushing = undefined;
      },
      (err: unknown) => {
        flushing = undefined;
        failedFlushes.add(host);
        failure ??= ioError('write', path, errno(err) ?? 'error', err);
      },
    );
  }

  /** Fails when an early flush of this file failed, in this writer or an earlier one. */
  function checkFlushes(op: string): void {
    if (failure !== undefined) throw failure;
    if (failedFlushes.has(host)) throw ioError(op, path, 'an earlier flush of this file failed');
  }

  async function writeAll(chunk: Uint8Array): Promise<void> {
    if (failure !== undefined) throw failure;
    try {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset, null);
        offset += bytesWritten;
      }
      size += chunk.byteLength;
    } catch (err) {
      // After a failed write the file's end is unknown: refuse everything but cancel/close.
      failure = ioError('write', path, errno(err) ?? 'error', err);
      throw failure;
    }
    unflushed += chunk.byteLength;
    if (unflushed >= EARLY_SYNC_BYTES && flushing === undefined) flushEarly();
  }

  /** Stops accepting writes and waits for the queued ones and the early flush. */
  async function finish(op: string): Promise<void> {
    if (!open) throw writerFinished(op, path);
    open = false;
    await queue;
    await flushing;
  }

  const writer: FileWriter = {
    write(chunk) {
      if (!open) return Promise.reject(writerFinished('write', path));
      const result = queue.then(() => writeAll(chunk));
      queue = result.catch(() => undefined);
      return result;
    },
    get size() {
      return size;
    },
    async commit() {
      await finish('commit');
      try {
        checkFlushes('commit');
        await handle.sync();
        await handle.close();
        await syncDirectory(syncDir, 'commit', path, dirname(host));
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw writeError('commit', path, err);
      }
    },
    async cancel() {
      await finish('cancel');
      await handle.close().catch(() => undefined);
      try {
        await unlink(host);
        failedFlushes.delete(host);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw writeError('cancel', path, err);
        failedFlushes.delete(host);
      }
    },
    async close() {
      if (!open) return;
      open = false;
      await queue;
      await flushing;
      try {
        await handle.close();
      } catch (err) {
        throw writeError('close', path, err);
      }
      // Kept for later, but its bytes may be lost: say so now (commit will refuse it anyway).
      if (failedFlushes.has(host)) throw ioError('close', path, 'a flush of this file failed');
    },
  };
  return writer;
}

/** Makes a directory's entries durable; shared by concurrent callers (`createDirectorySyncer`). */
export type DirectorySyncer = (dir: string) => Promise<void>;

/**
 * Group commit of directory fsyncs. An fsync of a directory makes durable every entry created,
 * renamed or removed in it before the fsync started, whoever made the change; so a caller that
 * asks while an fsync of the same directory is running waits for the next one (the running one
 * may have started before its change), and every caller that asks meanwhile shares that next
 * one. Concurrent pushes creating entries in one directory (`_manifests/tags/`,
 * `_layers/sha256/`, …) then cost one fsync per round instead of one each: on a disk that
 * flushes about a thousand times a second, fsyncs are what bound writes per second.
 */
export function createDirectorySyncer(
  fsync: (dir: string) => Promise<void> = fsyncDirectory,
): DirectorySyncer {
  /** Per directory with an fsync running: the callers waiting for the next one. */
  const running = new Map<string, { next: Waiters | undefined }>();

  function start(dir: string, state: { next: Waiters | undefined }) {
    const done = fsync(dir);
    const settle = (): void => {
      const next = state.next;
      if (next === undefined) {
        running.delete(dir);
        return;
      }
      state.next = undefined;
      const again = start(dir, state);
      again.then(next.resolve, next.reject);
    };
    done.then(settle, settle);
    return done;
  }

  return (dir) => {
    const state = running.get(dir);
    if (state !== undefined) {
      state.next ??= waiters();
      return state.next.promise;
    }
    const fresh = { next: undefined };
    running.set(dir, fresh);
    return start(dir, fresh);
  };
}

/** Callers waiting for one fsync. */
interface Waiters {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** fsync of a directory; platforms and file systems that cannot do it are skipped. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Platforms and file systems that cannot fsync a directory (Windows, some FUSE).
    if (!UNSYNCABLE_DIRECTORY.has(errno(err) ?? '')) throw err;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** fsync of a directory, so that entries created or renamed in it survive a crash. */
async function syncDirectory(
  syncer: DirectorySyncer,
  op: string,
  path: string,
  dir: string,
): Promise<void> {
  try {
    await syncer(dir);
  } catch (err) {
    throw ioError(op, path, errno(err) ?? 'error', err);
  }
}

const UNSYNCABLE_DIRECTORY = new Set(['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'ENOTSUP']);

/** Maps a failure of a method that reads (or removes) `path`: a missing path is NOT_FOUND. */
function readError(op: string, path: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const code = errno(err);
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
    return notFound(op, path, err);
  }
  if (code === 'ELOOP' || code === 'EMLINK') return symlinkRefused(op, path, err);
  return ioError(op, path, code ?? 'error', err);
}

/** Maps a failure of a method that writes `path`: anything in the way is IO. */
function writeError(op: string, path: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const code = errno(err);
  if (code === 'ELOOP' || code === 'EMLINK') return symlinkRefused(op, path, err);
  if (code === 'EISDIR') return ioError(op, path, 'a directory is in the way', err);
  if (code === 'ENOTDIR') return ioError(op, path, 'a file is in the way', err);
  return ioError(op, path, code ?? 'error', err);
}

function symlinkRefused(op: string, path: string, cause?: unknown): StorageError {
  return ioError(op, path, 'refusing to follow a symbolic link', cause);
}

function errno(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

async function present(host: string): Promise<boolean> {
  try {
    await lstat(host);
    return true;
  } catch {
    return false;
  }
}

/** Names a storage path can have; temp files and anything else put there are not shown. */
function isVisibleName(name: string): boolean {
  return isValidStoragePath(`/${name}`);
}

function childPath(path: string, name: string): string {
  return path === '/' ? `/${name}` : `${path}/${name}`;
}

/** Code-unit order (what `Array.prototype.sort` does by default; paths are ASCII). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
