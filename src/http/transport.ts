import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { type ProxyConfig, proxyAuthorization, proxyFor } from './proxy.js';

/**
 * The one HTTP client of the library: Node's own HTTP client over keep-alive agents, used by
 * the registry client, admission, revocation (OCSP, CRL), the timestamp client and
 * certificate downloads. It is part of the runtime (its parser is native and its code is in
 * Node's startup snapshot), so a CLI run that makes four requests does not first load and
 * compile an HTTP library. It adds what every caller needs: per-request deadlines, extra CA
 * certificates, proxies (`proxy.ts`), and bodies that release their connection when
 * abandoned.
 */

/** A request as the transport sees it. Bodies are always buffered, so any request can be replayed. */
export interface TransportRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /**
   * Redirects are never followed by the transport: the registry client follows them itself
   * (dropping credentials across origins), and `getFollowingRedirects` does for plain downloads.
   */
  readonly redirect?: 'manual';
  /** Milliseconds the whole request may take, body included; default the transport's. */
  readonly deadlineMs?: number;
}

/** The parts of a `fetch` Response callers read. */
export interface TransportResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /** The body, streamed; null for bodiless answers. Returning its iterator early releases it. */
  readonly body: AsyncIterable<Uint8Array> | null;
}

/**
 * A `fetch`-shaped transport (STYLE.md habit 10: inject `fetch`). The default is
 * `createHttpTransport`; Node's global `fetch` also fits.
 */
export type FetchLike = (url: string, init: TransportRequest) => Promise<TransportResponse>;

/** Options of `createHttpTransport`. */
export interface HttpTransportOptions {
  /** CA certificates (PEM) trusted for HTTPS, instead of the system's (see `readCaFile`). */
  readonly ca?: readonly string[] | undefined;
  /** Accept any TLS certificate. */
  readonly insecure?: boolean | undefined;
  /** Milliseconds a connection may be silent (connecting, waiting, streaming) before it fails. */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * Milliseconds each request may take in all (connect, headers and body), unless the request
   * says otherwise; default none (only the idle timeout applies).
   */
  readonly deadlineMs?: number | undefined;
  /** Connections per origin at most (parallel requests beyond wait for one). */
  readonly maxSockets?: number | undefined;
  /**
   * Keep connections open for the next request (default true). Off for servers that serve one
   * connection at a time, such as `openssl ocsp`.
   */
  readonly keepAlive?: boolean | undefined;
  /** Proxies (`proxyFromEnv(process.env)`, as docker and notation honour them); default none. */
  readonly proxy?: ProxyConfig | undefined;
}

/** A transport and the agents it keeps connections in. */
export interface HttpTransport {
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

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
}

/**
 * An HTTPS agent whose connections go through an HTTP CONNECT tunnel of `proxy` (RFC 9110
 * §9.3.6): TLS runs end to end with the registry, the proxy sees only the host and port.
 * Tunnels are pooled and reused as any keep-alive connection.
 */
class TunnelAgent extends HttpsAgent {
  readonly #proxy: URL;
  readonly #connectTimeoutMs: number;

  constructor(options: ConstructorParameters<typeof HttpsAgent>[0], proxy: URL, timeoutMs: number) {
    super(options);
    this.#proxy = proxy;
    this.#connectTimeoutMs = timeoutMs;
  }

  override createConnection(
    options: Parameters<HttpsAgent['createConnection']>[0],
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const target = `${options.host ?? 'localhost'}:${String(options.port ?? 443)}`;
    const auth = proxyAuthorization(this.#proxy);
    const connect = (this.#proxy.protocol === 'https:' ? httpsRequest : httpRequest)({
      host: this.#proxy.hostname.replace(/^\[|\]$/g, ''),
      port: this.#proxy.port === '' ? undefined : Number(this.#proxy.port),
      method: 'CONNECT',
      path: target,
      agent: false,
      timeout: this.#connectTimeoutMs,
      headers: { host: target, ...(auth !== undefined ? { 'proxy-authorization': auth } : {}) },
    });
    const fail = (err: Error): void => callback?.(err, undefined as unknown as Duplex);
    connect.once('timeout', () => connect.destroy(timeoutError('no answer from the proxy')));
    connect.once('error', fail);
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        fail(
          Object.assign(
            new Error(
              `proxy ${this.#proxy.host} refused to connect to ${target}: HTTP ${String(res.statusCode)}`,
            ),
            { code: 'ECONNREFUSED' },
          ),
        );
        return;
      }
      const tls = super.createConnection({ ...options, socket } as typeof options);
      if (tls !== null && tls !== undefined) callback?.(null, tls);
    });
    connect.end();
    return undefined;
  }
}

/**
 * Creates an HTTP transport.
 *
 * @example
 * const transport = createHttpTransport({ deadlineMs: 5_000, proxy: proxyFromEnv(process.env) });
 * const res = await transport.fetch('http://127.0.0.1:5000/v2/', { method: 'GET', headers: {} });
 */
export function createHttpTransport(options: HttpTransportOptions = {}): HttpTransport {
  const maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const keepAlive = options.keepAlive ?? true;
  const tlsOptions = {
    keepAlive,
    maxSockets,
    ...(options.ca !== undefined ? { ca: [...options.ca] } : {}),
    rejectUnauthorized: options.insecure !== true,
  };
  const http = new HttpAgent({ keepAlive, maxSockets });
  const https = new HttpsAgent(tlsOptions);
  const httpsProxy = options.proxy?.httpsProxy;
  const tunnel =
    httpsProxy === undefined ? undefined : new TunnelAgent(tlsOptions, httpsProxy, idleTimeoutMs);

  const fetch: FetchLike = (url, init) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      const proxy = proxyFor(target, options.proxy);
      const headers: Record<string, string> = { ...init.headers };
      if (init.body !== undefined) headers['Content-Length'] = String(init.body.byteLength);
      else if (init.method === 'PUT' || init.method === 'POST' || init.method === 'PATCH') {
        headers['Content-Length'] = '0';
      }
      let req;
      if (proxy !== undefined && !secure) {
        // A plain-HTTP request goes to the proxy whole, with the absolute URL as its target.
        const auth = proxyAuthorization(proxy);
        if (auth !== undefined) headers['Proxy-Authorization'] = auth;
        req = (proxy.protocol === 'https:' ? httpsRequest : httpRequest)({
          host: proxy.hostname.replace(/^\[|\]$/g, ''),
          port: proxy.port === '' ? undefined : Number(proxy.port),
          path: target.href,
          method: init.method,
          headers: { Host: target.host, ...headers },
          agent: proxy.protocol === 'https:' ? https : http,
          timeout: idleTimeoutMs,
        });
      } else {
        req = (secure ? httpsRequest : httpRequest)(target, {
          method: init.method,
          headers,
          agent: secure ? (proxy !== undefined ? tunnel : https) : http,
          timeout: idleTimeoutMs,
        });
      }
      const deadlineMs = init.deadlineMs ?? options.deadlineMs;
      let response: IncomingMessage | undefined;
      const deadline =
        deadlineMs === undefined
          ? undefined
          : setTimeout(() => {
              const err = timeoutError(`no complete answer within ${deadlineMs / 1000} s`);
              if (response !== undefined) response.destroy(err);
              else req.destroy(err);
            }, deadlineMs);
      deadline?.unref();
      req.once('timeout', () => {
        req.destroy(timeoutError(`no answer for ${idleTimeoutMs / 1000} s`));
      });
      req.once('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      req.once('response', (res) => {
        response = res;
        res.once('close', () => clearTimeout(deadline));
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
      tunnel?.destroy();
    },
  };
}

/**
 * Reads a response body to its end, or undefined (the body released) when it is larger than
 * `maxBytes`: callers turn that into their own typed error. A null body reads as empty.
 */
export async function readBoundedBody(
  body: AsyncIterable<Uint8Array> | null,
  maxBytes: number,
): Promise<Buffer | undefined> {
  if (body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) return undefined;
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, total);
}

/** Redirects a plain download follows at most, as browsers and Go's client (10). */
export const MAX_REDIRECTS = 10;

/**
 * A GET that follows redirects (301, 302, 303, 307, 308), at most `MAX_REDIRECTS`, never from
 * https to http. For downloads of public documents (certificates); the registry client
 * follows its own redirects, as it must drop credentials across origins.
 *
 * @throws Error when a redirect has no Location, goes from https to http, or there are too many
 */
export async function getFollowingRedirects(
  fetch: FetchLike,
  url: string,
  init: Omit<TransportRequest, 'method' | 'body'> = { headers: {} },
): Promise<TransportResponse & { readonly url: string }> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await fetch(current.href, { ...init, method: 'GET' });
    if (![301, 302, 303, 307, 308].includes(res.status)) return { ...res, url: current.href };
    await res.body?.[Symbol.asyncIterator]().return?.();
    const location = res.headers.get('location');
    if (location === null) throw new Error(`HTTP ${res.status} without a Location`);
    const next = new URL(location, current);
    if (current.protocol === 'https:' && next.protocol !== 'https:') {
      throw new Error(`refusing a redirect from https to ${next.protocol.replace(':', '')}`);
    }
    if (hop + 1 > MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    current = next;
  }
}
