import { open } from 'node:fs/promises';
import { InvalidInputError, VerificationInconclusiveError } from '../errors.js';

function tooLarge(what: string, maxBytes: number): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_FILE_TOO_LARGE',
    `${what} is larger than the ${maxBytes} bytes allowed`,
  );
}

/**
 * Reads a whole file, refusing it as soon as it is known to exceed `maxBytes`: a 10 MB
 * garbage file given as a signature is turned away after one `stat`, not read into memory.
 *
 * @throws InvalidInputError NV2_ERR_FILE_NOT_FOUND, NV2_ERR_FILE_TOO_LARGE, NV2_ERR_INVALID_ARGUMENT (a directory)
 */
export async function readBoundedFile(
  path: string,
  maxBytes: number,
  what: string,
): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new InvalidInputError('NV2_ERR_FILE_NOT_FOUND', `${what} ${path}: no such file`);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${what} ${path}: permission denied`);
    }
    throw new VerificationInconclusiveError('NV2_ERR_IO', `${what} ${path}: ${String(err)}`, {
      cause: err,
    });
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${what} ${path} is a directory`);
    }
    if (stat.isFile() && stat.size > maxBytes) throw tooLarge(`${what} ${path}`, maxBytes);
    // Read in chunks even for regular files: pipes and character devices report size 0.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(`${what} ${path}`, maxBytes);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a stream to its end, refusing it once more than `maxBytes` arrived.
 *
 * @throws InvalidInputError NV2_ERR_FILE_TOO_LARGE
 */
export async function readBoundedStream(
  stream: AsyncIterable<Uint8Array | string>,
  maxBytes: number,
  what: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    total += buf.byteLength;
    if (total > maxBytes) throw tooLarge(what, maxBytes);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}
