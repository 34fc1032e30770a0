import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Digest } from '../../oci/index.js';
import type { AccessControl } from '../auth/access.js';
import type { AuthState } from '../auth/challenge.js';
import type { Grant } from '../auth/grant.js';
import type { RegistryStore } from '../storage/store.js';
import type { EnforcementDecision, RegistryTrust } from '../trust/verdicts.js';

/**
 * What a route handler is and what it gets: the nouns shared by the route table (routes.ts),
 * the handlers (handlers/*.ts), the response helpers and the request pipeline
 * (create-registry.ts). Kept apart from the table so that handlers do not import the table
 * that imports them.
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
