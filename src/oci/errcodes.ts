/**
 * The distribution-spec error codes (OCI distribution-spec v1.1, "Error Codes"), with the HTTP
 * status each is served with and its default message. One table: the registry serializes
 * with it and clients parse with it, the way distribution's `registry/api/errcode` serves both.
 * The last five are CNCF distribution's additions that clients know; `UNKNOWN` is what
 * distribution's `errcode.ErrorCodeUnknown` serves for a failure that is not the client's
 * (HTTP 500, never with a detail), and what the spec tells clients to treat unknown codes as.
 */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: {
    status: 404,
    message: 'manifest references a manifest or blob unknown to registry',
  },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { readonly status: number; readonly message: string }>;

/** A distribution-spec error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** One entry of an error response body. */
export interface ErrorInfo {
  readonly code: ErrorCode | (string & {});
  readonly message: string;
  readonly detail?: unknown;
}

/** The body of an error response: `{"errors":[{code,message,detail}]}`. */
export interface ErrorResponseBody {
  readonly errors: readonly ErrorInfo[];
}

/** Returns whether `value` is a known distribution-spec error code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** Builds an error response body for one code, with its default message unless given one. */
export function errorBody(
  code: ErrorCode,
  options: { message?: string; detail?: unknown } = {},
): ErrorResponseBody {
  const info: ErrorInfo =
    options.detail !== undefined
      ? { code, message: options.message ?? ERROR_CODES[code].message, detail: options.detail }
      : { code, message: options.message ?? ERROR_CODES[code].message };
  return { errors: [info] };
}
