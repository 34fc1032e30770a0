import type { ServerResponse } from 'node:http';
import { StorageError } from '../../errors.js';
import type { ErrorCode } from '../../oci/index.js';
import { ERROR_CODES, errorBody } from '../../oci/index.js';
import { RegistryError } from '../storage/store.js';

/**
 * The one place that writes error responses (STYLE.md habit 4, as distribution's
 * `errcode.ServeJSON`): every failure of a request, whatever threw it, is turned into the
 * distribution-spec envelope `{"errors":[{code,message,detail}]}` here, with the HTTP status
 * of its code in `ERROR_CODES`.
 *
 * Domain errors are mapped at this edge and nowhere else:
 * - `ApiError`: what the HTTP layer itself found wrong (a name, a digest, a query parameter).
 * - `RegistryError`: what the storage layer found the client did wrong; its code and detail
 *   are client-facing by contract (`store.ts`).
 * - `StorageError` NV2_ERR_STORAGE_NOT_FOUND: a path vanished under the store (a race with a
 *   delete or garbage collection); answered with the route's "unknown" code, without detail.
 * - Anything else, other `StorageError`s included: 500 UNKNOWN with the default message and
 *   no detail. The error itself goes to the request record (`cause`) for the logs, never to
 *   the client, so storage paths and host errors do not leak.
 */

/**
 * HTTP statuses the spec fixes for situations its codes do not cover, and the only statuses
 * an `ApiError` may carry besides its code's own:
 * - 404 for a path that is no endpoint (with UNSUPPORTED: the spec lists no "not found" code);
 * - 413 for a manifest over the size limit ("Pushing Manifests": registries SHOULD answer
 *   413 Payload Too Large; the body still has to carry one of the spec's codes).
 */
export type StatusOverride = 404 | 413;

/** A failure the HTTP layer detected, with the distribution-spec code it is answered with. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** The HTTP status: the code's own unless overridden (see `StatusOverride`). */
  readonly status: number;
  /** Headers the error response carries (e.g. `Range` on a 416 for an upload). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    options: {
      message?: string;
      detail?: unknown;
      status?: StatusOverride;
      headers?: Readonly<Record<string, string>>;
    } = {},
  ) {
    super(options.message ?? ERROR_CODES[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.detail = options.detail;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.headers = options.headers ?? {};
  }
}

/** What `writeError` answered. */
export interface WrittenError {
  readonly code: ErrorCode;
  readonly status: number;
  /** Body bytes written (0 for HEAD, whose body Node drops). */
  readonly bytes: number;
  /** The failure behind a 5xx, for the logs (never sent to the client). */
  readonly cause?: unknown;
}

/** Response headers an error response keeps; every other header a handler set is dropped. */
const KEPT_HEADERS = new Set(['docker-distribution-api-version', 'x-content-type-options']);

/**
 * Maps any thrown value to the error the client gets. `notFound` is the route's "unknown" code
 * (BLOB_UNKNOWN, MANIFEST_UNKNOWN, …), used when a StorageError NOT_FOUND leaks from the store.
 */
export function toApiError(err: unknown, notFound?: ErrorCode): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof RegistryError) {
    // RegistryError's message defaults to its code: then the table's message is the better one.
    const message = err.message !== err.code ? err.message : undefined;
    const status = ERROR_CODES[err.code].status;
    if (status >= 500) return new ApiError(err.code);
    return new ApiError(err.code, {
      ...(message !== undefined ? { message } : {}),
      ...(err.detail !== undefined ? { detail: err.detail } : {}),
    });
  }
  if (
    err instanceof StorageError &&
    err.code === 'NV2_ERR_STORAGE_NOT_FOUND' &&
    notFound !== undefined
  ) {
    return new ApiError(notFound);
  }
  return new ApiError('UNKNOWN');
}

/**
 * Writes the error response for `err`. When the response has already started (a blob stream
 * that failed half-way), nothing valid can be sent any more: the connection is destroyed so the
 * client sees a truncated transfer rather than a short body it could take for complete.
 */
export function writeError(
  res: ServerResponse,
  err: unknown,
  options: { notFound?: ErrorCode; head?: boolean } = {},
): WrittenError {
  const api = toApiError(err, options.notFound);
  const cause = api.status >= 500 && api !== err ? err : undefined;
  if (res.headersSent) {
    res.destroy();
    return { code: api.code, status: res.statusCode, bytes: 0, cause: err };
  }
  for (const name of res.getHeaderNames()) {
    if (!KEPT_HEADERS.has(name)) res.removeHeader(name);
  }
  const body = Buffer.from(
    JSON.stringify(
      api.status >= 500
        ? errorBody(api.code)
        : errorBody(api.code, {
            message: api.message,
            ...(api.detail !== undefined ? { detail: api.detail } : {}),
          }),
    ),
  );
  res.statusCode = api.status;
  for (const [name, value] of Object.entries(api.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.byteLength);
  res.end(body);
  return {
    code: api.code,
    status: api.status,
    bytes: options.head === true ? 0 : body.byteLength,
    ...(cause !== undefined ? { cause } : {}),
  };
}
