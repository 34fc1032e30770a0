import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { ioError } from './driver-checks.js';
import { errno } from './filesystem-errors.js';

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
export async function fsyncDirectory(dir: string): Promise<void> {
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
export async function syncDirectory(
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
