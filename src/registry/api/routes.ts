import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Digest, ErrorCode } from '../../oci/index.js';
import { DIGEST_ALGORITHMS, MAX_NAME_LENGTH, isDigest } from '../../oci/index.js';
import type { AccessControl, AuthState, Grant } from '../auth/access.js';
import type { RegistryStore } from '../storage/store.js';
import type { EnforcementDecision, RegistryTrust } from '../trust/verdicts.js';
import { ApiError } from './errors.js';
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

/** HTTP methods the registry serves. */
export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * What a route needs (read by access control, `registry/auth/access.ts`): `pull` reads a
 * repository, `push` writes to it, `delete` removes content from it, `catalog` lists every
 * repository, `authenticate` touches no repository but needs valid credentials (`/v2/`, as
 * distribution: clients learn the challenge there), `none` is open to anyone. A
 * cross-repository mount also reads the `from` repository: without `pull` there, the mount
 * is ignored and a plain upload session starts (see `create-registry.ts`).
 */
export type Access = 'pull' | 'push' | 'delete' | 'catalog' | 'authenticate' | 'none';

/** Route names, stable for logs, metrics and access rules (distribution's `RouteName*`). */
export type RouteName =
  | 'health'
  | 'base'
  | 'token'
  | 'catalog'
  | 'tags'
  | 'manifest'
  | 'blob'
  | 'blob-upload'
  | 'blob-upload-chunk'
  | 'referrers';

/** The validated parameters of each path pattern. */
export interface PatternParams {
  '/healthz': Record<string, never>;
  '/v2/': Record<string, never>;
  '/auth/token': Record<string, never>;
  '/v2/_catalog': Record<string, never>;
  '/v2/<name>/tags/list': { readonly name: string };
  '/v2/<name>/manifests/<reference>': {
    readonly name: string;
    /** A tag or a digest, exactly as the store takes it. */
    readonly reference: string;
    /** The reference when it is a digest. */
    readonly digest: Digest | undefined;
  };
  '/v2/<name>/blobs/<digest>': { readonly name: string; readonly digest: Digest };
  '/v2/<name>/blobs/uploads/': { readonly name: string };
  '/v2/<name>/blobs/uploads/<session_id>': { readonly name: string; readonly sessionId: string };
  '/v2/<name>/referrers/<digest>': { readonly name: string; readonly digest: Digest };
}

/** A path pattern of the route table. */
export type Pattern = keyof PatternParams;

/** Byte counts of one request, kept by the helpers that read bodies and write responses. */
export interface Meter {
  bytesIn: number;
  bytesOut: number;
}

/** What a handler learned about its request, for the request's log record. */
export interface RequestNotes {
  /** What enforcement at pull decided (manifest GET and HEAD of enforced repositories). */
  enforcement?: EnforcementDecision;
}

/** What a handler gets. */
export interface HandlerContext<P> {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly store: RegistryStore;
  readonly params: P;
  /** The query string (never decoded into the path). */
  readonly query: URLSearchParams;
  /**
   * The request body, streamed and counted into `meter.bytesIn`. Pass this, not `req`, to the
   * store. Stopping early does not destroy the connection: Node discards the rest of the body
   * after the response, so an error answer still reaches the client.
   */
  readonly body: AsyncIterable<Uint8Array>;
  readonly meter: Meter;
  /** What the request may do (everything without access control). */
  readonly grant: Grant;
  /** The registry's access control, when it has one (the token endpoint needs it). */
  readonly auth: AccessControl | undefined;
  /** What access control learned, for the request's log record. */
  readonly authState: AuthState;
  /** The trust policy judgement, when the registry has one. */
  readonly trust: RegistryTrust | undefined;
  /** What the handler learned, for the request's log record. */
  readonly notes: RequestNotes;
}

/** A route handler: answers through `respond.ts`, or throws for `errors.ts` to answer. */
export type Handler<P> = (ctx: HandlerContext<P>) => Promise<void>;

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

/** The raw path parameters of a match, before validation. */
export interface RawParams {
  readonly name?: string;
  readonly tail?: string;
}

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

/**
 * Checks what a route captured and returns its typed parameters. `method` matters for manifest
 * references only: a read (GET, HEAD) of a reference that is neither a valid tag nor a valid
 * digest names nothing that can exist, and is 404 MANIFEST_UNKNOWN, as distribution answers
 * (its route grammar does not match such a reference) and as the distribution-spec conformance
 * suite expects (`.INVALID_MANIFEST_NAME`, "GET/HEAD nonexistent manifest should return 404").
 * Writes and deletes keep the precise 400 TAG_INVALID or DIGEST_INVALID, which the suite allows.
 *
 * @throws ApiError NAME_INVALID, TAG_INVALID, DIGEST_INVALID, MANIFEST_UNKNOWN,
 *   BLOB_UPLOAD_UNKNOWN
 */
export function validateParams<P extends Pattern>(
  pattern: P,
  raw: RawParams,
  method: Method,
): PatternParams[P] {
  if (raw.name === undefined) return {} as PatternParams[P];
  const name = raw.name;
  if (!isRepositoryName(name)) {
    throw new ApiError('NAME_INVALID', {
      ...(name.length <= MAX_NAME_LENGTH ? { detail: { name } } : {}),
    });
  }
  const tail = raw.tail ?? '';
  let params: PatternParams[Pattern];
  switch (pattern) {
    case '/v2/<name>/blobs/<digest>':
    case '/v2/<name>/referrers/<digest>':
      params = { name, digest: parseDigestParam(tail) };
      break;
    case '/v2/<name>/manifests/<reference>':
      try {
        params = parseReferenceParam(name, tail);
      } catch (err) {
        if (method !== 'GET' && method !== 'HEAD') throw err;
        throw new ApiError('MANIFEST_UNKNOWN', {
          message: 'manifest unknown: the reference is neither a valid tag nor a valid digest',
        });
      }
      break;
    case '/v2/<name>/blobs/uploads/<session_id>':
      // Ids the store issues are UUIDs; anything else cannot be a session of ours.
      if (!SESSION_ID.test(tail)) throw new ApiError('BLOB_UPLOAD_UNKNOWN');
      params = { name, sessionId: tail };
      break;
    default:
      params = { name };
  }
  return params as PatternParams[P];
}

/** distribution-spec v1.1 `<name>`, "Pulling manifests". */
const NAME = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;

/** distribution-spec v1.1 tag grammar. */
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** A plausible upload session id: bounded and path-safe (the store's own check is stricter). */
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The digest grammar's `algorithm` (OCI image-spec "Digests"), to tell "unsupported" apart. */
const DIGEST_ALGORITHM = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*$/;

/**
 * Whether `name` is a repository name the registry serves: the spec grammar, at most 255
 * characters (checked first, so the expression only ever runs on short input).
 */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

/** Whether `tag` is a valid tag. */
export function isTagName(tag: string): boolean {
  return TAG.test(tag);
}

/**
 * Parses a digest from a path or query. Only sha256 and sha512 are served; any other algorithm,
 * well-formed or not, is DIGEST_INVALID ("unsupported digest algorithm").
 *
 * @throws ApiError DIGEST_INVALID
 */
export function parseDigestParam(value: string): Digest {
  if (isDigest(value)) return value;
  const colon = value.indexOf(':');
  const algorithm = colon > 0 ? value.slice(0, colon) : '';
  if (
    algorithm.length <= 32 &&
    DIGEST_ALGORITHM.test(algorithm) &&
    !(DIGEST_ALGORITHMS as readonly string[]).includes(algorithm)
  ) {
    throw new ApiError('DIGEST_INVALID', {
      message: 'unsupported digest algorithm',
      detail: { algorithm, supported: DIGEST_ALGORITHMS },
    });
  }
  throw new ApiError('DIGEST_INVALID', { message: 'invalid digest' });
}

/**
 * A manifest reference: a digest when it has a `:` (no tag does), else a tag.
 *
 * @throws ApiError DIGEST_INVALID, TAG_INVALID
 */
function parseReferenceParam(
  name: string,
  reference: string,
): PatternParams['/v2/<name>/manifests/<reference>'] {
  if (reference.includes(':')) {
    return { name, reference, digest: parseDigestParam(reference) };
  }
  if (!isTagName(reference)) throw new ApiError('TAG_INVALID', { message: 'invalid tag' });
  return { name, reference, digest: undefined };
}
