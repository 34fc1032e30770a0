import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidInputError, StorageError } from '../../errors.js';
import type { FileInfo, StorageDriver } from './driver.js';
import { checkPath, checkRange, ioError, notFound } from './driver-checks.js';
import { createDirectorySyncer, syncDirectory } from './directory-sync.js';
import { fileChunks } from './file-chunks.js';
import { errno, readError, symlinkRefused, writeError } from './filesystem-errors.js';
import { childPath, compare, isVisibleName, walkDirectory } from './filesystem-listing.js';
import { createHostPaths } from './filesystem-paths.js';
import type { FailedFlushes } from './filesystem-writer.js';
import { fileWriter } from './filesystem-writer.js';
import type { AppliedChange, Journal, JournalOptions } from './journal.js';
import { openJournal } from './journal.js';
import type { JournalOperation } from './journal-format.js';

/**
 * The filesystem storage driver: the driver contract (driver.ts) over one directory, its changes
 * recorded in a journal so that a crash leaves each one whole or absent.
 *
 * Why this file is long: it is one driver, each operation of the contract over one root and one
 * journal; the parts that stand alone are already apart (filesystem-paths.ts,
 * filesystem-writer.ts, filesystem-listing.ts, filesystem-errors.ts, directory-sync.ts,
 * file-chunks.ts).
 */

/** Options of `createFilesystemDriver`. */
export interface FilesystemDriverOptions {
  /**
   * The directory holding everything (created on first use). It may itself be, or lie
   * below, a symbolic link: it is resolved once, and nothing below it is followed.
   */
  readonly root: string;
  /** Checkpoint timing of the write-ahead journal (`journal.ts`); the defaults suit a server. */
  readonly journal?: JournalOptions;
}

// Never open the last component of a path through a symbolic link (ELOOP instead), and
// never block opening something that is not a regular file (a FIFO someone left there).
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | O_NOFOLLOW | O_NONBLOCK;

/**
 * Temporary files (`putContent`) are named with a `~`, which no storage path segment can
 * contain: `list` and `walk` never show them and no storage path can name one.
 */
const TEMP_PREFIX = '.tmp~';

/**
 * Temporary file names: random per process (a leftover of a crashed process, maybe with the
 * same pid, is never in the way), then a counter (no random bytes drawn per file).
 */
const tempNames = { prefix: randomBytes(8).toString('hex'), next: 0 };

/**
 * The journal's directory in the root: the `~` keeps it out of every storage path, `list`
 * and `walk`.
 */
const JOURNAL_DIRECTORY = '.journal~';

/** Size of each read when streaming a file. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** First read of `getContent`: enough for any link and most manifests in one read. */
const SMALL_READ_BYTES = 16 * 1024;

/**
 * The storage driver over a local directory: storage path `/a/b` is `<root>/a/b`.
 *
 * - `putContent` and `putContents` append one record holding the files to the write-ahead
 *   journal (`journal.ts`: group commit, one fdatasync shared by every write in flight),
 *   then write each file to a temporary file beside the target and rename it over the
 *   target: readers see the old or the new content, never a part, and once the promise
 *   resolves the new content is visible and survives a crash (recovery replays the record;
 *   a checkpoint fsyncs the files and their directories before dropping it). The files of
 *   one `putContents` survive a crash all together or not at all. A crash can leave a
 *   temporary file behind (invisible to `list` and `walk`, removed with its directory).
 * - `delete` removes at once; when a record not yet checkpointed wrote below the path, the
 *   removal is journaled too, so that a replay cannot bring the files back.
 * - `reader` streams from an open file descriptor, so a reader that is open when the file is
 *   replaced keeps reading the old content whole.
 * - `writer` writes the target in place (an upload is not visible to clients until it is
 *   verified and `move`d); `commit` fsyncs the file and its directory.
 * - `move` is `rename(2)`: atomic, replacing the destination; the destination directory is
 *   fsynced. `writer` and `move` on a path a pending journal record touches checkpoint first.
 * - `close` checkpoints the journal (a clean shutdown leaves nothing to replay).
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
 * The `realpath` check is done once per directory: the driver remembers (up to a bound,
 * `filesystem-paths.ts`) the directories that passed it or that it created itself, and
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
  const syncDir = createDirectorySyncer();
  const failedFlushes: FailedFlushes = new Set();
  let journal: Journal | undefined;
  const paths = createHostPaths(resolve(options.root), syncDir, async (root) => {
    journal = await openJournal(
      join(root, JOURNAL_DIRECTORY),
      { apply: (operation) => applyOperation(root, operation) },
      options.journal,
    );
  });
  const hostPath = paths.resolve;
  const withParents = paths.withParents;
  const forget = paths.forget;

  /** The journal, once the root is ready (its recovery done). */
  async function openedJournal(op: string, path: string): Promise<Journal> {
    await paths.root(op, path);
    return journal!;
  }

  /**
   * One journal operation applied to the files, without fsync (the journal made it durable;
   * its checkpoint fsyncs what this returns): a whole file through a temporary file and a
   * rename, or a removal.
   */
  async function applyOperation(root: string, operation: JournalOperation): Promise<AppliedChange> {
    const { path } = operation;
    const created: string[] = [];
    const placement = { root, created };
    if (operation.kind === 'delete') {
      let host: string;
      try {
        host = await hostPath('delete', path, false, placement);
      } catch (err) {
        if (err instanceof StorageError && err.code === 'NV2_ERR_STORAGE_NOT_FOUND') {
          return { files: [], directories: [] };
        }
        throw err;
      }
      forget(host);
      try {
        await rm(host, { recursive: true, force: true, maxRetries: 2 });
      } finally {
        forget(host);
      }
      return { files: [], directories: [dirname(host)] };
    }
    // Synchronously: see `replaceFileSync`.
    const host = paths.withParentsSync(
      'putContent',
      path,
      (target) => {
        replaceFileSync(target, operation.content);
        return target;
      },
      placement,
    );
    return { files: [host], directories: [dirname(host), ...created] };
  }

  /** Runs a checkpoint first when a record not yet checkpointed touches `path`. */
  async function settle(op: string, path: string): Promise<void> {
    const opened = await openedJournal(op, path);
    if (!opened.touches(path)) return;
    try {
      await opened.checkpoint();
    } catch (err) {
      throw ioError(op, path, errno(err) ?? 'error', err);
    }
  }

  /** Commits journal operations, mapping a failure onto the first path. */
  async function commit(op: string, operations: JournalOperation[]): Promise<void> {
    const first = operations[0]!.path;
    const opened = await openedJournal(op, first);
    try {
      await opened.commit(operations);
    } catch (err) {
      throw writeError(op, first, err);
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
      await commit('putContent', [{ kind: 'put', path, content }]);
    },

    async putContents(files) {
      for (const { path } of files) checkPath('putContents', path, false);
      if (files.length === 0) return;
      await commit(
        'putContents',
        files.map(({ path, content }) => ({ kind: 'put', path, content })),
      );
    },

    async close() {
      if (journal === undefined) return;
      await journal.close();
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
      await settle('writer', path);
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
      // A rename is not journaled: a pending record on either path must not be replayed
      // over it after a crash.
      await settle('move', source);
      await settle('move', destination);
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
      } catch (err) {
        throw readError('delete', path, err);
      }
      // A removal of something a pending record wrote is journaled too (and durable), so
      // that replaying the record after a crash does not bring it back.
      if ((await openedJournal('delete', path)).touches(path)) {
        await commit('delete', [{ kind: 'delete', path }]);
        return;
      }
      try {
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

async function present(host: string): Promise<boolean> {
  try {
    await lstat(host);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `content` to a temporary file beside `host` and renames it over `host` (no fsync).
 *
 * Synchronously, on the event loop: what the journal applies are small files (links of 71
 * bytes, referrers entries, manifests of at most 4 MiB) written to the page cache, whose
 * calls (open, write, close, rename, a mkdir per new directory) cost the same CPU time
 * wherever they run; handed to the thread pool, each also costs a round trip of its own (a
 * thread switch each way and a promise). A manifest push makes a dozen such calls; with
 * the round trips (and the `realpath` checks that `withParentsSync` replaces) it took about
 * twice the CPU time, which is what bounds pushes a second on a busy core. The price is
 * the event loop held for those calls (up to a millisecond or so per push, more for a
 * manifest of several MiB). The fdatasync that makes a record durable, the one call that
 * waits for the disk, stays off the event loop.
 */
function replaceFileSync(host: string, content: Uint8Array): void {
  const temp = join(
    dirname(host),
    `${TEMP_PREFIX}${tempNames.prefix}${(tempNames.next++).toString(16)}`,
  );
  const fd = openSync(temp, 'wx', 0o644);
  let open = true;
  try {
    for (let at = 0; at < content.byteLength;) {
      at += writeSync(fd, content, at, content.byteLength - at);
    }
    // Never closed twice, even when this fails: the number may already name another file.
    open = false;
    closeSync(fd);
    renameSync(temp, host);
  } catch (err) {
    if (open) {
      try {
        closeSync(fd);
      } catch {
        // the file is removed below anyway
      }
    }
    unlinkQuietly(temp);
    throw err;
  }
}

function unlinkQuietly(host: string): void {
  try {
    unlinkSync(host);
  } catch {
    // a leftover temporary file is invisible and removed with its directory
  }
}
