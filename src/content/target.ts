import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.js';

/**
 * Content targets: small role interfaces, composed (oras-go's `content.Storage`,
 * `TagResolver`, `Target`). A registry repository (`remote`), an OCI image layout directory
 * and a memory store all implement them, so that `copy`, signing and verification work
 * between any two without knowing which is which. Ask for the narrowest role you need, and
 * detect optional capabilities with the type guards below.
 *
 * Streams: `fetch` returns the content as a stream the caller must consume or destroy;
 * implementations verify size and digest while streaming (an error at the end of the stream
 * means the content did not match its descriptor: discard what was read).
 */

/** Reads content by descriptor. */
export interface Fetcher {
  /**
   * Streams the content `target` describes (blob or manifest). Rejects with
   * NV2_ERR_CONTENT_NOT_FOUND when absent.
   */
  fetch(target: Descriptor): Promise<Readable>;
}

/** Writes content by descriptor. */
export interface Pusher {
  /**
   * Stores `content` as `expected` (its mediaType, digest and size). The content must match
   * the descriptor (verified before it becomes visible); pushing what is already there is a
   * no-op that still succeeds. Manifests (by media type) are stored as manifests.
   */
  push(expected: Descriptor, content: AsyncIterable<Uint8Array> | Uint8Array): Promise<void>;
}

/** Reports whether content exists. */
export interface Exister {
  exists(target: Descriptor): Promise<boolean>;
}

/** Removes content. */
export interface Deleter {
  delete(target: Descriptor): Promise<void>;
}

/** Fetch and exists: what a copy source needs. */
export interface ReadOnlyStorage extends Fetcher, Exister {}

/** Fetch, push and exists: what a copy destination needs. */
export interface Storage extends ReadOnlyStorage, Pusher {}

/** Resolves references (tags, or digests) to manifest descriptors. */
export interface Resolver {
  /**
   * The descriptor of the manifest `reference` names: a tag, or a digest (`sha256:…`).
   * Rejects with NV2_ERR_CONTENT_NOT_FOUND when unknown.
   */
  resolve(reference: string): Promise<Descriptor>;
}

/** Points tags at manifests. */
export interface Tagger {
  tag(target: Descriptor, reference: string): Promise<void>;
}

/** Resolve and tag. */
export interface TagResolver extends Resolver, Tagger {}

/** Lists the referrers of a manifest (distribution-spec v1.1 "content discovery"). */
export interface ReferrerLister {
  /**
   * Descriptors of the manifests whose `subject` is `subject` (each with `artifactType` and
   * `annotations` when known), optionally only one artifact type. Implementations over a
   * registry use the referrers API and fall back to the referrers tag schema.
   */
  referrers(subject: Descriptor, options?: { artifactType?: string }): Promise<Descriptor[]>;
}

/** A read-only place content can be copied from. */
export interface ReadOnlyTarget extends ReadOnlyStorage, Resolver {}

/** A place content can be read from and written to, with tags. */
export interface Target extends Storage, TagResolver {}

/** Whether a store can list referrers itself. */
export function hasReferrers<T extends object>(store: T): store is T & ReferrerLister {
  return typeof (store as Partial<ReferrerLister>).referrers === 'function';
}

/** Whether a store can delete. */
export function canDelete<T extends object>(store: T): store is T & Deleter {
  return typeof (store as Partial<Deleter>).delete === 'function';
}
