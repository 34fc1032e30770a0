import { isDigest, isRepositoryName } from '../../../oci/index.js';
import { RegistryError } from '../../storage/store.js';
import type { BlobInfo, UploadSession } from '../../storage/store.js';
import { ApiError } from '../errors.js';
import { contentLength, hasBody, parseContentRange } from '../request.js';
import { sendEmpty } from '../respond.js';
import type { Handler, HandlerContext, PatternParams } from '../handler.js';
import { parseDigestParam } from '../params.js';

/**
 * Blob uploads (distribution-spec "Pushing blobs"): POST starts a session, mounts a blob from
 * another repository, or takes a whole blob; PATCH appends a chunk; PUT closes the session
 * with the digest (and maybe a last chunk); GET reports progress; DELETE cancels.
 *
 * Bodies are never buffered: the request stream goes to the store as it arrives. Responses
 * carry what distribution sends and clients read: `Location` (relative, the spec allows it),
 * `Range: 0-<last byte>` (distribution's form, which the conformance suite checks; "0-0" for
 * an empty session) and `Docker-Upload-UUID`.
 */

type StartParams = PatternParams['/v2/<name>/blobs/uploads/'];
type SessionParams = PatternParams['/v2/<name>/blobs/uploads/<session_id>'];

/** Where a session is continued. */
function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

/** The headers of every answer about a live session. */
function sessionHeaders(session: UploadSession): Record<string, string> {
  return {
    Location: uploadLocation(session.repo, session.id),
    Range: `0-${Math.max(session.size - 1, 0)}`,
    'Docker-Upload-UUID': session.id,
  };
}

/** 201 for a blob now in the repository (commit, single POST, mount). */
function sendBlobCreated(ctx: HandlerContext<unknown>, name: string, blob: BlobInfo): void {
  sendEmpty(ctx, 201, {
    Location: `/v2/${name}/blobs/${blob.digest}`,
    'Docker-Content-Digest': blob.digest,
  });
}

/**
 * `POST /v2/<name>/blobs/uploads/`:
 * - `?mount=<digest>&from=<repo>` (end-11): 201 when `from` has the blob. Otherwise, and when
 *   either argument is missing or malformed, a new session (202), as the spec requires.
 * - `?digest=<digest>` (end-4b): the body is the whole blob, 201.
 * - neither (end-4a): a new session, 202.
 */
export const startUpload: Handler<StartParams> = async (ctx) => {
  const { name } = ctx.params;
  const mount = ctx.query.get('mount');
  const from = ctx.query.get('from');
  if (mount !== null && from !== null && isDigest(mount) && isRepositoryName(from)) {
    const mounted = await ctx.store.blobs.mount(name, mount, from);
    if (mounted !== undefined) {
      sendBlobCreated(ctx, name, mounted);
      return;
    }
  }
  const digestParam = ctx.query.get('digest');
  if (digestParam !== null) {
    const digest = parseDigestParam(digestParam);
    const length = contentLength(ctx.req);
    const blob = await ctx.store.uploads.putBlob(
      name,
      digest,
      ctx.body,
      length !== undefined ? { length } : {},
    );
    sendBlobCreated(ctx, name, blob);
    return;
  }
  const session = await ctx.store.uploads.start(name);
  sendEmpty(ctx, 202, sessionHeaders(session));
};

/** The session, or BLOB_UPLOAD_UNKNOWN. */
async function knownSession(ctx: HandlerContext<SessionParams>): Promise<UploadSession> {
  const { name, sessionId } = ctx.params;
  const session = await ctx.store.uploads.get(name, sessionId);
  if (session === undefined) throw new ApiError('BLOB_UPLOAD_UNKNOWN');
  return session;
}

/**
 * A 416 for a chunk the session cannot take, with the session's `Location` and `Range` so the
 * client can resume from the right offset (spec: "If the server cannot accept the chunk…").
 */
async function rangeInvalid(
  ctx: HandlerContext<SessionParams>,
  cause: RegistryError | ApiError,
): Promise<ApiError> {
  const session = await ctx.store.uploads.get(ctx.params.name, ctx.params.sessionId);
  if (session === undefined) return new ApiError('BLOB_UPLOAD_UNKNOWN');
  return new ApiError('RANGE_INVALID', {
    ...(cause.message !== cause.code ? { message: cause.message } : {}),
    ...(cause.detail !== undefined ? { detail: cause.detail } : {}),
    headers: sessionHeaders(session),
  });
}

/**
 * Appends the request body to the session at the offset `Content-Range` gives (when it gives
 * one). The store checks the offset under the session's lock: a chunk out of order is 416.
 */
async function appendChunk(ctx: HandlerContext<SessionParams>): Promise<UploadSession> {
  const { name, sessionId } = ctx.params;
  let range: { start: number; end: number } | undefined;
  try {
    range = parseContentRange(ctx.req.headers['content-range'], {});
  } catch (err) {
    throw await rangeInvalid(ctx, err as ApiError);
  }
  let length = contentLength(ctx.req);
  if (range !== undefined) {
    const chunk = range.end - range.start + 1;
    if (length !== undefined && length !== chunk) {
      throw await rangeInvalid(
        ctx,
        new ApiError('RANGE_INVALID', {
          message: 'Content-Range does not match Content-Length',
          detail: { range: `${range.start}-${range.end}`, length },
        }),
      );
    }
    length = chunk;
  }
  try {
    return await ctx.store.uploads.append(name, sessionId, ctx.body, {
      ...(range !== undefined ? { offset: range.start } : {}),
      ...(length !== undefined ? { length } : {}),
    });
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'RANGE_INVALID') {
      throw await rangeInvalid(ctx, err);
    }
    throw err;
  }
}

/** `PATCH /v2/<name>/blobs/uploads/<id>` (end-5): a chunk, streamed; 202 with the new `Range`. */
export const patchUpload: Handler<SessionParams> = async (ctx) => {
  const session = await appendChunk(ctx);
  sendEmpty(ctx, 202, sessionHeaders(session));
};

/**
 * `PUT /v2/<name>/blobs/uploads/<id>?digest=<digest>` (end-6): closes the session, with the
 * body as its last chunk if there is one (at the `Content-Range` offset when given). 201 with
 * the blob's `Location` and `Docker-Content-Digest`. The digest is checked before the session
 * is touched, so a malformed one leaves it usable; a digest that does not match the content
 * is DIGEST_INVALID and ends the session (the store discards it).
 */
export const finishUpload: Handler<SessionParams> = async (ctx) => {
  const { name, sessionId } = ctx.params;
  const digestParam = ctx.query.get('digest');
  if (digestParam === null) {
    throw new ApiError('DIGEST_INVALID', { message: 'digest parameter missing' });
  }
  const digest = parseDigestParam(digestParam);
  let blob: BlobInfo;
  if (ctx.req.headers['content-range'] !== undefined) {
    await appendChunk(ctx);
    blob = await ctx.store.uploads.commit(name, sessionId, digest);
  } else if (hasBody(ctx.req)) {
    const length = contentLength(ctx.req);
    blob = await ctx.store.uploads.commit(
      name,
      sessionId,
      digest,
      ctx.body,
      length !== undefined ? { length } : {},
    );
  } else {
    blob = await ctx.store.uploads.commit(name, sessionId, digest);
  }
  sendBlobCreated(ctx, name, blob);
};

/** `GET /v2/<name>/blobs/uploads/<id>` (end-13): 204 with the session's `Range`. */
export const getUploadStatus: Handler<SessionParams> = async (ctx) => {
  const session = await knownSession(ctx);
  sendEmpty(ctx, 204, sessionHeaders(session));
};

/** `DELETE /v2/<name>/blobs/uploads/<id>` (end-14): drops the session and its bytes, 204. */
export const cancelUpload: Handler<SessionParams> = async (ctx) => {
  const { name, sessionId } = ctx.params;
  if (!(await ctx.store.uploads.cancel(name, sessionId))) {
    throw new ApiError('BLOB_UPLOAD_UNKNOWN');
  }
  sendEmpty(ctx, 204, { 'Docker-Upload-UUID': sessionId });
};
