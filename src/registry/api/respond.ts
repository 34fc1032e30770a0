import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError } from '../../errors.js';
import type { HandlerContext, Meter } from './handler.js';

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
 * they go by, a mismatch fails the transfer, and a failed transfer destroys the connection
 * here (the client sees a connection error and fewer bytes than announced) before the error
 * is rethrown to the caller, which records it.
 */
export async function sendStream(
  ctx: Ctx,
  status: number,
  body: Readable,
  headers: OutgoingHttpHeaders,
): Promise<void> {
  ctx.res.writeHead(status, headers);
  const length = ctx.res.getHeader('Content-Length');
  try {
    await pipeline(
      body,
      checkLength(ctx.meter, length === undefined ? undefined : Number(length)),
      ctx.res,
    );
  } catch (err) {
    ctx.res.destroy();
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}

/**
 * The stage between the store and the response: counts every byte passed into
 * `meter.bytesOut`, and fails with `NV2_ERR_STORAGE_IO` as soon as the body would go past
 * `expected` bytes, or when it ends before them.
 */
function checkLength(meter: Meter, expected: number | undefined): Transform {
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (expected !== undefined && passed + chunk.byteLength > expected) {
        done(
          new StorageError(
            'NV2_ERR_STORAGE_IO',
            `the store's stream is longer than the ${expected} bytes announced`,
          ),
        );
        return;
      }
      passed += chunk.byteLength;
      meter.bytesOut += chunk.byteLength;
      done(null, chunk);
    },
    flush(done) {
      if (expected !== undefined && passed < expected) {
        done(
          new StorageError(
            'NV2_ERR_STORAGE_IO',
            `the store's stream ended after ${passed} of the ${expected} bytes announced`,
          ),
        );
        return;
      }
      done();
    },
  });
}

/**
 * An RFC 8288 `Link` header to the next page of a list, as the spec's pagination shows it:
 * `</v2/…?n=…&last=…>; rel="next"`.
 */
export function nextLink(path: string, query: Record<string, string>): string {
  return `<${path}?${new URLSearchParams(query).toString()}>; rel="next"`;
}
