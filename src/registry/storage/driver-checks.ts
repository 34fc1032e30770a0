import { StorageError } from '../../errors.js';
import { isValidStoragePath } from './driver.js';

/**
 * Argument checks and errors shared by the storage drivers, so that every driver refuses the
 * same inputs with the same codes. Messages carry the operation and the storage path only:
 * host paths stay in `cause`.
 */

/** Size of the chunks in-memory content is streamed in. */
export const STREAM_CHUNK_BYTES = 64 * 1024;

/**
 * Refuses an invalid storage path. With `allowRoot: false` (every method but `stat`, `list`
 * and `walk`) also refuses `/`, which is a directory that cannot be read, written, moved or
 * deleted.
 */
export function checkPath(op: string, path: string, allowRoot: boolean): void {
  if (typeof path !== 'string' || !isValidStoragePath(path)) {
    throw new StorageError(
      'NV2_ERR_STORAGE_INVALID_PATH',
      `${op}: invalid storage path ${JSON.stringify(String(path)).slice(0, 200)}`,
    );
  }
  if (!allowRoot && path === '/') {
    throw new StorageError(
      'NV2_ERR_STORAGE_INVALID_PATH',
      `${op} /: the storage root cannot be read, written, moved or deleted`,
    );
  }
}

/** A checked reader range: `length` undefined means "to the end". */
export interface ReadRange {
  readonly offset: number;
  readonly length: number | undefined;
}

/** Checks a reader's `offset` and `length` (non-negative safe integers when given). */
export function checkRange(
  path: string,
  options: { offset?: number; length?: number } | undefined,
): ReadRange {
  const offset = options?.offset ?? 0;
  const length = options?.length;
  for (const [name, value] of [
    ['offset', offset],
    ['length', length],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new StorageError(
        'NV2_ERR_STORAGE_INVALID_RANGE',
        `reader ${path}: ${name} must be a non-negative integer, not ${String(value)}`,
      );
    }
  }
  return { offset, length };
}

/** The file or directory is not there. */
export function notFound(op: string, path: string, cause?: unknown): StorageError {
  return new StorageError(
    'NV2_ERR_STORAGE_NOT_FOUND',
    `${op} ${path}: not found`,
    cause === undefined ? undefined : { cause },
  );
}

/** The medium failed, or holds something the driver will not use; `detail` names no host path. */
export function ioError(op: string, path: string, detail: string, cause?: unknown): StorageError {
  return new StorageError(
    'NV2_ERR_STORAGE_IO',
    `${op} ${path}: ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}

/** A writer used after `commit`, `cancel` or `close`. */
export function writerFinished(op: string, path: string): StorageError {
  return ioError(op, path, 'the writer is already closed');
}
