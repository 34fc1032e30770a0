import type { IncomingMessage } from 'node:http';
import type { Meter } from './handler.js';
import { ApiError } from './errors.js';

/** Reading requests: bodies (streamed and counted), lengths, ranges and paging parameters. */

/**
 * The request body as an async iterable that counts bytes into `meter.bytesIn`. Ending the
 * iteration early (a store refusing a chunk) leaves the request alive: Node reads and drops the
 * rest after the response, so the client still gets the error instead of a reset connection.
 */
export async function* countedBody(
  req: IncomingMessage,
  meter: Meter,
): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    meter.bytesIn += chunk.byteLength;
    yield chunk;
  }
}

/** The declared body length (`Content-Length`), or undefined. Node has already checked the syntax. */
export function contentLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const value = Number(header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Whether the request carries a body: a non-zero length, or a chunked one. */
export function hasBody(req: IncomingMessage): boolean {
  const length = contentLength(req);
  if (length !== undefined) return length > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * A chunk's `Content-Range` on PATCH or PUT of an upload. The spec's form is `<start>-<end>`
 * (inclusive, `^[0-9]+-[0-9]+$`); the HTTP form `bytes <start>-<end>/<total|*>` is accepted
 * too. Undefined when the header is absent.
 *
 * @throws ApiError RANGE_INVALID (416) for any other form, or an end before the start.
 */
export function parseContentRange(
  header: string | undefined,
  errorHeaders: Readonly<Record<string, string>>,
): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:\/(?:\d{1,15}|\*))?$/.exec(header.trim());
  const start = m === null ? NaN : Number(m[1]);
  const end = m === null ? NaN : Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new ApiError('RANGE_INVALID', {
      message: 'invalid Content-Range',
      headers: errorHeaders,
    });
  }
  return { start, end };
}

/** A byte range of a blob to serve, inclusive. */
export interface ServedRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The range a blob GET asks for (RFC 9110 §14): undefined to serve the whole blob (no
 * `Range`, a syntax this server ignores, several ranges, or an `If-Range` that does not match
 * the ETag), `'unsatisfiable'` for a range wholly past the end.
 */
export function parseRange(
  req: IncomingMessage,
  size: number,
  etag: string,
): ServedRange | 'unsatisfiable' | undefined {
  const header = req.headers.range;
  if (header === undefined) return undefined;
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && ifRange !== etag) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null) return undefined; // several ranges or another unit: ignored, RFC 9110 allows it
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '') {
    if (last === '') return undefined;
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return undefined; // syntactically invalid: ignored
  return { start, end };
}

/**
 * The page size `n` of a list request: undefined when absent, else a non-negative integer,
 * clamped to `max` (a larger page is answered with `max` entries and a `Link` to the rest,
 * which the spec allows).
 *
 * @throws ApiError PAGINATION_NUMBER_INVALID when `n` is not a non-negative integer.
 */
export function parsePageSize(query: URLSearchParams, max: number): number | undefined {
  const raw = query.get('n');
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new ApiError('PAGINATION_NUMBER_INVALID', { detail: { n: raw.slice(0, 32) } });
  }
  return Math.min(Number(raw), max);
}

/**
 * Whether `If-None-Match` names the entity (quoted or not, as distribution accepts), so a 304
 * can be answered.
 */
export function etagMatches(req: IncomingMessage, digest: string): boolean {
  const header = req.headers['if-none-match'];
  if (header === undefined) return false;
  return header
    .split(',')
    .map((v) => v.trim().replace(/^W\//, ''))
    .some((v) => v === '*' || v === digest || v === `"${digest}"`);
}
