import { StorageError } from '../../errors.js';
import { ioError, notFound } from './driver-checks.js';

/**
 * How the filesystem driver turns host errors (errno codes) into storage errors: what is
 * NOT_FOUND, what is IO, and the message that names a refused symbolic link. The host error is
 * kept as the `cause`; messages name the storage path only.
 */

/** Maps a failure of a method that reads (or removes) `path`: a missing path is NOT_FOUND. */
export function readError(op: string, path: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const code = errno(err);
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
    return notFound(op, path, err);
  }
  if (code === 'ELOOP' || code === 'EMLINK') return symlinkRefused(op, path, err);
  return ioError(op, path, code ?? 'error', err);
}

/** Maps a failure of a method that writes `path`: anything in the way is IO. */
export function writeError(op: string, path: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const code = errno(err);
  if (code === 'ELOOP' || code === 'EMLINK') return symlinkRefused(op, path, err);
  if (code === 'EISDIR') return ioError(op, path, 'a directory is in the way', err);
  if (code === 'ENOTDIR') return ioError(op, path, 'a file is in the way', err);
  return ioError(op, path, code ?? 'error', err);
}

export function symlinkRefused(op: string, path: string, cause?: unknown): StorageError {
  return ioError(op, path, 'refusing to follow a symbolic link', cause);
}

export function errno(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}
