import type { OutgoingHttpHeaders } from 'node:http';
import { ApiError } from '../errors.js';
import { etagMatches, parseRange } from '../request.js';
import { sendBytes, sendEmpty, sendHeaders, sendStream } from '../respond.js';
import type { Handler, PatternParams } from '../handler.js';

type Params = PatternParams['/v2/<name>/blobs/<digest>'];

/**
 * Blobs are immutable (their name is their digest), so clients and proxies may cache them for
 * a year, as distribution tells them to.
 */
const BLOB_CACHE_CONTROL = 'max-age=31536000';

/**
 * `GET` and `HEAD /v2/<name>/blobs/<digest>` (end-2). The blob is streamed from the store,
 * whole (200) or one byte range (206 with `Content-Range`, RFC 9110); a range past the end is
 * 416 RANGE_INVALID with `Content-Range: bytes *\/<size>`. HEAD answers from `stat` and never
 * opens the blob; a small blob is sent from memory in one write. With a store that redirects downloads (S3 `redirect`), a GET is answered
 * 307 with a short-lived presigned URL of the object instead.
 */
export const getBlob: Handler<Params> = async (ctx) => {
  const { name, digest } = ctx.params;
  const info = await ctx.store.blobs.stat(name, digest);
  if (info === undefined) throw new ApiError('BLOB_UNKNOWN', { detail: { digest } });
  const etag = `"${digest}"`;
  const headers: OutgoingHttpHeaders = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Cache-Control': BLOB_CACHE_CONTROL,
  };
  if (etagMatches(ctx.req, digest)) {
    sendEmpty(ctx, 304, headers);
    return;
  }
  if (ctx.req.method === 'GET' && ctx.store.blobs.redirectUrl !== undefined) {
    // The object store answers the download (and any Range) itself, as distribution does.
    const location = await ctx.store.blobs.redirectUrl(name, digest, info);
    if (location !== undefined) {
      sendEmpty(ctx, 307, { Location: location, 'Docker-Content-Digest': digest });
      return;
    }
  }
  const range = parseRange(ctx.req, info.size, etag);
  if (range === 'unsatisfiable') {
    throw new ApiError('RANGE_INVALID', {
      message: 'requested range not satisfiable',
      headers: { 'Content-Range': `bytes */${info.size}` },
    });
  }
  const status = range === undefined ? 200 : 206;
  headers['Content-Length'] = String(range === undefined ? info.size : range.end - range.start + 1);
  if (range !== undefined) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
  }
  if (ctx.req.method === 'HEAD') {
    sendHeaders(ctx, status, headers);
    return;
  }
  const small = await ctx.store.blobs.readSmall(name, digest, info);
  if (small !== undefined) {
    sendBytes(
      ctx,
      status,
      range === undefined ? small : small.subarray(range.start, range.end + 1),
      headers,
    );
    return;
  }
  const body = await ctx.store.blobs.open(name, digest, range, info);
  await sendStream(ctx, status, body, headers);
};

/**
 * `DELETE /v2/<name>/blobs/<digest>` (end-10): unlinks the blob from the repository, 202.
 * The bytes stay until garbage collection (other repositories may link them).
 */
export const deleteBlob: Handler<Params> = async (ctx) => {
  const { name, digest } = ctx.params;
  if (!(await ctx.store.blobs.delete(name, digest))) {
    throw new ApiError('BLOB_UNKNOWN', { detail: { digest } });
  }
  sendEmpty(ctx, 202, { 'Docker-Content-Digest': digest });
};
