import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Meter } from '../api/handler.js';
import { ASSETS } from './assets.js';
import type { Html } from './html.js';
import { SESSION_COOKIE } from './sessions.js';

/**
 * The HTTP side of the UI (ui.ts): its responses with their security headers, the static
 * assets, what sign-in needs from a request (same-origin check, form, session cookie), and
 * the decoding of a page's path.
 */

/** Most bytes of a sign-in form read. */
const MAX_FORM_BYTES = 8 * 1024;

const CSP =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers of every UI response. */
const COMMON_HEADERS = {
  'Content-Security-Policy': CSP,
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Sends an HTML page (the body only for GET). */
export function sendPage(
  req: IncomingMessage,
  res: ServerResponse,
  meter: Meter,
  status: number,
  page: Html,
  headers: Record<string, string | string[]> = {},
): void {
  const body = Buffer.from(page.text);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(body.byteLength),
    ...headers,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  meter.bytesOut += body.byteLength;
  res.end(body);
}

/** A 303 to `location`. */
export function redirect(
  res: ServerResponse,
  location: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(303, {
    ...COMMON_HEADERS,
    Location: location,
    'Content-Length': '0',
    ...headers,
  });
  res.end();
}

/** Sends the static asset `name`, revalidated by its ETag; false when there is none. */
export function sendAsset(
  req: IncomingMessage,
  res: ServerResponse,
  meter: Meter,
  name: string,
): boolean {
  const asset = ASSETS.get(name);
  if (asset === undefined) return false;
  const headers = {
    ...COMMON_HEADERS,
    'Cache-Control': 'no-cache',
    'Content-Type': asset.contentType,
    ETag: asset.etag,
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  res.writeHead(200, { ...headers, 'Content-Length': String(asset.body.byteLength) });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  meter.bytesOut += asset.body.byteLength;
  res.end(asset.body);
  return true;
}

/**
 * Whether a POST comes from a page of this registry: its `Origin` (or, without one, its
 * `Referer`) must be this server. With SameSite=Strict cookies this closes cross-site
 * request forgery, login CSRF included.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
  const scheme = (req.socket as TLSSocket).encrypted === true ? 'https' : 'http';
  const host = req.headers.host;
  if (host === undefined) return false;
  const expected = `${scheme}://${host}`;
  const origin = req.headers.origin;
  if (origin !== undefined) return origin === expected;
  const referer = req.headers.referer;
  return referer !== undefined && (referer === expected || referer.startsWith(`${expected}/`));
}

/** The session cookie: `value` for `maxAgeSeconds` (0 ends it). */
export function sessionCookie(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
  const secure = (req.socket as TLSSocket).encrypted === true ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/ui/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

/** A sign-in form's fields; undefined when it is not a small URL-encoded form. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Percent-decodes a UI path tail; undefined when malformed. */
export function decodePath(tail: string): string | undefined {
  try {
    return decodeURIComponent(tail);
  } catch {
    return undefined;
  }
}
