import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InvalidInputError, VerificationInconclusiveError } from '../errors.js';

/** Options of `writeFileAtomic`. */
export interface AtomicWriteOptions {
  /** File mode of the new file (e.g. 0o600 for private keys). */
  readonly mode?: number;
  /** Refuse to replace an existing file. */
  readonly exclusive?: boolean;
}

/**
 * Writes a file so that readers see the old content or the whole new content, never a part:
 * write a temporary file beside it, fsync, then rename (or hard-link, when the target must
 * not exist) over it. A failure leaves no temporary file behind.
 *
 * @throws InvalidInputError NV2_ERR_FILE_EXISTS when `exclusive` and the file exists,
 *   NV2_ERR_FILE_NOT_FOUND when its directory does not exist
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(temp, 'wx', options.mode ?? 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InvalidInputError(
        'NV2_ERR_FILE_NOT_FOUND',
        `cannot write ${path}: directory ${dirname(path)} does not exist`,
      );
    }
    throw new VerificationInconclusiveError(
      'NV2_ERR_IO',
      `cannot write ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    if (options.exclusive === true) {
      // link() fails if the target exists, unlike rename(): no window for a race.
      await link(temp, path);
      await unlink(temp);
    } else {
      await rename(temp, path);
    }
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new InvalidInputError(
        'NV2_ERR_FILE_EXISTS',
        `${path} already exists (use --force to replace it)`,
      );
    }
    throw new VerificationInconclusiveError(
      'NV2_ERR_IO',
      `cannot write ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
