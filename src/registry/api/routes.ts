import type { ErrorCode } from '../../oci/index.js';
import type { Access, Handler, Method, Pattern, PatternParams, RouteName } from './handler.js';
import type { RawParams } from './params.js';
import { getBase, getHealth } from './handlers/base.js';
import { getToken } from './handlers/token.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { listCatalog } from './handlers/catalog.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { listReferrers } from './handlers/referrers.js';
import { listTags } from './handlers/tags.js';
import {
  cancelUpload,
  finishUpload,
  getUploadStatus,
  patchUpload,
  startUpload,
} from './handlers/uploads.js';

/**
 * The route table: everything the registry answers, and who may do it (STYLE.md habit 9, as
 * distribution's `registry/api/v2/routes.go`). Handlers are thin: they get validated
 * parameters, call the store and answer; every failure is thrown and answered by `errors.ts`.
 *
 * Endpoints are the distribution-spec v1.1 ones (end-1 … end-14) plus `/v2/_catalog`
 * (reserved by the spec, served as distribution does) and `/healthz`.
 *
 * Repository names may contain `/`, so a path is matched from the right: the last segments
 * name the endpoint and everything between `/v2/` and them is the name. Names, tags, digests
 * and upload session ids are checked against their grammars before any handler runs, so no
 * request-derived string reaches the store unchecked.
 */

/** One entry of the route table. */
export interface Route<P extends Pattern = Pattern> {
  readonly name: RouteName;
  readonly method: Method;
  readonly pattern: P;
  readonly handler: Handler<PatternParams[P]>;
  readonly access: Access;
  /** The code a `StorageError` NOT_FOUND leaking from the store is answered with. */
  readonly notFound?: ErrorCode;
}

/** Any entry of the table (a union over the patterns, so each handler keeps its own params). */
export type AnyRoute = { [P in Pattern]: Route<P> }[Pattern];

/** Typed constructor of a table entry (keeps `handler` tied to `pattern`). */
function route<P extends Pattern>(entry: Route<P>): Route<P> {
  return entry;
}

/** The route table. */
export const ROUTES: readonly AnyRoute[] = [
  route({ name: 'health', method: 'GET', pattern: '/healthz', handler: getHealth, access: 'none' }),
  route({
    name: 'health',
    method: 'HEAD',
    pattern: '/healthz',
    handler: getHealth,
    access: 'none',
  }),
  // end-1
  route({ name: 'base', method: 'GET', pattern: '/v2/', handler: getBase, access: 'authenticate' }),
  route({
    name: 'base',
    method: 'HEAD',
    pattern: '/v2/',
    handler: getBase,
    access: 'authenticate',
  }),
  // The Docker registry token endpoint (distribution docs/spec/auth/token.md), with token auth.
  route({
    name: 'token',
    method: 'GET',
    pattern: '/auth/token',
    handler: getToken,
    access: 'none',
  }),
  route({
    name: 'catalog',
    method: 'GET',
    pattern: '/v2/_catalog',
    handler: listCatalog,
    access: 'catalog',
  }),
  // end-8a, end-8b
  route({
    name: 'tags',
    method: 'GET',
    pattern: '/v2/<name>/tags/list',
    handler: listTags,
    access: 'pull',
    notFound: 'NAME_UNKNOWN',
  }),
  // end-3
  ...(['GET', 'HEAD'] as const).map((method) =>
    route({
      name: 'manifest',
      method,
      pattern: '/v2/<name>/manifests/<reference>',
      handler: getManifest,
      access: 'pull',
      notFound: 'MANIFEST_UNKNOWN',
    }),
  ),
  // end-7
  route({
    name: 'manifest',
    method: 'PUT',
    pattern: '/v2/<name>/manifests/<reference>',
    handler: putManifest,
    access: 'push',
    notFound: 'MANIFEST_BLOB_UNKNOWN',
  }),
  // end-9
  route({
    name: 'manifest',
    method: 'DELETE',
    pattern: '/v2/<name>/manifests/<reference>',
    handler: deleteManifest,
    access: 'delete',
    notFound: 'MANIFEST_UNKNOWN',
  }),
  // end-2
  ...(['GET', 'HEAD'] as const).map((method) =>
    route({
      name: 'blob',
      method,
      pattern: '/v2/<name>/blobs/<digest>',
      handler: getBlob,
      access: 'pull',
      notFound: 'BLOB_UNKNOWN',
    }),
  ),
  // end-10
  route({
    name: 'blob',
    method: 'DELETE',
    pattern: '/v2/<name>/blobs/<digest>',
    handler: deleteBlob,
    access: 'delete',
    notFound: 'BLOB_UNKNOWN',
  }),
  // end-4a, end-4b, end-11
  route({
    name: 'blob-upload',
    method: 'POST',
    pattern: '/v2/<name>/blobs/uploads/',
    handler: startUpload,
    access: 'push',
    notFound: 'BLOB_UPLOAD_UNKNOWN',
  }),
  // end-13 (HEAD too, as distribution). An upload session belongs to its pusher: reading its
  // status or cancelling it needs push, not pull or delete (distribution derives pull and
  // delete from the method).
  ...(['GET', 'HEAD'] as const).map((method) =>
    route({
      name: 'blob-upload-chunk',
      method,
      pattern: '/v2/<name>/blobs/uploads/<session_id>',
      handler: getUploadStatus,
      access: 'push',
      notFound: 'BLOB_UPLOAD_UNKNOWN',
    }),
  ),
  // end-5
  route({
    name: 'blob-upload-chunk',
    method: 'PATCH',
    pattern: '/v2/<name>/blobs/uploads/<session_id>',
    handler: patchUpload,
    access: 'push',
    notFound: 'BLOB_UPLOAD_UNKNOWN',
  }),
  // end-6
  route({
    name: 'blob-upload-chunk',
    method: 'PUT',
    pattern: '/v2/<name>/blobs/uploads/<session_id>',
    handler: finishUpload,
    access: 'push',
    notFound: 'BLOB_UPLOAD_UNKNOWN',
  }),
  // end-14
  route({
    name: 'blob-upload-chunk',
    method: 'DELETE',
    pattern: '/v2/<name>/blobs/uploads/<session_id>',
    handler: cancelUpload,
    access: 'push',
    notFound: 'BLOB_UPLOAD_UNKNOWN',
  }),
  // end-12a, end-12b
  route({
    name: 'referrers',
    method: 'GET',
    pattern: '/v2/<name>/referrers/<digest>',
    handler: listReferrers,
    access: 'pull',
  }),
];

/** The result of matching a request against the table. */
export type RouteMatch =
  | { readonly kind: 'found'; readonly route: AnyRoute; readonly raw: RawParams }
  | {
      readonly kind: 'method-not-allowed';
      readonly name: RouteName;
      readonly allowed: readonly Method[];
    }
  | { readonly kind: 'not-found' };

/**
 * Finds the route of `method` and `path` (the path as sent, without the query). Matching looks
 * at the shape of the path only; `validateParams` then checks what the route captured.
 */
export function matchRoute(method: string, path: string): RouteMatch {
  const found = matchPattern(path);
  if (found === undefined) return { kind: 'not-found' };
  const candidates = ROUTES.filter((r) => r.pattern === found.pattern);
  const hit = candidates.find((r) => r.method === method);
  if (hit !== undefined) return { kind: 'found', route: hit, raw: found.raw };
  return {
    kind: 'method-not-allowed',
    name: candidates[0]!.name,
    allowed: candidates.map((r) => r.method),
  };
}

/** Which pattern a path has, and its raw parameters. */
function matchPattern(path: string): { pattern: Pattern; raw: RawParams } | undefined {
  if (path === '/healthz') return { pattern: '/healthz', raw: {} };
  if (path === '/v2' || path === '/v2/') return { pattern: '/v2/', raw: {} };
  if (path === '/auth/token') return { pattern: '/auth/token', raw: {} };
  if (!path.startsWith('/v2/')) return undefined;
  const segments = decodeSegments(path.slice('/v2/'.length));
  if (segments === undefined) return undefined;
  const n = segments.length;
  if (n === 1 && segments[0] === '_catalog') return { pattern: '/v2/_catalog', raw: {} };
  const at = (i: number): string | undefined => segments[n - i];
  const name = (count: number): string => segments.slice(0, n - count).join('/');
  // Uploads first: `<name>/blobs/uploads` (no trailing slash, accepted for leniency) would
  // otherwise read as a blob called `uploads`.
  if (n >= 4 && at(3) === 'blobs' && at(2) === 'uploads') {
    return at(1) === ''
      ? { pattern: '/v2/<name>/blobs/uploads/', raw: { name: name(3) } }
      : { pattern: '/v2/<name>/blobs/uploads/<session_id>', raw: { name: name(3), tail: at(1)! } };
  }
  if (n >= 3 && at(2) === 'blobs' && at(1) === 'uploads') {
    return { pattern: '/v2/<name>/blobs/uploads/', raw: { name: name(2) } };
  }
  if (n < 3) return undefined;
  const tail = at(1)!;
  switch (at(2)) {
    case 'blobs':
      return { pattern: '/v2/<name>/blobs/<digest>', raw: { name: name(2), tail } };
    case 'manifests':
      return { pattern: '/v2/<name>/manifests/<reference>', raw: { name: name(2), tail } };
    case 'referrers':
      return { pattern: '/v2/<name>/referrers/<digest>', raw: { name: name(2), tail } };
    case 'tags':
      return tail === 'list'
        ? { pattern: '/v2/<name>/tags/list', raw: { name: name(2) } }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * Percent-decodes each path segment (some clients encode the `:` of a digest). Undefined when
 * an escape is malformed or decodes to a `/`, which no name, tag or digest contains.
 */
function decodeSegments(rest: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of rest.split('/')) {
    if (!raw.includes('%')) {
      out.push(raw);
      continue;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (decoded.includes('/')) return undefined;
    out.push(decoded);
  }
  return out;
}
