import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/**
 * Streaming a byte range of an open file in large chunks whose buffers are used again.
 *
 * A download of a large blob reads it in 1 MiB chunks. `FileHandle.createReadStream` makes a
 * fresh buffer for every read, so a 64 MiB blob costs 64 allocations of 1 MiB, their zeroing
 * by the allocator's page faults and the collector's work to find them dead, for bytes that
 * only pass through. This stream keeps the buffers its consumer is done with and reads the
 * next chunks into them.
 *
 * The ownership protocol: a chunk the stream emits belongs to its consumer until the consumer
 * hands it back with `releaseChunk`, which it may do only once nothing holds the chunk any more
 * (for a socket: once `write`'s callback has run, when the kernel has taken the bytes). A
 * consumer that never hands chunks back, such as `pipeline` into another stream, simply gets a
 * fresh buffer for every chunk, as with any stream. Memory stays flat either way: at most
 * `SPARE_BUFFERS` idle buffers are kept, and the stream reads at most one chunk ahead.
 */

/** Idle buffers kept for the next reads, at most. */
const SPARE_BUFFERS = 4;

/** A readable stream whose chunks can be handed back for reuse (see the protocol above). */
export interface ReleasableChunks {
  /** Hands back a chunk this stream emitted, once nothing holds it any more. */
  releaseChunk(chunk: Uint8Array): void;
}

/** Whether `stream` takes its chunks back (`ReleasableChunks`). */
export function hasReleasableChunks(stream: Readable): stream is Readable & ReleasableChunks {
  return typeof (stream as Partial<ReleasableChunks>).releaseChunk === 'function';
}

/**
 * Streams bytes `start` to `end` (exclusive) of `handle` in chunks of `chunkBytes`, then
 * closes the handle (also when the stream is destroyed: a caller must consume or destroy it).
 * A file that ends before `end` ends the stream early: the caller checks the length it expects.
 */
export function fileChunks(
  handle: FileHandle,
  start: number,
  end: number,
  chunkBytes: number,
): Readable & ReleasableChunks {
  return new FileChunkStream(handle, start, end, chunkBytes);
}

class FileChunkStream extends Readable implements ReleasableChunks {
  readonly #handle: FileHandle;
  readonly #end: number;
  readonly #chunkBytes: number;
  readonly #spare: Buffer[] = [];
  #position: number;

  constructor(handle: FileHandle, start: number, end: number, chunkBytes: number) {
    // One chunk read ahead of the consumer, no more.
    super({ highWaterMark: chunkBytes });
    this.#handle = handle;
    this.#position = start;
    this.#end = end;
    this.#chunkBytes = chunkBytes;
  }

  releaseChunk(chunk: Uint8Array): void {
    // Only whole buffers of this stream's size come back into use (a chunk is a view of the
    // start of one: its backing store is the buffer, allocated alone by `allocUnsafeSlow`).
    if (this.#spare.length >= SPARE_BUFFERS || chunk.buffer.byteLength !== this.#chunkBytes) {
      return;
    }
    this.#spare.push(Buffer.from(chunk.buffer, 0, this.#chunkBytes));
  }

  override _read(): void {
    const length = Math.min(this.#chunkBytes, this.#end - this.#position);
    if (length <= 0) {
      this.push(null);
      return;
    }
    // Not from Node's shared pool: the buffer must be one backing store of its own to be
    // recognised and reused.
    const buffer = this.#spare.pop() ?? Buffer.allocUnsafeSlow(this.#chunkBytes);
    this.#handle.read(buffer, 0, length, this.#position).then(
      ({ bytesRead }) => {
        if (this.destroyed) return;
        if (bytesRead === 0) {
          this.push(null);
          return;
        }
        this.#position += bytesRead;
        this.push(buffer.subarray(0, bytesRead));
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#spare.length = 0;
    this.#handle.close().then(
      () => callback(err),
      () => callback(err),
    );
  }
}
