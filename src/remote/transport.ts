import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { FetchLike, TransportResponse } from './http.js';

/**
 * The default transport: Node's own HTTP client over keep-alive agents. It is part of the
 * runtime (its parser is native and its code is in Node's startup snapshot), so a CLI run
 * that makes four requests does not first load and compile an HTTP library.
 */

/** Options of `createNodeTransport`. */
export interface NodeTransportOptions {
  /** CA certificates (PEM) trusted for HTTPS; default the system's. */
  readonly ca?: readonly string[] | undefined;
  /** Accept any TLS certificate. */
  readonly insecure?: boolean | undefined;
  /** Milliseconds a connection may be silent (connecting, waiting, streaming) before it fails. */
  readonly idleTimeoutMs?: number | undefined;
  /** Connections per origin at most (parallel requests beyond wait for one). */
  readonly maxSockets?: number | undefined;
}

/** A transport and the agents it keeps connections in. */
export interface NodeTransport {
  readonly fetch: FetchLike;
  /** Closes idle connections and refuses to keep more. */
  close(): void;
}

/** Default silence allowed on a connection: five minutes, as undici's body and header timeouts. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;

/** Default connections per origin: enough for parallel signature fetches and blob copies. */
export const DEFAULT_MAX_SOCKETS = 16;

/** Responses that never have a body (RFC 9110): fetch gives them a null body too. */
function bodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

function headersOf(res: IncomingMessage): TransportResponse['headers'] {
  return {
    get(name) {
      const value = res.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/** Bodies up to this size are drained when abandoned, so that their connection is reused. */
const DRAIN_MAX_BYTES = 64 * 1024;

/**
 * A response body whose iterator, returned before the end (a body discarded unread or read in
 * part), releases the connection: small bodies are drained so the connection goes back to
 * the pool, larger ones are destroyed. (A stream's own iterator, returned before its first
 * read, does neither, and the connection would stay busy until the process exits.)
 */
function bodyOf(res: IncomingMessage): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      const inner = res[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      return {
        next: () => inner.next(),
        async return() {
          if (!res.readableEnded) {
            const length = Number(res.headers['content-length'] ?? Number.NaN);
            if (res.complete || length <= DRAIN_MAX_BYTES) res.resume();
            else res.destroy();
          }
          await inner.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/**
 * Creates the node:http transport.
 *
 * @example
 * const transport = createNodeTransport({ insecure: false });
 * const res = await transport.fetch('http://127.0.0.1:5000/v2/', { method: 'GET', headers: {}, redirect: 'manual' });
 */
export function createNodeTransport(options: NodeTransportOptions = {}): NodeTransport {
  const maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const http = new HttpAgent({ keepAlive: true, maxSockets });
  const https = new HttpsAgent({
    keepAlive: true,
    maxSockets,
    ...(options.ca !== undefined ? { ca: [...options.ca] } : {}),
    rejectUnauthorized: options.insecure !== true,
  });
  const fetch: FetchLike = (url, init) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const secure = url.startsWith('https:');
      const headers: Record<string, string> = { ...init.headers };
      if (init.body !== undefined) headers['Content-Length'] = String(init.body.byteLength);
      else if (init.method === 'PUT' || init.method === 'POST' || init.method === 'PATCH') {
        headers['Content-Length'] = '0';
      }
      const req = (secure ? httpsRequest : httpRequest)(url, {
        method: init.method,
        headers,
        agent: secure ? https : http,
        timeout: idleTimeoutMs,
      });
      req.once('timeout', () => {
        req.destroy(
          Object.assign(new Error(`no answer for ${idleTimeoutMs / 1000} s`), {
            code: 'ETIMEDOUT',
          }),
        );
      });
      req.once('error', reject);
      req.once('response', (res) => {
        const empty = bodiless(init.method, res.statusCode ?? 0);
        if (empty) res.resume();
        resolve({
          status: res.statusCode ?? 0,
          headers: headersOf(res),
          body: empty ? null : bodyOf(res),
        });
      });
      req.end(init.body);
    });
  return {
    fetch,
    close() {
      http.destroy();
      https.destroy();
    },
  };
}
