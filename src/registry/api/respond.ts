import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { StorageError } from '../../errors.js';
import { hasReleasableChunks } from '../storage/file-chunks.js';
import type { HandlerContext } from './handler.js';

/**
 * Writing successful responses. Every body goes through here so that `meter.bytesOut` is
 * right; error responses are written by `errors.ts` only.
 */

type Ctx = Pick<HandlerContext<unknown>, 'req' | 'res' | 'meter'>;

/**
 * A response without a body (`Content-Length: 0`, except on 204 and 304 which carry no length
 * at all, RFC 9110 §8.6).
 */
export function sendEmpty(ctx: Ctx, status: number, headers: OutgoingHttpHeaders = {}): void {
  const all = status === 204 || status === 304 ? headers : { ...headers, 'Content-Length': '0' };
  ctx.res.writeHead(status, all);
  ctx.res.end();
}

/**
 * Headers of an entity without its body: a HEAD answer, whose `Content-Length` (in `headers`)
 * is that of the body a GET would get.
 */
export function sendHeaders(ctx: Ctx, status: number, headers: OutgoingHttpHeaders): void {
  ctx.res.writeHead(status, headers);
  ctx.res.end();
}

/** A body held in memory (manifests, lists, small JSON); HEAD gets the headers only. */
export function sendBytes(
  ctx: Ctx,
  status: number,
  body: Uint8Array,
  headers: OutgoingHttpHeaders,
): void {
  ctx.res.writeHead(status, { ...headers, 'Content-Length': String(body.byteLength) });
  if (ctx.req.method === 'HEAD') {
    ctx.res.end();
    return;
  }
  ctx.meter.bytesOut += body.byteLength;
  ctx.res.end(body);
}

/** A JSON document. */
export function sendJson(
  ctx: Ctx,
  status: number,
  value: unknown,
  headers: OutgoingHttpHeaders = {},
  contentType = 'application/json',
): void {
  sendBytes(ctx, status, Buffer.from(JSON.stringify(value)), {
    ...headers,
    'Content-Type': contentType,
  });
}

/**
 * Streams `body` (a blob from the store) to the client, never holding more than the streams'
 * buffers. A client that goes away ends the transfer quietly and the store's stream is
 * destroyed (no file handle stays open).
 *
 * A body that does not match the `Content-Length` already sent, because the store's stream
 * failed half-way, ended short or ran long, must not reach the client as a response that looks
 * complete: Node would end a short response as if it were whole (and keep the connection for
 * the next request, now mis-framed), and send the bytes of a long one past the length, where a
 * keep-alive client reads them as the start of its next response. So the bytes are counted as
 * they go by, a mismatch fails the transfer with `NV2_ERR_STORAGE_IO`, and a failed transfer
 * destroys the connection here (the client sees a connection error and fewer bytes than
 * announced) before the error is rethrown to the caller, which records it.
 *
 * The chunks go to the socket as they are, one write each, with no stage in between; a store
 * stream that takes its chunks back (`ReleasableChunks`) gets each one once the socket is done
 * with it, so a download reads into the same few buffers from start to end.
 */
export async function sendStream(
  ctx: Ctx,
  status: number,
  body: Readable,
  headers: OutgoingHttpHeaders,
): Promise<void> {
  const { res, meter } = ctx;
  res.writeHead(status, headers);
  const length = res.getHeader('Content-Length');
  const expected = length === undefined ? undefined : Number(length);
  const release = hasReleasableChunks(body) ? body.releaseChunk.bind(body) : undefined;
  let passed = 0;
  try {
    // Leaving the loop early (an error, a client gone) destroys `body`.
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (expected !== undefined && passed + chunk.byteLength > expected) {
        throw new StorageError(
          'NV2_ERR_STORAGE_IO',
          `the store's stream is longer than the ${expected} bytes announced`,
        );
      }
      if (res.destroyed) return; // the client went away
      passed += chunk.byteLength;
      meter.bytesOut += chunk.byteLength;
      const more = res.write(chunk, release === undefined ? undefined : () => release(chunk));
      if (!more && !(await drained(res))) return;
    }
    if (expected !== undefined && passed < expected) {
      throw new StorageError(
        'NV2_ERR_STORAGE_IO',
        `the store's stream ended after ${passed} of the ${expected} bytes announced`,
      );
    }
    res.end();
    await finished(res);
  } catch (err) {
    res.destroy();
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}

/** Waits until `res` takes more writes: true on `drain`, false when it closed instead. */
function drained(res: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/**
 * An RFC 8288 `Link` header to the next page of a list, as the spec's pagination shows it:
 * `</v2/…?n=…&last=…>; rel="next"`.
 */
export function nextLink(path: string, query: Record<string, string>): string {
  return `<${path}?${new URLSearchParams(query).toString()}>; rel="next"`;
}
