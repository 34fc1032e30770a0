import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HandlerContext } from './routes.js';

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
 * destroyed (no file handle stays open); a store stream failing half-way rethrows, and the
 * caller's error path then destroys the connection (a truncated body must not look complete).
 */
export async function sendStream(
  ctx: Ctx,
  status: number,
  body: Readable,
  headers: OutgoingHttpHeaders,
): Promise<void> {
  const meter = ctx.meter;
  ctx.res.writeHead(status, headers);
  try {
    const done = pipeline(body, ctx.res);
    // Counted as the chunks go by, without a stream stage of its own: a listener added after
    // `pipeline` has piped `body` changes nothing in its flow or backpressure.
    body.on('data', (chunk: Buffer | string) => {
      meter.bytesOut += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    });
    await done;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}

/**
 * An RFC 8288 `Link` header to the next page of a list, as the spec's pagination shows it:
 * `</v2/…?n=…&last=…>; rel="next"`.
 */
export function nextLink(path: string, query: Record<string, string>): string {
  return `<${path}?${new URLSearchParams(query).toString()}>; rel="next"`;
}
