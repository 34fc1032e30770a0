import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StorageError } from '../../errors.js';
import type { FileWriter } from './driver.js';
import { ioError, writerFinished } from './driver-checks.js';
import type { DirectorySyncer } from './directory-sync.js';
import { syncDirectory } from './directory-sync.js';
import { errno, writeError } from './filesystem-errors.js';

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
export type FailedFlushes = Set<string>;

/** The writer over an open descriptor; writes are queued, so they land in call order. */
export function fileWriter(
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
