import { PassThrough } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { CompletedPart } from '@aws-sdk/client-s3';
import type { FileWriter } from './driver.js';
import { ioError, writerFinished } from './driver-checks.js';
import type { S3Context } from './s3-requests.js';
import {
  MIN_PART_BYTES,
  abortMultipart,
  asStorageError,
  completeMultipart,
  copyPartCount,
  copyParts,
  deleteObject,
  describe,
  getBytes,
  putObject,
  startMultipart,
  uploadPart,
} from './s3-requests.js';

/**
 * The S3 driver's `writer`s (`s3.ts` explains when each is used): one streamed PutObject
 * when the size is announced, else a multipart upload with a few parts in flight. Upload
 * sessions write through `s3-pending.ts` instead, which keeps one multipart upload open.
 */

/** Parts of one writer uploaded at the same time. Memory per writer: (this + 1) parts. */
export const PARTS_IN_FLIGHT = 4;

/** What the writers tell the driver, which keeps its directory cache and walk in step. */
export interface WriterHooks {
  /** `path` now holds a file (its parents are directories). */
  written(path: string): void;
  /** `path` is about to be removed. */
  removing(path: string): void;
}

/** The requests of one writer in flight; the first failure among them is kept. */
export class InFlight {
  private readonly requests = new Set<Promise<void>>();
  /** The first failure of a tracked request (or one the writer records). */
  failure: unknown;

  get size(): number {
    return this.requests.size;
  }

  track(promise: Promise<unknown>): void {
    const settled = promise.then(
      () => undefined,
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    this.requests.add(settled);
    void settled.then(() => this.requests.delete(settled));
  }

  /** Waits until fewer than `max` requests are in flight. */
  async below(max: number): Promise<void> {
    while (this.requests.size >= max) await Promise.race(this.requests);
  }

  /** Waits until none is in flight. */
  async settle(): Promise<void> {
    while (this.requests.size > 0) await Promise.all(this.requests);
  }
}

/** Waits until a stream written to has room again (or is gone). */
export function drained(stream: PassThrough): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/**
 * A writer of exactly `size` bytes streamed as the body of one PutObject: no buffering, no
 * parts. Written short (closed early, or failed), the request is aborted and the file stays
 * as it was.
 */
export function createStreamingWriter(
  s3: S3Context,
  hooks: WriterHooks,
  path: string,
  size: number,
): FileWriter {
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  // Aborting destroys the body with an error; the failed request is what reports it.
  body.on('error', () => undefined);
  let written = 0;
  let finished = false;
  let failure: unknown;
  // Aborting must cut the connection: a body that merely stops leaves the store waiting
  // for the announced bytes until its own timeout, minutes on RGW.
  const cut = new AbortController();
  const sent = s3.client
    .send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: s3.keyOf(path),
        Body: body,
        ContentLength: size,
      }),
      { abortSignal: cut.signal },
    )
    .then(
      () => undefined,
      (err: unknown) => {
        failure ??= ioError('write', path, describe(err), err);
        body.destroy();
      },
    );

  async function abort(): Promise<void> {
    cut.abort();
    body.destroy(new Error('writer closed before all announced bytes were written'));
    await sent;
  }

  /** Ends the body: the object appears, whole. */
  async function publish(): Promise<void> {
    body.end();
    await sent;
    if (failure !== undefined) throw failure;
    hooks.written(path);
  }

  return {
    get size() {
      return written;
    },

    async write(chunk) {
      if (finished) throw writerFinished('write', path);
      if (failure !== undefined) throw failure;
      if (chunk.byteLength === 0) return;
      if (written + chunk.byteLength > size) {
        throw ioError('write', path, `more than the ${size} bytes announced`);
      }
      written += chunk.byteLength;
      // Copied: the caller may reuse its buffer once this resolves.
      if (!body.write(Buffer.from(chunk))) await drained(body);
      if (failure !== undefined) throw failure;
    },

    async commit() {
      if (finished) throw writerFinished('commit', path);
      finished = true;
      if (written !== size) {
        await abort();
        throw ioError('commit', path, `${written} bytes written, ${size} announced`);
      }
      await publish();
    },

    async close() {
      if (finished) return;
      finished = true;
      if (written !== size) {
        await abort();
        return;
      }
      await publish();
    },

    async cancel() {
      if (finished) throw writerFinished('cancel', path);
      finished = true;
      await abort();
      hooks.removing(path);
      await deleteObject(s3, 'cancel', path);
    },
  };
}

/**
 * A writer over `path`. `existing` is the object an appending writer continues; below the
 * part minimum its bytes are carried in the buffer (read on the first write: a commit that
 * appends nothing reads nothing), above it they are copied server-side into the first parts
 * when the first part is needed. With `announced`, a writer closed short keeps nothing.
 */
export function createMultipartWriter(
  s3: S3Context,
  hooks: WriterHooks,
  partSize: number,
  path: string,
  existing: { size: number; etag: string } | undefined,
  announced: number | undefined,
): FileWriter {
  const expected = announced === undefined ? undefined : (existing?.size ?? 0) + announced;
  const carries = existing !== undefined && existing.size < MIN_PART_BYTES;
  let carried: Promise<void> | undefined;
  let buffer: Buffer[] = [];
  let buffered = 0;
  let size = existing?.size ?? 0;
  /** Whether closing must write anything: a new file, or bytes appended. */
  let dirty = existing === undefined;
  let upload: Promise<string> | undefined;
  let nextPart = 1;
  const parts: Promise<CompletedPart>[] = [];
  const inFlight = new InFlight();
  let finished = false;

  /** The multipart upload, started (with the copy of an existing large object) on first need. */
  function ensureUpload(): Promise<string> {
    if (upload === undefined) {
      upload = startMultipart(s3, 'write', path);
      if (existing !== undefined && !carries) {
        const first = nextPart;
        const count = copyPartCount(existing.size);
        nextPart += count;
        const copied = upload.then((id) =>
          copyParts(s3, 'write', path, id, path, existing.size, existing.etag, first),
        );
        for (let i = 0; i < count; i++) parts.push(copied.then((all) => all[i]!));
        inFlight.track(copied);
      }
    }
    return upload;
  }

  /** Reads the existing (small) object to the front of the buffer. */
  async function carryExisting(): Promise<void> {
    try {
      const bytes = await getBytes(s3, 'write', path);
      if (bytes === undefined) return;
      buffer.unshift(bytes);
      buffered += bytes.length;
    } catch (err) {
      inFlight.failure ??= asStorageError('write', path, err);
    }
  }

  /** Sends the buffer as the next part. */
  function sendPart(): void {
    const body = Buffer.concat(buffer, buffered);
    buffer = [];
    buffered = 0;
    const started = ensureUpload(); // first: the copied parts come before this one
    const PartNumber = nextPart++;
    const part = started.then((id) =>
      uploadPart(s3, 'write', path, id, PartNumber, body, body.length),
    );
    parts.push(part);
    inFlight.track(part);
  }

  /** Writes out what is buffered and makes the file whole and visible. */
  async function finish(op: string): Promise<void> {
    finished = true;
    try {
      if (inFlight.failure !== undefined) throw inFlight.failure;
      if (!dirty) return;
      await carried;
      if (inFlight.failure !== undefined) throw inFlight.failure;
      const copies = existing !== undefined && !carries;
      if (upload === undefined && !copies) {
        await putObject(s3, op, path, Buffer.concat(buffer, buffered));
        hooks.written(path);
        return;
      }
      // The appended bytes follow the server-side copy of the existing object.
      if (buffered > 0) sendPart();
      await inFlight.settle();
      if (inFlight.failure !== undefined) throw inFlight.failure;
      await completeMultipart(s3, op, path, await ensureUpload(), await Promise.all(parts));
      hooks.written(path);
    } catch (err) {
      await abandon();
      throw asStorageError(op, path, err);
    }
  }

  /** Drops the multipart upload, if any: the file stays as it was before this writer. */
  async function abandon(): Promise<void> {
    await inFlight.settle();
    if (upload !== undefined) {
      const id = await upload.catch(() => undefined);
      if (id !== undefined) await abortMultipart(s3, id, path);
    }
    buffer = [];
    buffered = 0;
  }

  return {
    get size() {
      return size;
    },

    async write(chunk) {
      if (finished) throw writerFinished('write', path);
      if (inFlight.failure !== undefined) throw inFlight.failure;
      if (chunk.byteLength === 0) return;
      if (expected !== undefined && size + chunk.byteLength > expected) {
        throw ioError('write', path, `more than the ${announced} bytes announced`);
      }
      dirty = true;
      if (carries) carried ??= carryExisting();
      // Copied: the caller may reuse its buffer once this resolves.
      buffer.push(Buffer.from(chunk));
      buffered += chunk.byteLength;
      size += chunk.byteLength;
      if (carried !== undefined) {
        await carried;
        if (inFlight.failure !== undefined) throw inFlight.failure;
      }
      if (buffered >= partSize) {
        sendPart();
        await inFlight.below(PARTS_IN_FLIGHT);
        if (inFlight.failure !== undefined) throw inFlight.failure;
      }
    },

    async commit() {
      if (finished) throw writerFinished('commit', path);
      if (expected !== undefined && size !== expected) {
        finished = true;
        await abandon();
        throw ioError(
          'commit',
          path,
          `${size - (existing?.size ?? 0)} bytes written, ${announced} announced`,
        );
      }
      await finish('commit');
    },

    async close() {
      if (finished) return;
      if (expected !== undefined && size !== expected) {
        // Written short: nothing of this writer is kept (`StorageDriver.writer`'s `size`).
        finished = true;
        await abandon();
        return;
      }
      await finish('close');
    },

    async cancel() {
      if (finished) throw writerFinished('cancel', path);
      finished = true;
      await abandon();
      hooks.removing(path);
      await deleteObject(s3, 'cancel', path);
    },
  };
}
