import type { Nv2ErrorCode, RegistryErrorInfo } from '../errors.js';
import { RegistryResponseError } from '../errors.js';

/**
 * What every part of the registry client shares about HTTP (the transport is `http/`'s): the
 * response it hands around, bounded body reads, and the one function that turns an unwanted
 * answer into a `RegistryResponseError`.
 */

/** A registry's answer, after authentication, retries and redirects. */
export interface RegistryResponse {
  readonly method: string;
  /** The URL that answered (after redirects). */
  readonly url: string;
  readonly status: number;
  /** A response header, or undefined when absent. */
  header(name: string): string | undefined;
  /** The body, streamed; null for HEAD and bodiless answers. Consume it or `discard` it. */
  readonly body: AsyncIterable<Uint8Array> | null;
  /**
   * For a 401: what the client knows about why (no credentials, refused credentials), added to
   * the error message.
   */
  readonly authNote?: string;
}

/**
 * At most this much of an error body is read (oras-go's `internal/errutil`: 8 KiB): enough for
 * any distribution-spec error envelope, and a hostile registry cannot make us read more.
 */
export const MAX_ERROR_BODY_BYTES = 8 * 1024;

/** Reads a body to its end, refusing more than `maxBytes`; null bodies read as empty. */
export async function readBody(
  response: RegistryResponse,
  maxBytes: number,
  what: string,
): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      throw new RegistryResponseError(
        'NV2_ERR_REGISTRY_RESPONSE',
        `${response.method} ${displayUrl(response.url)}: ${what} is larger than the ${maxBytes} bytes allowed`,
        {
          method: response.method,
          url: displayUrl(response.url),
          status: response.status,
          errors: [],
        },
      );
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, total);
}

/** Releases a body without reading it (cancels the stream, so the connection is not held). */
export async function discard(body: AsyncIterable<Uint8Array> | null): Promise<void> {
  if (body === null) return;
  try {
    await body[Symbol.asyncIterator]().return?.();
  } catch {
    // Nothing to do: the body is being thrown away.
  }
}

/**
 * A URL as shown in messages: origin and path, the query elided. Upload locations carry
 * session state and storage redirects carry signatures in their queries; neither belongs in
 * a log line.
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search !== '' ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** The nv2 code for an HTTP status a registry answered with (and the codes it sent). */
function codeForStatus(status: number, errors: readonly RegistryErrorInfo[]): Nv2ErrorCode {
  if (status === 404) return 'NV2_ERR_CONTENT_NOT_FOUND';
  if (status === 401) return 'NV2_ERR_REGISTRY_UNAUTHORIZED';
  if (status === 403) return 'NV2_ERR_REGISTRY_DENIED';
  if (status === 405 || errors.some((e) => e.code === 'UNSUPPORTED')) {
    return 'NV2_ERR_REGISTRY_UNSUPPORTED';
  }
  if (status === 429 || status >= 500) return 'NV2_ERR_REGISTRY_UNAVAILABLE';
  if (status >= 400) return 'NV2_ERR_REGISTRY_REJECTED';
  return 'NV2_ERR_REGISTRY_RESPONSE';
}

/** Longest error message or detail text quoted from a registry. */
const MAX_QUOTED_TEXT = 300;

/** Text from a registry made safe to print: no control characters, bounded. */
function quote(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > MAX_QUOTED_TEXT ? `${clean.slice(0, MAX_QUOTED_TEXT)}…` : clean;
}

/** Decodes a distribution-spec error envelope; anything else decodes to no errors. */
function decodeErrors(body: Buffer): RegistryErrorInfo[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  const out: RegistryErrorInfo[] = [];
  for (const entry of errors.slice(0, 16)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    const code = typeof e['code'] === 'string' ? quote(e['code']) : 'UNKNOWN';
    const message = typeof e['message'] === 'string' ? quote(e['message']) : '';
    out.push(
      e['detail'] !== undefined ? { code, message, detail: e['detail'] } : { code, message },
    );
  }
  return out;
}

/**
 * Turns an answer the caller did not want into a `RegistryResponseError`, reading at most
 * `MAX_ERROR_BODY_BYTES` of its body (the rest is discarded). The message is
 * `METHOD URL: STATUS CODE: message[; CODE: message…]`, then what was being done (`context`)
 * and, for a 401, what the client knows about the credentials.
 */
export async function responseError(
  response: RegistryResponse,
  context?: string,
  code?: Nv2ErrorCode,
): Promise<RegistryResponseError> {
  let body = Buffer.alloc(0);
  if (response.body !== null) {
    const chunks: Buffer[] = [];
    let total = 0;
    const iterator = response.body[Symbol.asyncIterator]();
    try {
      while (total < MAX_ERROR_BODY_BYTES) {
        const next = await iterator.next();
        if (next.done === true) break;
        chunks.push(Buffer.from(next.value));
        total += next.value.byteLength;
      }
    } catch {
      // A body that breaks off still leaves a status to report.
    } finally {
      await iterator.return?.().catch(() => undefined);
    }
    body = Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES);
  }
  const errors = decodeErrors(body);
  const url = displayUrl(response.url);
  let what: string;
  if (errors.length > 0) {
    what = errors.map((e) => (e.message !== '' ? `${e.code}: ${e.message}` : e.code)).join('; ');
  } else {
    const text = body.length > 0 ? quote(body.toString('utf8')) : '';
    what = text !== '' ? text : (STATUS_TEXT[response.status] ?? 'unexpected response');
  }
  let message = `${response.method} ${url}: ${response.status} ${what}`;
  if (context !== undefined) message += ` (${context})`;
  if (response.authNote !== undefined) message += `; ${response.authNote}`;
  return new RegistryResponseError(code ?? codeForStatus(response.status, errors), message, {
    method: response.method,
    url,
    status: response.status,
    errors,
  });
}

/** Reason phrases for the statuses registries answer with, for bodiless (HEAD) answers. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
