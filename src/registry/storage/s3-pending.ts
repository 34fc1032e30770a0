import { PassThrough } from 'node:stream';
import type { CompletedPart } from '@aws-sdk/client-s3';
import type { PendingFiles, PendingWriter } from './driver.js';
import { ioError, notFound, writerFinished } from './driver-checks.js';
import type { S3Context } from './s3-requests.js';
import {
  MAX_COPY_BYTES,
  MIN_PART_BYTES,
  abortMultipart,
  asStorageError,
  completeMultipart,
  deleteObject,
  getBytes,
  putObject,
  startMultipart,
  uploadPart,
} from './s3-requests.js';
import type { WriterHooks } from './s3-writers.js';
import { InFlight, PARTS_IN_FLIGHT, drained } from './s3-writers.js';

/**
 * Pending files over S3 (`StorageDriver.pending`): an upload session's bytes go into ONE
 * multipart upload for the whole session, as in CNCF distribution's S3 driver, instead of a
 * new object per chunk (S3 has no append: continuing an object copies every byte before).
 *
 * The state of the pending file for `path` is the small object `<path>.pending`: a JSON line
 * (the multipart upload's id, once a part was sent, and its parts: number, ETag, size) and
 * then the tail, the bytes after the last part (fewer than S3's 5 MiB part minimum: only an
 * upload's last part may be smaller). A writer in any process reads it, sends the tail and
 * its own bytes as the next parts, and writes the state again on `close`, with what is left
 * under the minimum as the new tail: one PutObject replaces the state atomically, so the
 * parts listed and the tail always agree. Parts sent by a writer whose process died before
 * its state was written are not listed, and completing leaves them out; one sent again under
 * the same number replaces them.
 *
 * A writer told its size whose tail and bytes make a whole part streams them as one
 * UploadPart (nothing buffered; written short, the part is cut and nothing is kept). Others
 * buffer parts of `partSize`, a few in flight, like the driver's multipart writer.
 * `commit` sends what is left as the last part and completes the upload (CompleteMultipart
 * Upload): only then does `path` appear, whole; then the state is deleted. A pending file
 * with no part at all is committed as one PutObject. Abandoned uploads are aborted by
 * `discard`, or later by `abortIncompleteUploads`.
 */

/** The state of a pending file, as stored. */
interface PendingState {
  /** The multipart upload, once a part was sent. */
  upload: string | undefined;
  /** Sent parts, in order: number, ETag, size. */
  parts: [number, string, number][];
  tail: Buffer;
  /** The last writer's note (`PendingWriter.note`). */
  note: string | undefined;
}

const NEWLINE = 0x0a;
/** How long a state read by `stat` may serve the `writer` opened next. */
const REUSE_MS = 2_000;
/** States held for that, at most (sessions whose writer never came). */
const JUST_READ_MAX = 1_000;

function encode(state: PendingState): Buffer {
  const header = JSON.stringify({
    upload: state.upload ?? null,
    parts: state.parts,
    note: state.note ?? null,
  });
  return Buffer.concat([Buffer.from(`${header}\n`, 'utf8'), state.tail]);
}

function decode(path: string, bytes: Buffer): PendingState {
  const end = bytes.indexOf(NEWLINE);
  try {
    if (end < 0) throw new Error('no header');
    const header = JSON.parse(bytes.subarray(0, end).toString('utf8')) as {
      upload: unknown;
      parts: unknown;
      note: unknown;
    };
    const parts = header.parts;
    if (
      !(header.upload === null || typeof header.upload === 'string') ||
      !(header.note === null || typeof header.note === 'string') ||
      !Array.isArray(parts) ||
      !parts.every(
        (part) =>
          Array.isArray(part) &&
          Number.isSafeInteger(part[0]) &&
          typeof part[1] === 'string' &&
          Number.isSafeInteger(part[2]),
      )
    ) {
      throw new Error('malformed header');
    }
    return {
      upload: header.upload ?? undefined,
      parts: parts as [number, string, number][],
      tail: bytes.subarray(end + 1),
      note: header.note ?? undefined,
    };
  } catch (err) {
    throw ioError('pending', path, 'the pending state is damaged', err);
  }
}

const stateOf = (path: string): string => `${path}.pending`;

const storedSize = (state: PendingState): number =>
  state.parts.reduce((sum, part) => sum + part[2], 0) + state.tail.length;

export function createPendingFiles(
  s3: S3Context,
  hooks: WriterHooks,
  partSize: number,
): PendingFiles {
  /**
   * The state `stat` read last, per path, for the `writer` that follows it (an upload
   * session reads its size, then opens its data): the same object is not fetched twice in a
   * row. Taken once, and only while fresh.
   */
  const justRead = new Map<string, { state: PendingState; at: number }>();

  async function readState(op: string, path: string): Promise<PendingState | undefined> {
    const bytes = await getBytes(s3, op, stateOf(path));
    return bytes === undefined ? undefined : decode(path, bytes);
  }

  function takeJustRead(path: string): PendingState | undefined {
    const read = justRead.get(path);
    justRead.delete(path);
    return read !== undefined && Date.now() - read.at < REUSE_MS ? read.state : undefined;
  }

  return {
    async create(path) {
      justRead.delete(path);
      await putObject(
        s3,
        'pending',
        stateOf(path),
        encode({ upload: undefined, parts: [], tail: Buffer.alloc(0), note: undefined }),
      );
    },

    async stat(path) {
      const state = await readState('pending', path);
      justRead.delete(path);
      if (state !== undefined) {
        if (justRead.size >= JUST_READ_MAX) justRead.clear();
        justRead.set(path, { state, at: Date.now() });
      }
      return state === undefined ? undefined : { size: storedSize(state), note: state.note };
    },

    async writer(path, options) {
      const state = takeJustRead(path) ?? (await readState('writer', path));
      if (state === undefined) throw notFound('writer', path);
      return createPendingWriter(s3, hooks, partSize, path, state, options?.size);
    },

    async discard(path) {
      justRead.delete(path);
      const state = await readState('discard', path);
      if (state === undefined) return;
      if (state.upload !== undefined) await abortMultipart(s3, state.upload, path);
      await deleteObject(s3, 'discard', stateOf(path));
    },
  };
}

function createPendingWriter(
  s3: S3Context,
  hooks: WriterHooks,
  partSize: number,
  path: string,
  state: PendingState,
  announced: number | undefined,
): PendingWriter {
  const stored = storedSize(state);
  let upload: Promise<string> | undefined =
    state.upload === undefined ? undefined : Promise.resolve(state.upload);
  let nextPart = (state.parts.at(-1)?.[0] ?? 0) + 1;
  const parts: Promise<CompletedPart & { size: number }>[] = [];
  const inFlight = new InFlight();
  let buffer: Buffer[] = state.tail.length > 0 ? [state.tail] : [];
  let buffered = state.tail.length;
  let written = 0;
  let finished = false;

  const ensureUpload = (): Promise<string> => (upload ??= startMultipart(s3, 'write', path));

  /** Sends the part `body` (bytes, or a stream of `length` bytes) as the next part. */
  function send(body: Buffer | PassThrough, length: number, signal?: AbortSignal): void {
    const PartNumber = nextPart++;
    const part = ensureUpload().then(async (id) => ({
      ...(await uploadPart(s3, 'write', path, id, PartNumber, body, length, signal)),
      size: length,
    }));
    parts.push(part);
    inFlight.track(part);
  }

  function sendBuffer(): void {
    const body = Buffer.concat(buffer, buffered);
    buffer = [];
    buffered = 0;
    send(body, body.length);
  }

  // A writer told its size streams the tail and its bytes as one part, when they make one.
  const whole = announced === undefined ? 0 : state.tail.length + announced;
  let stream: { body: PassThrough; cut: AbortController } | undefined;
  if (
    announced !== undefined &&
    announced > 0 &&
    whole >= MIN_PART_BYTES &&
    whole <= MAX_COPY_BYTES
  ) {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    // Cutting destroys the body with an error; the failed request is what reports it.
    body.on('error', () => undefined);
    const cut = new AbortController();
    stream = { body, cut };
    if (state.tail.length > 0) body.write(state.tail);
    buffer = [];
    buffered = 0;
    send(body, whole, cut.signal);
  }

  const allSent = async (): Promise<[number, string, number][]> => [
    ...state.parts,
    ...(await Promise.all(parts)).map((part): [number, string, number] => [
      part.PartNumber!,
      part.ETag!,
      part.size,
    ]),
  ];

  /** Drops what this writer sent: the pending file stays as it was before it. */
  async function abandon(): Promise<void> {
    if (stream !== undefined) {
      stream.cut.abort();
      stream.body.destroy(new Error('writer closed before all announced bytes were written'));
    }
    await inFlight.settle();
    buffer = [];
    buffered = 0;
  }

  /** Whether the writer must keep nothing: told its size and not given all of it. */
  const short = (): boolean => announced !== undefined && written !== announced;

  const writer: PendingWriter = {
    note: state.note,

    get size() {
      return stored + written;
    },

    async write(chunk) {
      if (finished) throw writerFinished('write', path);
      if (inFlight.failure !== undefined) throw inFlight.failure;
      if (chunk.byteLength === 0) return;
      if (announced !== undefined && written + chunk.byteLength > announced) {
        throw ioError('write', path, `more than the ${announced} bytes announced`);
      }
      written += chunk.byteLength;
      // Copied: the caller may reuse its buffer once this resolves.
      const copy = Buffer.from(chunk);
      if (stream !== undefined) {
        if (!stream.body.write(copy)) await drained(stream.body);
      } else {
        buffer.push(copy);
        buffered += copy.length;
        if (buffered >= partSize) {
          sendBuffer();
          await inFlight.below(PARTS_IN_FLIGHT);
        }
      }
      if (inFlight.failure !== undefined) throw inFlight.failure;
    },

    async close() {
      if (finished) return;
      finished = true;
      if (short()) {
        await abandon();
        return;
      }
      if (written === 0 && writer.note === state.note) return;
      try {
        stream?.body.end();
        if (buffered >= MIN_PART_BYTES) sendBuffer();
        await inFlight.settle();
        if (inFlight.failure !== undefined) throw inFlight.failure;
        const sent = await allSent();
        const tail = Buffer.concat(buffer, buffered);
        await putObject(
          s3,
          'close',
          stateOf(path),
          encode({
            upload: sent.length > 0 ? await ensureUpload() : undefined,
            parts: sent,
            tail,
            note: writer.note,
          }),
        );
      } catch (err) {
        await abandon();
        throw asStorageError('close', path, err);
      }
    },

    async commit() {
      if (finished) throw writerFinished('commit', path);
      finished = true;
      if (short()) {
        await abandon();
        throw ioError('commit', path, `${written} bytes written, ${announced} announced`);
      }
      try {
        stream?.body.end();
        if (state.parts.length === 0 && parts.length === 0) {
          // Never a whole part: one object, and the upload (if one was started) is dropped.
          await putObject(s3, 'commit', path, Buffer.concat(buffer, buffered));
          if (upload !== undefined) await abortMultipart(s3, await upload, path);
        } else {
          if (buffered > 0) sendBuffer(); // the last part may be small
          await inFlight.settle();
          if (inFlight.failure !== undefined) throw inFlight.failure;
          const sent = await allSent();
          await completeMultipart(
            s3,
            'commit',
            path,
            await ensureUpload(),
            sent.map(([PartNumber, ETag]) => ({ PartNumber, ETag })),
          );
        }
        hooks.written(path);
      } catch (err) {
        await abandon();
        throw asStorageError('commit', path, err);
      }
      await deleteObject(s3, 'commit', stateOf(path));
    },

    async cancel() {
      if (finished) throw writerFinished('cancel', path);
      finished = true;
      await abandon();
      if (upload !== undefined) {
        const id = await upload.catch(() => undefined);
        if (id !== undefined) await abortMultipart(s3, id, path);
      }
      hooks.removing(path);
      await Promise.all([
        deleteObject(s3, 'cancel', stateOf(path)),
        deleteObject(s3, 'cancel', path),
      ]);
    },
  };
  return writer;
}
