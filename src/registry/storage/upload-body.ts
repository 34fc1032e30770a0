import type { Digest } from '../../oci/index.js';
import { VerificationFailedError } from '../../errors.js';
import { verifyStream } from '../../oci/index.js';
import type { UploadHashState } from './caches.js';
import type { FileWriter, StorageDriver } from './driver.js';
import { RegistryError } from './store.js';

/**
 * The bytes of a blob upload on their way to storage (uploads.ts): a request body streamed
 * through a driver writer in batches, hashed as it goes, and a stored file verified against
 * its digest as a stream. Memory stays flat whatever the blob size.
 */

/** Bytes of a request body gathered into one storage write. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Writes `body` through `writer`, updating the running hash with exactly the bytes written.
 * With `length`, never writes past it: the chunk that overflows is cut at `length`, then
 * SIZE_INVALID; too few bytes is SIZE_INVALID at the end.
 *
 * `writer` may still be opening: the first batch waits for it, later ones never do.
 *
 * With `holdLast` (and `length`), the last batch, the one holding the final byte, is hashed
 * but not written: it is returned, for the caller to write once the digest is verified. On
 * failure nothing more is written then (the held bytes would complete the file).
 */
export async function writeBody(
  writer: FileWriter | Promise<FileWriter>,
  state: UploadHashState | undefined,
  body: AsyncIterable<Uint8Array>,
  length: number | undefined,
  holdLast = false,
): Promise<Uint8Array[]> {
  // Chunks arrive as the socket delivers them (tens of KiB); they are gathered into writes of
  // WRITE_BATCH_BYTES, with one write in flight while the next batch is received and hashed,
  // so a 64 MiB blob costs about 64 writes instead of a thousand round trips, each waited for.
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let inFlight: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (batchBytes === 0) return;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
    batch = [];
    batchBytes = 0;
    if (inFlight !== undefined) await inFlight;
    inFlight = Promise.resolve(writer).then((opened) => opened.write(data));
    // Awaited below; meanwhile a failure must not count as unhandled.
    inFlight.catch(() => undefined);
  };
  let received = 0;
  try {
    for await (const chunk of body) {
      const room = length === undefined ? chunk.byteLength : length - received;
      const part = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
      if (part.byteLength > 0) {
        // Hashed before it is written: a failed write leaves `hashed` ahead of the file's
        // size, and the caller then drops the running hash.
        if (state !== undefined) {
          state.hash.update(part);
          state.hashed += part.byteLength;
        }
        batch.push(part);
        batchBytes += part.byteLength;
        received += part.byteLength;
        if (batchBytes >= WRITE_BATCH_BYTES && !(holdLast && received === length)) await flush();
      }
      if (part !== chunk) throw sizeInvalid(length!, received + chunk.byteLength - part.byteLength);
    }
    if (!holdLast) await flush();
    await inFlight;
  } catch (err) {
    // What was received is kept (a resumable upload continues from the stored size), as when
    // every chunk was written as it came; the first error is the one to report.
    try {
      if (!holdLast) await flush();
      await inFlight;
    } catch {
      // reported: err
    }
    throw err;
  }
  if (length !== undefined && received !== length) throw sizeInvalid(length, received);
  return batch;
}

/**
 * Whether a stored file is `size` bytes with digest `digest`, read as a stream (flat memory)
 * through the shared verifier (`oci/verify-stream.ts`).
 */
export async function verifyFile(
  driver: StorageDriver,
  path: string,
  digest: Digest,
  size: number,
): Promise<boolean> {
  const stream = await driver.reader(path);
  try {
    for await (const _chunk of verifyStream(stream, { digest, size })) {
      // Nothing to do with the bytes: reading them through the verifier is the point.
    }
    return true;
  } catch (err) {
    if (err instanceof VerificationFailedError && CONTENT_MISMATCH.has(err.code)) return false;
    throw err;
  } finally {
    stream.destroy();
  }
}

/** What `verifyStream` reports when content is not what was expected. */
const CONTENT_MISMATCH: ReadonlySet<string> = new Set([
  'NV2_ERR_CONTENT_DIGEST_MISMATCH',
  'NV2_ERR_CONTENT_SIZE_MISMATCH',
]);

export function sizeInvalid(expected: number, received: number): RegistryError {
  return new RegistryError('SIZE_INVALID', undefined, { expected, received });
}
