import type { Readable } from 'node:stream';
import type { Descriptor, Digest, ErrorCode } from '../../oci/index.js';

/**
 * The registry's storage layer, above the driver: what the HTTP handlers call. Each role is
 * its own small interface (blobs, uploads, manifests, tags, referrers, catalog), implemented
 * over any `StorageDriver` with the layout of `paths.ts`, and composed by `createStore`.
 *
 * Repository names, tags and digests reaching these methods have been validated by the HTTP
 * layer against the distribution-spec grammars; implementations still never build a path
 * from anything but `paths.ts` functions.
 *
 * Failures a client caused are `RegistryError`s carrying the distribution-spec code the
 * HTTP layer answers with; a failing medium is a `StorageError` (HTTP 500, logged, no detail).
 */

/** A blob in a repository. */
export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

/** A byte range, both ends inclusive (as in HTTP `Range: bytes=start-end`). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export interface BlobStore {
  /** The blob if it is linked into `repo` (a repository sees only its own blobs). */
  stat(repo: string, digest: Digest): Promise<BlobInfo | undefined>;
  /**
   * Streams a blob linked into `repo`, whole or a range (the caller has checked the range
   * against the size). Throws RegistryError BLOB_UNKNOWN when it is not linked. `linked`: what
   * `stat` just answered for this request, which spares looking the link up again (each
   * lookup is a request to an object store).
   */
  open(repo: string, digest: Digest, range?: ByteRange, linked?: BlobInfo): Promise<Readable>;
  /**
   * The whole bytes of a small blob linked into `repo` (at most `SMALL_BLOB_MAX_BYTES`), from
   * memory once read: a small GET is answered in one write, without opening a file. Undefined
   * for a larger blob (stream it with `open`). Throws RegistryError BLOB_UNKNOWN when it is
   * not linked. The buffer is shared: never to be modified. `linked`: as for `open`.
   */
  readSmall(repo: string, digest: Digest, linked?: BlobInfo): Promise<Buffer | undefined>;
  /**
   * Links a blob present in repository `from` into `repo` without copying (cross-repository
   * mount). Undefined when `from` does not have it; the caller then starts a normal upload.
   */
  mount(repo: string, digest: Digest, from: string): Promise<BlobInfo | undefined>;
  /**
   * Where a client may download a blob linked into `repo` directly from the medium (a
   * short-lived presigned URL), when the store is set up to redirect downloads; else
   * undefined and the registry streams the blob. `linked`: as for `open`.
   */
  redirectUrl?(repo: string, digest: Digest, linked?: BlobInfo): Promise<string | undefined>;
  /** Unlinks a blob from `repo`; false when it was not linked. Bytes stay until garbage collection. */
  delete(repo: string, digest: Digest): Promise<boolean>;
}

/** An upload session. */
export interface UploadSession {
  readonly id: string;
  readonly repo: string;
  /** Bytes received so far. */
  readonly size: number;
  readonly startedAt: Date;
}

export interface UploadStore {
  /** Starts a session (`POST /blobs/uploads/`). */
  start(repo: string): Promise<UploadSession>;
  /** The session, or undefined when unknown (never started, finished, cancelled or purged). */
  get(repo: string, id: string): Promise<UploadSession | undefined>;
  /**
   * Appends a chunk (`PATCH`), streaming it to storage. With `offset` (from `Content-Range`),
   * it must equal the session's current size, else RegistryError RANGE_INVALID (HTTP 416);
   * with `length`, exactly that many bytes must arrive, else SIZE_INVALID. Chunks of one
   * session are applied one at a time, in arrival order.
   * Throws BLOB_UPLOAD_UNKNOWN for an unknown session.
   */
  append(
    repo: string,
    id: string,
    body: AsyncIterable<Uint8Array>,
    options?: { offset?: number; length?: number },
  ): Promise<UploadSession>;
  /**
   * Finishes a session (`PUT ?digest=`), optionally with a last chunk: verifies the digest of
   * everything received (DIGEST_INVALID on mismatch, and the session is discarded), makes the
   * bytes durable, moves them into the content-addressed blob store (atomically; if the blob
   * already exists the upload is simply dropped) and links the blob into `repo`.
   */
  commit(
    repo: string,
    id: string,
    digest: Digest,
    finalChunk?: AsyncIterable<Uint8Array>,
    options?: { length?: number },
  ): Promise<BlobInfo>;
  /** Cancels a session (`DELETE`); false when unknown. */
  cancel(repo: string, id: string): Promise<boolean>;
  /** A whole blob in one request (`POST ?digest=`): start, append, commit. */
  putBlob(
    repo: string,
    digest: Digest,
    body: AsyncIterable<Uint8Array>,
    options?: { length?: number },
  ): Promise<BlobInfo>;
  /** Removes sessions started before `before`; returns how many. */
  purge(before: Date): Promise<number>;
}

/** A stored manifest: its exact bytes and what they say. */
export interface StoredManifest {
  /** mediaType, digest and size of the exact bytes; artifactType and annotations when present. */
  readonly descriptor: Descriptor;
  readonly content: Buffer;
  /** The manifest's `subject`, when it has one. */
  readonly subject?: Descriptor;
}

export interface ManifestStore {
  /**
   * Validates and stores a manifest pushed with `contentType` under `reference` (a tag or
   * the digest of `content`). Checks: at most 4 MiB; a JSON object; its media type (from
   * `contentType`, which must agree with a `mediaType` field when both exist) is an OCI or
   * Docker manifest or index; schema fields well-formed; every referenced blob (config,
   * layers) linked into `repo`, every child manifest of an index stored in `repo`
   * (MANIFEST_BLOB_UNKNOWN otherwise); a digest reference equal to the content's digest
   * (DIGEST_INVALID). Stores the bytes as they are, records the revision, moves the tag,
   * and adds the manifest to its subject's referrers index.
   * Throws RegistryError MANIFEST_INVALID, MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID, SIZE_INVALID.
   */
  put(
    repo: string,
    reference: string,
    content: Buffer,
    contentType: string,
  ): Promise<StoredManifest>;
  /** A manifest by tag or digest, or undefined. */
  get(repo: string, reference: string): Promise<StoredManifest | undefined>;
  /** A manifest's descriptor by tag or digest (for HEAD), or undefined. */
  stat(repo: string, reference: string): Promise<Descriptor | undefined>;
  /**
   * Deletes by digest: the revision, every tag pointing at it, and its referrers-index entry.
   * By tag: the tag only (distribution-spec v1.1). False when unknown.
   */
  delete(repo: string, reference: string): Promise<boolean>;
}

export interface TagStore {
  /**
   * Tags of `repo` in lexical order, at most `n` after `last` (pagination); `more` when
   * others follow. RegistryError NAME_UNKNOWN when the repository does not exist.
   */
  list(
    repo: string,
    options?: { n?: number; last?: string },
  ): Promise<{ tags: string[]; more: boolean }>;
  /** The digest a tag points at, or undefined. */
  resolve(repo: string, tag: string): Promise<Digest | undefined>;
}

export interface ReferrersIndex {
  /**
   * Descriptors of the manifests in `repo` whose `subject` is `subject` (each with
   * mediaType, digest, size, artifactType — the manifest's, else its config media type — and
   * annotations), in a stable order, optionally only those of one artifactType. Listed even
   * when the subject itself is absent. Reads the index, never scans the repository.
   */
  list(repo: string, subject: Digest, options?: { artifactType?: string }): Promise<Descriptor[]>;
}

export interface Catalog {
  /** Repository names in lexical order, paginated like tags. */
  list(options?: { n?: number; last?: string }): Promise<{ repositories: string[]; more: boolean }>;
}

/** The whole storage layer. */
export interface RegistryStore {
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly referrers: ReferrersIndex;
  readonly catalog: Catalog;
}

/**
 * A failure the client caused, with the distribution-spec code the HTTP layer answers with
 * (its status comes from `ERROR_CODES`).
 */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  constructor(code: ErrorCode, message?: string, detail?: unknown) {
    super(message ?? code);
    this.name = 'RegistryError';
    this.code = code;
    this.detail = detail;
  }
}
