import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { InvalidInputError, VerificationInconclusiveError } from '../errors.js';
import { DEFAULT_REGISTRY, isRegistryHost, registryHostname } from '../oci/index.js';
import { Authorizer } from './auth/authorizer.js';
import type { CredentialProvider } from './auth/credential.js';
import {
  type FetchLike,
  type HttpTransport,
  type ProxyConfig,
  type TransportResponse,
  createHttpTransport,
  readCaFile,
} from '../http/index.js';
import type { RegistryResponse } from './http.js';
import { discard, displayUrl, responseError } from './http.js';

/**
 * The registry HTTP client: scheme selection, authentication (docker token auth and basic),
 * retries, redirects and keep-alive connections, under `Repository`. One client serves any
 * number of registries and repositories and should be shared: it holds the connection pool and
 * the token cache. Close it when done.
 *
 * What it does on every request:
 * - HTTPS, except plain HTTP when asked and, as docker does, for `localhost`, `127.0.0.1` and
 *   `[::1]` on any port.
 * - `docker.io` is served by `registry-1.docker.io`.
 * - A 401 is answered once: the challenge is parsed, a token fetched (or basic credentials
 *   sent), the request repeated. Tokens are cached per registry and scope set.
 * - Idempotent requests (GET, HEAD, and PUTs the caller marks so, such as manifests) are
 *   retried on 429, 502, 503, 504 and connection resets, with exponential backoff and jitter or
 *   as `Retry-After` says, at most `maxAttempts` times in all. Bodies are buffered, so a retry
 *   sends the same bytes.
 * - Redirects of GET and HEAD are followed (blobs are often served from storage), at most
 *   `MAX_REDIRECTS`; credentials are never sent to another origin, and https never redirects
 *   to http.
 *
 * Why this file is long: the request loop is one piece (authentication, retries, redirects and
 * the buffered bodies a retry resends act on every request and on each other), and the helpers
 * here (error wording, Retry-After, body guards) serve only that loop.
 */

/** HTTP methods the registry API uses. */
export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** Options of `createRegistryClient`. */
export interface RegistryClientOptions {
  /** Where credentials come from (see `defaultCredentials`); anonymous when absent. */
  readonly credentials?: CredentialProvider | undefined;
  /**
   * Plain HTTP: for every registry (`true`), none (`false`), or those a function picks. Default:
   * only loopback registries (`localhost`, `127.0.0.1`, `[::1]`, any port).
   */
  readonly plainHttp?: boolean | ((registry: string) => boolean) | undefined;
  /** Accept any TLS certificate (self-signed test registries). Never for production. */
  readonly insecure?: boolean | undefined;
  /** A PEM file of CA certificates to trust besides the system's. */
  readonly caFile?: string | undefined;
  /** Proxies (`proxyFromEnv(process.env)`, as docker honours them); default none. */
  readonly proxy?: ProxyConfig | undefined;
  /**
   * Milliseconds each request may take in all (connect, headers, body), each attempt and
   * redirect counted apart; default none (a request fails after five silent minutes).
   */
  readonly requestDeadlineMs?: number | undefined;
  /**
   * The transport; default `createHttpTransport` built from `caFile`, `insecure`, `proxy` and
   * `requestDeadlineMs` (which an injected transport must handle itself).
   */
  readonly fetch?: FetchLike | undefined;
  /** `User-Agent`; default `nv2/<version>`. */
  readonly userAgent?: string | undefined;
  /** Attempts per idempotent request, the first included (default `DEFAULT_MAX_ATTEMPTS`). */
  readonly maxAttempts?: number | undefined;
  /** Waits between attempts; inject to test retries without waiting. */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  /** Jitter source in [0, 1); default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** The clock (ms since the epoch) for token expiry and `Retry-After` dates. */
  readonly now?: (() => number) | undefined;
}

/** One request to a registry. */
export interface RegistryRequest {
  /** The registry as references name it (`docker.io`, `host:5000`): keys credentials and tokens. */
  readonly registry: string;
  readonly method: HttpMethod;
  /** Absolute URL: `client.url(registry, path)`, or a `Location` the registry gave. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** Token scopes the request needs (`repository:NAME:pull`). */
  readonly scopes?: readonly string[];
  /** Whether sending it twice is harmless; default true for GET and HEAD only. */
  readonly idempotent?: boolean;
}

/** A registry HTTP client. */
export interface RegistryClient {
  /** The URL of `path` (`/v2/…`) on `registry`, with the scheme this client uses for it. */
  url(registry: string, path: string): string;
  /**
   * Sends a request: authenticated, retried and redirected as described above. Resolves with
   * whatever status the registry answered; the caller decides what is an error.
   *
   * @throws VerificationInconclusiveError NV2_ERR_REGISTRY_UNREACHABLE when no answer came
   * @throws RegistryResponseError when a token server refused
   */
  send(request: RegistryRequest): Promise<RegistryResponse>;
  /**
   * Checks that `registry` speaks the distribution API and accepts this client's credentials
   * (`GET /v2/`), as `docker login` does before storing them.
   *
   * @throws RegistryResponseError NV2_ERR_REGISTRY_UNAUTHORIZED, …
   */
  ping(registry: string): Promise<void>;
  /** Waits before retry `attempt` (1-based), with the client's backoff, jitter and clock. */
  backoff(attempt: number): Promise<void>;
  /** Closes the connection pool. */
  close(): Promise<void>;
}

/** Attempts per idempotent request by default: the first and three retries. */
export const DEFAULT_MAX_ATTEMPTS = 4;

/** First backoff; doubled on each further attempt. */
const BACKOFF_BASE_MS = 250;

/** Longest backoff between two attempts. */
const MAX_BACKOFF_MS = 8_000;

/**
 * Longest `Retry-After` honoured; a registry asking for more is answered with the error now
 * instead of a process that hangs for minutes.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Redirects followed per request (distribution redirects blob reads to storage once). */
export const MAX_REDIRECTS = 5;

/** Statuses that mean "try again later" (distribution-spec TOOMANYREQUESTS, gateways). */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Network errors after which an idempotent request is sent again: the connection broke. */
const RETRY_NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Registries docker talks plain HTTP to without being told. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Docker Hub's API host: `docker.io` names it in references only. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

let cachedVersion: string | undefined;

/** nv2's version, from the package.json above this module (dist/, .build/ or the CLI bundle). */
function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = '0.0.0-dev';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'nv2' && typeof pkg.version === 'string') {
        cachedVersion = pkg.version;
        break;
      }
    } catch {
      // not here: look one directory up
    }
    dir = dirname(dir);
  }
  return cachedVersion;
}

/** The first `code` along an error's cause chain (fetch wraps socket errors in "fetch failed"). */
function errorCode(err: unknown): string | undefined {
  let current = err;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested) && nested.length > 0) {
      const inner = errorCode(nested[0]);
      if (inner !== undefined) return inner;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The innermost message of an error's cause chain. */
function rootMessage(err: unknown): string {
  let current = err;
  let message = String(err);
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    message = current.message;
    current = current.cause;
  }
  return message;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The inconclusive error for a request that got no answer, with a hint where one helps. */
function unreachable(method: string, url: string, err: unknown): VerificationInconclusiveError {
  const code = errorCode(err);
  let reason = rootMessage(err);
  if (code === 'ECONNREFUSED') reason = 'connection refused';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') reason = 'host not found';
  else if (code !== undefined && TLS_CODES.has(code)) {
    reason = `TLS: ${reason} (trust the registry's CA with a CA file, or skip verification with --insecure)`;
  } else if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(reason)) {
    reason = `TLS handshake failed: ${reason} (does the registry speak plain HTTP? use --plain-http)`;
  }
  return new VerificationInconclusiveError(
    'NV2_ERR_REGISTRY_UNREACHABLE',
    `${method} ${displayUrl(url)}: ${reason}${code !== undefined && !reason.includes(code) ? ` (${code})` : ''}`,
    { cause: err },
  );
}

/** `Retry-After` (delay-seconds or an HTTP date) in ms from `now`; undefined when absent or bad. */
function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * A body whose read errors become NV2_ERR_REGISTRY_UNREACHABLE. Returning its iterator returns
 * the transport's (which cancels the stream), even before the first read.
 */
function guardBody(
  body: AsyncIterable<Uint8Array>,
  method: string,
  url: string,
): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      const inner = body[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            return await inner.next();
          } catch (err) {
            throw unreachable(method, url, err);
          }
        },
        async return() {
          try {
            await inner.return?.();
          } catch {
            // cancelling a broken stream: nothing more to do
          }
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** Wraps a transport response as the client's. */
function wrapResponse(method: string, url: string, res: TransportResponse): RegistryResponse {
  return {
    method,
    url,
    status: res.status,
    header: (name) => res.headers.get(name) ?? undefined,
    body: res.body === null ? null : guardBody(res.body, method, url),
  };
}

/**
 * Creates a registry client.
 *
 * @example
 * const client = createRegistryClient({ credentials: defaultCredentials({ env: process.env }) });
 * const repo = new Repository('registry.example.com', 'app', { client });
 * const desc = await repo.resolve('v1');
 * await client.close();
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for a bad `maxAttempts`
 */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `maxAttempts must be an integer from 1 to 10, not ${String(maxAttempts)}`,
    );
  }
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms).then(() => undefined));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const userAgent = options.userAgent ?? `nv2/${packageVersion()}`;
  let httpTransport: HttpTransport | undefined;
  let transport: Promise<FetchLike> | undefined;

  const getTransport = (): Promise<FetchLike> => {
    if (options.fetch !== undefined) return Promise.resolve(options.fetch);
    transport ??= (async () => {
      const ca = options.caFile === undefined ? undefined : readCaFile(options.caFile);
      httpTransport = createHttpTransport({
        ca,
        insecure: options.insecure,
        proxy: options.proxy,
        deadlineMs: options.requestDeadlineMs,
      });
      return httpTransport.fetch;
    })();
    return transport;
  };

  const backoffMs = (attempt: number): number => {
    const full = Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), MAX_BACKOFF_MS);
    // "Equal jitter": half the delay fixed, half random, so that clients spread out.
    return full / 2 + random() * (full / 2);
  };

  /** One exchange with retries (no authentication, no redirects). */
  const exchange = async (
    method: string,
    url: string,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    idempotent: boolean,
  ): Promise<RegistryResponse> => {
    const send = await getTransport();
    for (let attempt = 1; ; attempt++) {
      let res: TransportResponse;
      try {
        res = await send(url, {
          method,
          headers,
          redirect: 'manual',
          ...(body !== undefined ? { body } : {}),
        });
      } catch (err) {
        const code = errorCode(err);
        if (
          idempotent &&
          attempt < maxAttempts &&
          code !== undefined &&
          RETRY_NETWORK_CODES.has(code)
        ) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw unreachable(method, url, err);
      }
      if (idempotent && attempt < maxAttempts && RETRY_STATUSES.has(res.status)) {
        const wait = retryAfterMs(res.headers.get('retry-after'), now()) ?? backoffMs(attempt);
        if (wait <= MAX_RETRY_AFTER_MS) {
          await discard(res.body);
          await sleep(wait);
          continue;
        }
      }
      return wrapResponse(method, url, res);
    }
  };

  const url = (registry: string, path: string): string => {
    if (!isRegistryHost(registry)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_REFERENCE',
        `invalid registry ${JSON.stringify(registry)}`,
      );
    }
    const host = registry === DEFAULT_REGISTRY ? DOCKER_HUB_API_HOST : registry;
    const plain =
      typeof options.plainHttp === 'boolean'
        ? options.plainHttp
        : typeof options.plainHttp === 'function'
          ? options.plainHttp(registry)
          : LOOPBACK_HOSTS.has(registryHostname(registry).toLowerCase());
    return `${plain ? 'http' : 'https'}://${host}${path}`;
  };

  const authorizer = new Authorizer({
    credentials: options.credentials,
    now,
    send: (method, target, headers, body) =>
      exchange(method, target, { 'User-Agent': userAgent, ...headers }, body, true),
  });

  const send = async (request: RegistryRequest): Promise<RegistryResponse> => {
    const registryOrigin = new URL(url(request.registry, '/')).origin;
    const scopes = request.scopes ?? [];
    const idempotent =
      request.idempotent ?? (request.method === 'GET' || request.method === 'HEAD');
    const follow = request.method === 'GET' || request.method === 'HEAD';
    let target = request.url;
    let authorization =
      new URL(target).origin === registryOrigin
        ? await authorizer.authorization(request.registry, scopes)
        : undefined;
    let challenged = false;
    let note: string | undefined;
    for (let redirects = 0; ;) {
      const sameOrigin = new URL(target).origin === registryOrigin;
      const headers: Record<string, string> = {
        'User-Agent': userAgent,
        // Bytes as stored: digests are of the content, not of a re-encoding.
        'Accept-Encoding': 'identity',
        ...request.headers,
      };
      if (sameOrigin && authorization !== undefined) headers['Authorization'] = authorization;
      const res = await exchange(request.method, target, headers, request.body, idempotent);
      if (res.status === 401 && sameOrigin && !challenged) {
        challenged = true;
        const answer = await authorizer.challenge(
          request.registry,
          scopes,
          res.header('www-authenticate'),
          authorization,
        );
        note = answer.note;
        if (answer.authorization !== undefined) {
          await discard(res.body);
          authorization = answer.authorization;
          continue;
        }
      }
      if (res.status === 401) return note !== undefined ? { ...res, authNote: note } : res;
      const location = res.header('location');
      if (follow && [301, 302, 303, 307, 308].includes(res.status) && location !== undefined) {
        if (redirects >= MAX_REDIRECTS) return res;
        const next = new URL(location, target);
        if (new URL(target).protocol === 'https:' && next.protocol !== 'https:') {
          await discard(res.body);
          throw unreachable(
            request.method,
            target,
            new Error(`refusing a redirect from https to ${next.protocol.replace(':', '')}`),
          );
        }
        await discard(res.body);
        target = next.href;
        redirects++;
        continue;
      }
      return res;
    }
  };

  return {
    url,
    send,
    async ping(registry) {
      const res = await send({ registry, method: 'GET', url: url(registry, '/v2/'), scopes: [] });
      if (res.status === 200) {
        await discard(res.body);
        return;
      }
      throw await responseError(
        res,
        `checking ${registry}`,
        res.status === 404 ? 'NV2_ERR_REGISTRY_RESPONSE' : undefined,
      );
    },
    backoff: (attempt) => sleep(backoffMs(attempt)),
    async close() {
      httpTransport?.close();
    },
  };
}
