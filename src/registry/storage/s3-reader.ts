import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ioError } from './driver-checks.js';
import type { S3Context } from './s3-requests.js';
import { MiB, describe, isMissing, statusOf } from './s3-requests.js';

/**
 * Reading a large object as ranged GETs fetched ahead: one GetObject stream is as fast as
 * the store sends one object (RGW reads it from RADOS a window at a time), so a large read
 * asks for RANGE_BYTES ranges with up to AHEAD of them in flight beyond the one being
 * passed on. The first range streams as it arrives; the ones ahead are gathered in memory,
 * so a reader holds at most AHEAD ranges (16 MiB) besides what the socket buffers. Ranges
 * after the first must match the first's ETag (If-Match): an object replaced during the
 * read fails the stream instead of mixing two versions (blobs never change).
 */

const RANGE_BYTES = 8 * MiB;
const AHEAD = 2;
/** Reads shorter than this are one GetObject: nothing to gain from ranges. */
export const RANGED_READ_MIN_BYTES = 3 * RANGE_BYTES;

interface Answer {
  body: Readable;
  size: number;
  total: number | undefined;
  etag: string | undefined;
}

async function getRange(
  s3: S3Context,
  path: string,
  start: number,
  end: number | undefined,
  etag: string | undefined,
  signal: AbortSignal,
): Promise<Answer | 'unsatisfiable' | undefined> {
  try {
    const out = await s3.client.send(
      new GetObjectCommand({
        Bucket: s3.bucket,
        Key: s3.keyOf(path),
        Range: `bytes=${start}-${end ?? ''}`,
        ...(etag !== undefined ? { IfMatch: etag } : {}),
      }),
      { abortSignal: signal },
    );
    const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
    return {
      body: out.Body as Readable,
      size: out.ContentLength ?? 0,
      total: total === undefined ? undefined : Number(total),
      etag: out.ETag,
    };
  } catch (err) {
    if (etag === undefined && isMissing(err)) return undefined;
    if (etag === undefined && statusOf(err) === 416) return 'unsatisfiable';
    throw ioError('reader', path, describe(err), err);
  }
}

async function gather(body: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return chunks;
}

/**
 * A stream of `path` from `offset`, `length` bytes (undefined: to the end), read in ranges
 * when it is long enough; undefined when the object is missing, 'unsatisfiable' when
 * `offset` is at or past its end.
 */
export async function readRanges(
  s3: S3Context,
  path: string,
  offset: number,
  length: number | undefined,
): Promise<Readable | 'unsatisfiable' | undefined> {
  const cut = new AbortController();
  const first = await getRange(
    s3,
    path,
    offset,
    length !== undefined && length <= RANGE_BYTES ? offset + length - 1 : offset + RANGE_BYTES - 1,
    undefined,
    cut.signal,
  );
  if (first === undefined || first === 'unsatisfiable') return first;
  const head = first;
  const end =
    first.total === undefined
      ? offset + first.size
      : Math.min(first.total, length === undefined ? Infinity : offset + length);
  if (first.total === undefined || end <= offset + first.size) return first.body;

  const ranges: { start: number; end: number }[] = [];
  for (let start = offset + first.size; start < end; start += RANGE_BYTES) {
    ranges.push({ start, end: Math.min(end, start + RANGE_BYTES) - 1 });
  }
  const fetched: Promise<Buffer[]>[] = [];
  const fetchNext = (): void => {
    const range = ranges[fetched.length];
    if (range === undefined) return;
    const got = getRange(s3, path, range.start, range.end, first.etag, cut.signal).then(
      async (answer) => {
        if (answer === undefined || answer === 'unsatisfiable') {
          throw ioError('reader', path, 'the object changed during the read');
        }
        return gather(answer.body);
      },
    );
    got.catch(() => undefined); // awaited in order below
    fetched.push(got);
  };

  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (let i = 0; i < AHEAD; i++) fetchNext();
      for await (const chunk of head.body as AsyncIterable<Buffer>) yield chunk;
      for (let i = 0; i < ranges.length; i++) {
        const got = await fetched[i]!;
        fetchNext();
        yield* got;
      }
    } finally {
      cut.abort(); // a reader dropped early: the ranges in flight are cut
      head.body.destroy();
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false, highWaterMark: 1024 * 1024 });
  // Destroyed before it was read from, the generator never runs its `finally`.
  stream.once('close', () => {
    cut.abort();
    head.body.destroy();
  });
  return stream;
}
