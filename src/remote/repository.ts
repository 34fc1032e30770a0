import { Readable } from 'node:stream';
import type { Deleter, ReferrerLister, Target } from '../content/index.js';
import {
  InvalidInputError,
  RegistryResponseError,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../errors.js';
import type { Descriptor, Digest, Reference } from '../oci/index.js';
import {
  canHaveSubject,
  isManifestMediaType,
  referrerDescriptor,
  referrersTag,
  DEFAULT_REGISTRY,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  digestAlgorithm,
  digestOf,
  isDescriptor,
  isDigest,
  isMediaType,
  isRegistryHost,
  isTag,
  manifestMediaTypeField,
  parseReference,
  verifyStream,
} from '../oci/index.js';
import { repositoryScope } from './auth/token.js';
import type { HttpMethod, RegistryClient } from './client.js';
import type { RegistryResponse } from './http.js';
import { discard, displayUrl, readBody, responseError } from './http.js';
import type { ReferrerChange } from './referrers-tag.js';
import {
  applyChange,
  changeApplied,
  decodeReferrersIndex,
  encodeReferrersIndex,
  referrerFacts,
} from './referrers-tag.js';

/**
 * A repository in a registry as a content Target (oras-go's `registry/remote.Repository`),
 * over the OCI distribution-spec v1.1 API: resolve, fetch, push, exists, tag, delete, tags and
 * referrers. Referrers come from the referrers API, or, on registries without it, from the
 * referrers tag schema index, which `push` keeps up to date when the registry does not process
 * a manifest's `subject` itself.
 *
 * Everything fetched is verified against its descriptor while it streams; every error names
 * the registry, repository and what was asked.
 */

/** Which family of manifest media types a repository asks for first when it resolves a tag. */
export type ManifestPreference = 'oci' | 'docker';

const OCI_MANIFEST_TYPES = [MediaTypes.ociManifest, MediaTypes.ociIndex];
const DOCKER_MANIFEST_TYPES = [MediaTypes.dockerManifest, MediaTypes.dockerManifestList];

/**
 * The `Accept` header of manifest requests: OCI and Docker manifests and indexes, the preferred
 * family first and the other at a lower quality (RFC 9110 §12.5.1), so that a registry that
 * holds both forms of a tag answers with the preferred one and one that holds only the other
 * still answers. Which media types are manifests (pushed and fetched under /manifests/, the
 * rest under /blobs/) is `content`'s `isManifestMediaType`, so that every Target agrees.
 */
export function manifestAccept(preference?: ManifestPreference): string {
  if (preference === undefined) return [...OCI_MANIFEST_TYPES, ...DOCKER_MANIFEST_TYPES].join(', ');
  const [first, second] =
    preference === 'oci'
      ? [OCI_MANIFEST_TYPES, DOCKER_MANIFEST_TYPES]
      : [DOCKER_MANIFEST_TYPES, OCI_MANIFEST_TYPES];
  return [...first, ...second.map((t) => `${t};q=0.5`)].join(', ');
}

/**
 * Pages of tags or referrers fetched at most (oras-go's `TagListMaxPages`): bounds server-driven
 * pagination, so a misbehaving registry cannot make a listing run forever.
 */
export const MAX_PAGES = 1000;

/** Blobs up to this size are uploaded in one PUT; larger ones in chunks. */
export const DEFAULT_MONOLITHIC_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Chunk size of chunked uploads: every chunk is held in memory once. At least 5 MiB, S3's
 * smallest multipart part, which distribution's S3 driver needs for all chunks but the last.
 */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Attempts to update a referrers tag schema index before giving up: each re-reads the index
 * after writing it and tries again when a concurrent writer's update replaced ours.
 */
export const MAX_REFERRERS_INDEX_ATTEMPTS = 6;

/** Options of a Repository. */
export interface RepositoryOptions {
  /** The HTTP client (shared between repositories: it holds connections and tokens). */
  readonly client: RegistryClient;
  /** Blobs up to this size are pushed in one request (default 8 MiB). */
  readonly monolithicMaxBytes?: number;
  /** Chunk size of larger blob pushes (default 8 MiB). */
  readonly chunkBytes?: number;
  /**
   * Whether the registry has the referrers API, when known: `false` makes `referrers` and
   * `push` use the tag schema without asking. Default: detected.
   */
  readonly referrersApi?: boolean;
  /** Pages of tags or referrers fetched at most (default `MAX_PAGES`). */
  readonly maxPages?: number;
  /**
   * Ask for OCI (`oci`) or Docker (`docker`) manifest media types first when resolving and
   * fetching manifests (`oci://REF`, `docker://REF`); default no preference.
   */
  readonly manifestPreference?: ManifestPreference;
}

/** Options of `push`. */
export interface PushOptions {
  /** For a blob: mount it from this repository of the same registry instead of uploading it when it is there. */
  readonly mountFrom?: string;
  /** For a manifest: push it under this tag instead of its digest. */
  readonly tag?: string;
}

/** What a manifest push did about referrers. */
export interface ManifestPushResult {
  /** The manifest's `subject`, when it has one. */
  readonly subject?: Descriptor;
  /**
   * Who lists it as a referrer of its subject: `registry` (the registry answered
   * `OCI-Subject`), `tag-schema` (nv2 updated the `sha256-<hex>` index), or `none` (no subject).
   */
  readonly referrers: 'registry' | 'tag-schema' | 'none';
}

/** A manifest or index as bytes. */
interface ManifestBytes {
  readonly descriptor: Descriptor;
  readonly content: Buffer;
}

/**
 * Referrers index updates in this process, queued per index tag: two pushes of referrers of
 * the same subject from one process never race each other. Writers in other processes are
 * caught by the re-read after writing (see `updateReferrersIndex`).
 */
const indexQueues = new Map<string, Promise<unknown>>();

async function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = indexQueues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const tail = run.catch(() => undefined);
  indexQueues.set(key, tail);
  try {
    return await run;
  } finally {
    if (indexQueues.get(key) === tail) indexQueues.delete(key);
  }
}

/** The `rel="next"` target of a `Link` header (RFC 8288), resolved against `base`. */
function nextLink(header: string | undefined, base: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m === null) continue;
    if (/;\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(m[2]!)) return new URL(m[1]!, base).href;
  }
  return undefined;
}

/** The media type of a `Content-Type` header, without parameters. */
function mediaTypeOf(header: string | undefined): string | undefined {
  const value = header?.split(';')[0]!.trim();
  return isMediaType(value) ? value : undefined;
}

function assertDescriptor(value: Descriptor, what: string): void {
  if (!isDescriptor(value)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${what}: not a descriptor (mediaType, digest and size are required)`,
    );
  }
}

/** A repository name, validated with the reference grammar. */
function checkRepositoryName(registry: string, name: string): string {
  // Parsed under a registry the grammar always recognises, then put under the real one.
  const parsed = parseReference(`localhost/${name}`);
  if (parsed.tag !== undefined || parsed.digest !== undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_REFERENCE',
      `invalid repository name ${JSON.stringify(name)}`,
    );
  }
  return registry === DEFAULT_REGISTRY && !parsed.repository.includes('/')
    ? `library/${parsed.repository}`
    : parsed.repository;
}

/** Iterates content given as bytes or as a stream. */
function iterate(content: AsyncIterable<Uint8Array> | Uint8Array): AsyncIterable<Uint8Array> {
  if (content instanceof Uint8Array) {
    return (async function* () {
      yield content;
    })();
  }
  return content;
}

/** Releases content that will not be read (a stream is destroyed). */
async function release(content: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
  if (content instanceof Uint8Array) return;
  await discard(content);
}

/** A repository in a registry. */
export class Repository implements Target, ReferrerLister, Deleter {
  /** The registry, as references name it (`registry.example.com:5000`, `docker.io`). */
  readonly registry: string;
  /** The repository path (`team/app`; `library/ubuntu` on Docker Hub). */
  readonly name: string;
  readonly #client: RegistryClient;
  readonly #monolithicMax: number;
  readonly #chunkBytes: number;
  readonly #maxPages: number;
  readonly #accept: string;
  #referrersApi: boolean | undefined;

  /**
   * @example new Repository('registry.example.com', 'team/app', { client })
   * @throws InvalidInputError NV2_ERR_INVALID_REFERENCE for a bad registry or name
   */
  constructor(registry: string, name: string, options: RepositoryOptions) {
    if (!isRegistryHost(registry)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_REFERENCE',
        `invalid registry ${JSON.stringify(registry)}`,
      );
    }
    this.registry = registry;
    this.name = checkRepositoryName(registry, name);
    this.#client = options.client;
    this.#monolithicMax = options.monolithicMaxBytes ?? DEFAULT_MONOLITHIC_MAX_BYTES;
    this.#chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.#maxPages = options.maxPages ?? MAX_PAGES;
    this.#referrersApi = options.referrersApi;
    if (
      options.manifestPreference !== undefined &&
      options.manifestPreference !== 'oci' &&
      options.manifestPreference !== 'docker'
    ) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `manifestPreference must be oci or docker, not ${JSON.stringify(options.manifestPreference)}`,
      );
    }
    this.#accept = manifestAccept(options.manifestPreference);
    for (const [what, value] of [
      ['monolithicMaxBytes', this.#monolithicMax],
      ['chunkBytes', this.#chunkBytes],
      ['maxPages', this.#maxPages],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `${what} must be a positive integer`,
        );
      }
    }
  }

  /**
   * The repository a reference names (its tag or digest is not kept).
   *
   * @example Repository.fromReference('registry.example.com/app:v1', { client })
   * @throws InvalidInputError NV2_ERR_INVALID_REFERENCE
   */
  static fromReference(reference: string | Reference, options: RepositoryOptions): Repository {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    return new Repository(ref.registry, ref.repository, options);
  }

  /**
   * Whether the registry has the referrers API: true once it answered the API or `OCI-Subject`,
   * false once it did not, undefined before either was seen.
   */
  get referrersApi(): boolean | undefined {
    return this.#referrersApi;
  }

  // ---- requests ----------------------------------------------------------------------------

  #url(path: string): string {
    return this.#client.url(this.registry, `/v2/${this.name}/${path}`);
  }

  #ref(reference: string): string {
    return `${this.registry}/${this.name}${isDigest(reference) ? '@' : ':'}${reference}`;
  }

  #scopes(access: 'pull' | 'push' | 'delete'): string[] {
    const actions = access === 'push' ? ['pull', 'push'] : [access];
    return [repositoryScope(this.name, actions)];
  }

  #send(
    method: HttpMethod,
    url: string,
    access: 'pull' | 'push' | 'delete',
    extra: {
      headers?: Record<string, string>;
      body?: Uint8Array;
      idempotent?: boolean;
      scopes?: string[];
    } = {},
  ): Promise<RegistryResponse> {
    return this.#client.send({
      registry: this.registry,
      method,
      url,
      scopes: extra.scopes ?? this.#scopes(access),
      ...(extra.headers !== undefined ? { headers: extra.headers } : {}),
      ...(extra.body !== undefined ? { body: extra.body } : {}),
      ...(extra.idempotent !== undefined ? { idempotent: extra.idempotent } : {}),
    });
  }

  /** An error for an answer that is a success status but not the one the API defines. */
  async #unexpected(res: RegistryResponse, what: string): Promise<RegistryResponseError> {
    return responseError(res, what, res.status >= 400 ? undefined : 'NV2_ERR_REGISTRY_RESPONSE');
  }

  // ---- Resolver ----------------------------------------------------------------------------

  /**
   * The descriptor of the manifest a tag or digest names: a HEAD with every manifest media type
   * accepted, read from `Docker-Content-Digest`, `Content-Length` and `Content-Type`; a GET when
   * those are missing or disagree with a digest reference, whose bytes are then hashed (and
   * must match a digest reference and the registry's `Docker-Content-Digest`).
   *
   * @throws RegistryResponseError NV2_ERR_CONTENT_NOT_FOUND when unknown, and the other codes
   * @throws VerificationFailedError NV2_ERR_CONTENT_DIGEST_MISMATCH when the bytes do not match
   */
  async resolve(reference: string): Promise<Descriptor> {
    const digest = isDigest(reference) ? reference : undefined;
    if (digest === undefined && !isTag(reference)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_REFERENCE',
        `invalid tag or digest ${JSON.stringify(reference)}`,
      );
    }
    const url = this.#url(`manifests/${reference}`);
    const head = await this.#send('HEAD', url, 'pull', { headers: { Accept: this.#accept } });
    await discard(head.body);
    if (head.status === 200) {
      const headerDigest = head.header('docker-content-digest');
      const length = head.header('content-length');
      const mediaType = mediaTypeOf(head.header('content-type'));
      const resolved = digest ?? (isDigest(headerDigest) ? headerDigest : undefined);
      if (
        resolved !== undefined &&
        (headerDigest === undefined || headerDigest === resolved) &&
        length !== undefined &&
        /^\d{1,15}$/.test(length) &&
        mediaType !== undefined
      ) {
        return { mediaType, digest: resolved, size: Number(length) };
      }
    }
    // No usable HEAD answer (or an error, whose body a GET will explain): read the manifest.
    return (await this.#getManifest(reference, `resolving ${this.#ref(reference)}`)).descriptor;
  }

  /** GETs a manifest by tag or digest, bounded, and describes it from its bytes. */
  async #getManifest(
    reference: string,
    what: string,
    accept = this.#accept,
  ): Promise<ManifestBytes> {
    const res = await this.#send('GET', this.#url(`manifests/${reference}`), 'pull', {
      headers: { Accept: accept },
    });
    if (res.status !== 200) throw await this.#unexpected(res, what);
    const content = await readBody(res, MAX_MANIFEST_BYTES, 'the manifest');
    const headerDigest = res.header('docker-content-digest');
    const expected = isDigest(reference)
      ? reference
      : isDigest(headerDigest)
        ? headerDigest
        : undefined;
    const actual = digestOf(content, expected !== undefined ? digestAlgorithm(expected) : 'sha256');
    if (expected !== undefined && actual !== expected) {
      throw new VerificationFailedError(
        'NV2_ERR_CONTENT_DIGEST_MISMATCH',
        `${displayUrl(res.url)}: the manifest hashes to ${actual}, ${expected} expected (${what})`,
      );
    }
    let mediaType = mediaTypeOf(res.header('content-type'));
    if (mediaType === undefined || !isManifestMediaType(mediaType)) {
      let field: string | undefined;
      try {
        field = manifestMediaTypeField(content);
      } catch {
        field = undefined;
      }
      mediaType = field ?? mediaType;
    }
    if (mediaType === undefined) {
      throw new RegistryResponseError(
        'NV2_ERR_REGISTRY_RESPONSE',
        `GET ${displayUrl(res.url)}: the manifest has no media type (${what})`,
        { method: 'GET', url: displayUrl(res.url), status: res.status, errors: [] },
      );
    }
    return { descriptor: { mediaType, digest: actual, size: content.byteLength }, content };
  }

  // ---- Fetcher, Exister --------------------------------------------------------------------

  /**
   * Streams a blob or manifest (by media type), following redirects to storage, verified
   * against `target` while it streams: the stream errors with NV2_ERR_CONTENT_SIZE_MISMATCH or
   * NV2_ERR_CONTENT_DIGEST_MISMATCH at the end if it does not match; discard what was read then.
   *
   * @throws RegistryResponseError NV2_ERR_CONTENT_NOT_FOUND when absent
   */
  async fetch(target: Descriptor): Promise<Readable> {
    assertDescriptor(target, 'fetch');
    return this.#fetch(target, 'pull');
  }

  /** `fetch` with the scope of the operation it serves (a tag reads with its push token). */
  async #fetch(target: Descriptor, access: 'pull' | 'push'): Promise<Readable> {
    const manifest = isManifestMediaType(target.mediaType);
    const url = this.#url(`${manifest ? 'manifests' : 'blobs'}/${target.digest}`);
    const res = await this.#send('GET', url, access, {
      ...(manifest ? { headers: { Accept: `${target.mediaType}, ${this.#accept}` } } : {}),
    });
    if (res.status !== 200) {
      throw await this.#unexpected(res, `fetching ${this.#ref(target.digest)}`);
    }
    const length = res.header('content-length');
    if (length !== undefined && /^\d{1,15}$/.test(length) && Number(length) !== target.size) {
      await discard(res.body);
      throw new VerificationFailedError(
        'NV2_ERR_CONTENT_SIZE_MISMATCH',
        `${displayUrl(res.url)}: the registry sends ${length} bytes, ${target.size} expected for ${target.digest}`,
      );
    }
    const body = res.body ?? iterate(new Uint8Array(0));
    const readable = Readable.from(verifyStream(body, target), { objectMode: false });
    // Destroyed before the end (or before the first read): cancel the download.
    readable.once('close', () => void discard(body));
    return readable;
  }

  /** Reads a manifest by descriptor, verified, into memory (bounded by its size and 4 MiB). */
  async #fetchManifestBytes(
    target: Descriptor,
    what: string,
    access: 'pull' | 'push' = 'pull',
  ): Promise<Buffer> {
    if (target.size > MAX_MANIFEST_BYTES) {
      throw new InvalidInputError(
        'NV2_ERR_FILE_TOO_LARGE',
        `manifest ${target.digest} is ${target.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed (${what})`,
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await this.#fetch(target, access)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Whether a blob or manifest (by media type) is in the repository (HEAD). */
  async exists(target: Descriptor): Promise<boolean> {
    assertDescriptor(target, 'exists');
    return this.#exists(target, 'pull');
  }

  async #exists(target: Descriptor, access: 'pull' | 'push'): Promise<boolean> {
    const manifest = isManifestMediaType(target.mediaType);
    const url = this.#url(`${manifest ? 'manifests' : 'blobs'}/${target.digest}`);
    const res = await this.#send('HEAD', url, access, {
      ...(manifest ? { headers: { Accept: `${target.mediaType}, ${this.#accept}` } } : {}),
    });
    await discard(res.body);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.#unexpected(res, `checking for ${this.#ref(target.digest)}`);
  }

  // ---- Pusher ------------------------------------------------------------------------------

  /**
   * Pushes content as `expected`: manifests (by media type) with `pushManifest`, blobs with an
   * existence check first (pushing what is there is a no-op), then a cross-repository mount
   * when `mountFrom` is given, else an upload: one PUT up to `monolithicMaxBytes`, chunked
   * PATCHes with `Content-Range` beyond. Content is verified against `expected` before the
   * upload is committed.
   *
   * @throws VerificationFailedError NV2_ERR_CONTENT_SIZE_MISMATCH, NV2_ERR_CONTENT_DIGEST_MISMATCH
   * @throws RegistryResponseError when the registry refuses
   */
  async push(
    expected: Descriptor,
    content: AsyncIterable<Uint8Array> | Uint8Array,
    options: PushOptions = {},
  ): Promise<void> {
    assertDescriptor(expected, 'push');
    if (isManifestMediaType(expected.mediaType)) {
      await this.pushManifest(
        expected,
        content,
        options.tag !== undefined ? { tag: options.tag } : {},
      );
      return;
    }
    await this.#pushBlob(expected, content, options.mountFrom);
  }

  /**
   * Pushes a manifest (PUT, by digest or `tag`) with its media type as `Content-Type`. When it
   * has a `subject` and the registry does not answer `OCI-Subject` (it has no referrers API),
   * adds it to the subject's referrers tag schema index.
   *
   * @throws InvalidInputError NV2_ERR_FILE_TOO_LARGE beyond 4 MiB, NV2_ERR_INVALID_REFERENCE for a bad tag
   * @throws VerificationFailedError when the content does not match `expected`
   * @throws VerificationInconclusiveError NV2_ERR_REFERRERS_INDEX_CONFLICT when concurrent writers kept replacing the index
   */
  async pushManifest(
    expected: Descriptor,
    content: AsyncIterable<Uint8Array> | Uint8Array,
    options: { tag?: string } = {},
  ): Promise<ManifestPushResult> {
    assertDescriptor(expected, 'pushManifest');
    if (options.tag !== undefined && !isTag(options.tag)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_REFERENCE',
        `invalid tag ${JSON.stringify(options.tag)}`,
      );
    }
    if (expected.size > MAX_MANIFEST_BYTES) {
      await release(content);
      throw new InvalidInputError(
        'NV2_ERR_FILE_TOO_LARGE',
        `manifest ${expected.digest} is ${expected.size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`,
      );
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of verifyStream(iterate(content), expected)) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    const reference = options.tag ?? expected.digest;
    const res = await this.#send('PUT', this.#url(`manifests/${reference}`), 'push', {
      headers: { 'Content-Type': expected.mediaType },
      body: bytes,
      idempotent: true,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw await this.#unexpected(res, `pushing manifest ${this.#ref(reference)}`);
    }
    await discard(res.body);
    const fields = referrerFacts(bytes, expected.mediaType);
    if (fields?.subject === undefined) return { referrers: 'none' };
    if (res.header('oci-subject') !== undefined) {
      this.#referrersApi = true;
      return { subject: fields.subject, referrers: 'registry' };
    }
    // distribution-spec "Pushing Manifests with Subject": no OCI-Subject means the registry
    // did not process the subject, so the client maintains the referrers tag schema.
    this.#referrersApi = false;
    await this.#updateReferrersIndex(fields.subject, {
      add: referrerDescriptor(expected, fields),
    });
    return { subject: fields.subject, referrers: 'tag-schema' };
  }

  async #pushBlob(
    expected: Descriptor,
    content: AsyncIterable<Uint8Array> | Uint8Array,
    mountFrom: string | undefined,
  ): Promise<void> {
    if (await this.#exists(expected, 'push')) {
      await release(content);
      return;
    }
    let start = this.#url('blobs/uploads/');
    let scopes = this.#scopes('push');
    if (mountFrom !== undefined) {
      const from = checkRepositoryName(this.registry, mountFrom);
      start += `?mount=${encodeURIComponent(expected.digest)}&from=${encodeURIComponent(from)}`;
      // Mounting reads the source repository: its pull scope is needed too.
      scopes = [...scopes, repositoryScope(from, ['pull'])];
    }
    const what = `pushing blob ${this.#ref(expected.digest)}`;
    const res = await this.#send('POST', start, 'push', { scopes });
    if (res.status === 201 && mountFrom !== undefined) {
      await discard(res.body);
      await release(content);
      return;
    }
    if (res.status !== 202) throw await this.#unexpected(res, what);
    await discard(res.body);
    let location = this.#location(res, what);
    try {
      if (expected.size <= this.#monolithicMax) {
        const chunks: Uint8Array[] = [];
        for await (const chunk of verifyStream(iterate(content), expected)) chunks.push(chunk);
        await this.#commit(location, Buffer.concat(chunks), expected, what);
        return;
      }
      let offset = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const sendChunk = async (chunk: Buffer): Promise<void> => {
        const patch = await this.#send('PATCH', location, 'push', {
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Range': `${offset}-${offset + chunk.byteLength - 1}`,
          },
          body: chunk,
        });
        if (patch.status !== 202) throw await this.#unexpected(patch, what);
        await discard(patch.body);
        location = this.#location(patch, what);
        offset += chunk.byteLength;
      };
      for await (const piece of verifyStream(iterate(content), expected)) {
        pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        pendingBytes += piece.byteLength;
        while (pendingBytes >= this.#chunkBytes) {
          const all = Buffer.concat(pending, pendingBytes);
          await sendChunk(all.subarray(0, this.#chunkBytes));
          pending = [all.subarray(this.#chunkBytes)];
          pendingBytes -= this.#chunkBytes;
        }
      }
      // verifyStream has checked size and digest: only now is the upload committed.
      await this.#commit(location, Buffer.concat(pending, pendingBytes), expected, what);
    } catch (err) {
      // Best effort: the registry expires abandoned sessions anyway.
      const cancel = await this.#send('DELETE', location, 'push').catch(() => undefined);
      if (cancel !== undefined) await discard(cancel.body);
      throw err;
    }
  }

  /** `PUT <location>?digest=…` with the last bytes: 201 commits the upload. */
  async #commit(location: string, last: Buffer, expected: Descriptor, what: string): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', expected.digest);
    const res = await this.#send('PUT', url.href, 'push', {
      headers: { 'Content-Type': 'application/octet-stream' },
      ...(last.byteLength > 0 ? { body: last } : {}),
    });
    if (res.status !== 201) throw await this.#unexpected(res, what);
    await discard(res.body);
  }

  /** The upload session's `Location`, absolute. */
  #location(res: RegistryResponse, what: string): string {
    const location = res.header('location');
    if (location === undefined) {
      throw new RegistryResponseError(
        'NV2_ERR_REGISTRY_RESPONSE',
        `${res.method} ${displayUrl(res.url)}: ${res.status} without a Location (${what})`,
        { method: res.method, url: displayUrl(res.url), status: res.status, errors: [] },
      );
    }
    return new URL(location, res.url).href;
  }

  /**
   * Mounts a blob from another repository of this registry (distribution-spec "Mounting a
   * blob from another repository"). True when the registry mounted it; false when it could not
   * (the upload session it opened instead is cancelled).
   */
  async mount(target: Descriptor, from: string): Promise<boolean> {
    assertDescriptor(target, 'mount');
    const source = checkRepositoryName(this.registry, from);
    const url = `${this.#url('blobs/uploads/')}?mount=${encodeURIComponent(target.digest)}&from=${encodeURIComponent(source)}`;
    const res = await this.#send('POST', url, 'push', {
      scopes: [...this.#scopes('push'), repositoryScope(source, ['pull'])],
    });
    await discard(res.body);
    if (res.status === 201) return true;
    if (res.status !== 202) {
      throw await this.#unexpected(res, `mounting ${target.digest} from ${source}`);
    }
    const location = res.header('location');
    if (location !== undefined) {
      const cancel = await this.#send('DELETE', new URL(location, res.url).href, 'push').catch(
        () => undefined,
      );
      if (cancel !== undefined) await discard(cancel.body);
    }
    return false;
  }

  // ---- Tagger ------------------------------------------------------------------------------

  /**
   * Points `reference` (a tag) at a manifest: its bytes are fetched (verified) and PUT under the
   * tag, as oras-go does; registries have no other way to tag.
   */
  async tag(target: Descriptor, reference: string): Promise<void> {
    assertDescriptor(target, 'tag');
    if (!isTag(reference)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_REFERENCE',
        `invalid tag ${JSON.stringify(reference)}`,
      );
    }
    const what = `tagging ${this.#ref(target.digest)} as ${reference}`;
    const content = await this.#fetchManifestBytes(target, what, 'push');
    const res = await this.#send('PUT', this.#url(`manifests/${reference}`), 'push', {
      headers: { 'Content-Type': target.mediaType },
      body: content,
      idempotent: true,
    });
    if (res.status !== 201 && res.status !== 200) throw await this.#unexpected(res, what);
    await discard(res.body);
  }

  // ---- Deleter -----------------------------------------------------------------------------

  /**
   * Deletes a manifest or blob (by media type). A manifest with a `subject` is also removed
   * from its subject's referrers tag schema index when the registry has no referrers API.
   *
   * @throws RegistryResponseError NV2_ERR_CONTENT_NOT_FOUND, NV2_ERR_REGISTRY_UNSUPPORTED (deletes disabled)
   */
  async delete(target: Descriptor): Promise<void> {
    assertDescriptor(target, 'delete');
    const manifest = isManifestMediaType(target.mediaType);
    const what = `deleting ${this.#ref(target.digest)}`;
    let subject: Descriptor | undefined;
    if (manifest && canHaveSubject(target.mediaType) && this.#referrersApi !== true) {
      const content = await this.#fetchManifestBytes(target, what);
      subject = referrerFacts(content, target.mediaType)?.subject;
    }
    const url = this.#url(`${manifest ? 'manifests' : 'blobs'}/${target.digest}`);
    const res = await this.#send('DELETE', url, 'delete');
    if (res.status !== 202 && res.status !== 200 && res.status !== 204) {
      throw await this.#unexpected(res, what);
    }
    await discard(res.body);
    if (subject !== undefined && !(await this.#detectReferrersApi(subject.digest))) {
      await this.#updateReferrersIndex(subject, { remove: target.digest });
    }
  }

  // ---- tags --------------------------------------------------------------------------------

  /**
   * Every tag of the repository, in the registry's order, following `Link` pagination up to
   * `maxPages` pages.
   *
   * @throws RegistryResponseError NV2_ERR_CONTENT_NOT_FOUND for an unknown repository,
   *   NV2_ERR_REGISTRY_RESPONSE for a malformed answer or too many pages
   */
  async tags(options: { pageSize?: number; last?: string } = {}): Promise<string[]> {
    const first = new URL(this.#url('tags/list'));
    if (options.pageSize !== undefined) first.searchParams.set('n', String(options.pageSize));
    if (options.last !== undefined) first.searchParams.set('last', options.last);
    const out: string[] = [];
    await this.#paginate(first.href, 'listing tags', async (res) => {
      const body = await readBody(res, MAX_MANIFEST_BYTES, 'the tag list');
      let tags: unknown;
      try {
        tags = (JSON.parse(body.toString('utf8')) as { tags?: unknown }).tags;
      } catch {
        tags = undefined;
      }
      if (tags === null) return;
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
        throw this.#malformed(res, 'a tag list that is not {"tags": [strings]}');
      }
      out.push(...(tags as string[]));
    });
    return out;
  }

  #malformed(res: RegistryResponse, what: string): RegistryResponseError {
    return new RegistryResponseError(
      'NV2_ERR_REGISTRY_RESPONSE',
      `${res.method} ${displayUrl(res.url)}: the registry answered ${what}`,
      { method: res.method, url: displayUrl(res.url), status: res.status, errors: [] },
    );
  }

  /** GETs `url` and its `Link: rel="next"` successors (same origin only), at most maxPages. */
  async #paginate(
    url: string,
    what: string,
    page: (res: RegistryResponse) => Promise<void>,
    headers: Record<string, string> = {},
  ): Promise<void> {
    const origin = new URL(url).origin;
    let next: string | undefined = url;
    for (let pages = 0; next !== undefined; pages++) {
      if (pages >= this.#maxPages) {
        throw new RegistryResponseError(
          'NV2_ERR_REGISTRY_RESPONSE',
          `GET ${displayUrl(next)}: more than ${this.#maxPages} pages (${what} in ${this.registry}/${this.name})`,
          { method: 'GET', url: displayUrl(next), status: 200, errors: [] },
        );
      }
      const res = await this.#send('GET', next, 'pull', { headers });
      if (res.status !== 200)
        throw await this.#unexpected(res, `${what} in ${this.registry}/${this.name}`);
      const link = nextLink(res.header('link'), res.url);
      await page(res);
      if (link !== undefined && new URL(link).origin !== origin) {
        throw this.#malformed(res, `a next page on another origin (${new URL(link).origin})`);
      }
      next = link;
    }
  }

  // ---- ReferrerLister ----------------------------------------------------------------------

  /**
   * The referrers of `subject` (distribution-spec "Listing Referrers"), each with its
   * `artifactType` and `annotations`, optionally only one artifact type. From the referrers
   * API, following `Link` pages and filtering itself when the registry did not
   * (`OCI-Filters-Applied`); when the registry has no API (404, or 400/405 "unsupported"), from
   * the referrers tag schema index, absent meaning none.
   */
  async referrers(
    subject: Descriptor,
    options: { artifactType?: string } = {},
  ): Promise<Descriptor[]> {
    assertDescriptor(subject, 'referrers');
    const artifactType = options.artifactType;
    if (this.#referrersApi !== false) {
      const listed = await this.#referrersFromApi(subject.digest, artifactType);
      if (listed !== undefined) {
        this.#referrersApi = true;
        return listed;
      }
      this.#referrersApi = false;
    }
    const listed = await this.#readReferrersIndex(referrersTag(subject.digest));
    return artifactType === undefined
      ? listed
      : listed.filter((d) => d.artifactType === artifactType);
  }

  /** The referrers API's answer; undefined when the registry does not have the API. */
  async #referrersFromApi(
    subject: Digest,
    artifactType: string | undefined,
  ): Promise<Descriptor[] | undefined> {
    const first = new URL(this.#url(`referrers/${subject}`));
    if (artifactType !== undefined) first.searchParams.set('artifactType', artifactType);
    const res = await this.#send('GET', first.href, 'pull', {
      headers: { Accept: MediaTypes.ociIndex },
    });
    if (!(await this.#isReferrersApiAnswer(res))) return undefined;
    const out: Descriptor[] = [];
    const seen = new Set<string>();
    const collect = async (page: RegistryResponse): Promise<void> => {
      const listed = decodeReferrersIndex(
        await readBody(page, MAX_MANIFEST_BYTES, 'a referrers page'),
      );
      if (listed === undefined)
        throw this.#malformed(page, 'a referrers page that is not an image index of descriptors');
      const filtered = (page.header('oci-filters-applied') ?? '')
        .split(',')
        .map((f) => f.trim())
        .includes('artifactType');
      for (const d of listed) {
        if (seen.has(d.digest)) continue;
        if (artifactType !== undefined && !filtered && d.artifactType !== artifactType) continue;
        seen.add(d.digest);
        out.push(d);
      }
    };
    const link = nextLink(res.header('link'), res.url);
    await collect(res);
    if (link !== undefined) {
      if (new URL(link).origin !== new URL(res.url).origin) {
        throw this.#malformed(res, `a next page on another origin (${new URL(link).origin})`);
      }
      await this.#paginate(link, `listing referrers of ${subject}`, collect, {
        Accept: MediaTypes.ociIndex,
      });
    }
    return out;
  }

  /**
   * Whether an answer to `GET /v2/<name>/referrers/<digest>` comes from the referrers API:
   * 200 with an image index. 404 (the spec forbids it of registries with the API) and 400/405
   * saying "unsupported" mean no API; other failures are errors. Consumes the body of answers
   * that are not the API's.
   */
  async #isReferrersApiAnswer(res: RegistryResponse): Promise<boolean> {
    if (res.status === 200 && mediaTypeOf(res.header('content-type')) === MediaTypes.ociIndex) {
      return true;
    }
    if (res.status === 200 || res.status === 404) {
      await discard(res.body);
      return false;
    }
    if (res.status === 400 || res.status === 405) {
      const err = await responseError(res, `listing referrers in ${this.registry}/${this.name}`);
      if (
        res.status === 405 ||
        err.errors.length === 0 ||
        err.errors.some((e) => e.code === 'UNSUPPORTED')
      ) {
        return false;
      }
      throw err;
    }
    throw await this.#unexpected(res, `listing referrers in ${this.registry}/${this.name}`);
  }

  /** Whether the registry has the referrers API, asking it once when not known yet. */
  async #detectReferrersApi(subject: Digest): Promise<boolean> {
    if (this.#referrersApi !== undefined) return this.#referrersApi;
    const res = await this.#send('GET', this.#url(`referrers/${subject}`), 'pull', {
      headers: { Accept: MediaTypes.ociIndex },
    });
    const api = await this.#isReferrersApiAnswer(res);
    if (api) await discard(res.body);
    this.#referrersApi = api;
    return api;
  }

  /** The descriptors a referrers tag schema index lists; none when the tag does not exist. */
  async #readReferrersIndex(tag: string): Promise<Descriptor[]> {
    const res = await this.#send('GET', this.#url(`manifests/${tag}`), 'pull', {
      headers: { Accept: MediaTypes.ociIndex },
    });
    if (res.status === 404) {
      await discard(res.body);
      return [];
    }
    if (res.status !== 200) {
      throw await this.#unexpected(res, `reading the referrers index ${this.#ref(tag)}`);
    }
    const listed = decodeReferrersIndex(
      await readBody(res, MAX_MANIFEST_BYTES, 'the referrers index'),
    );
    if (listed === undefined) {
      throw this.#malformed(
        res,
        `a referrers index (${tag}) that is not an image index of descriptors`,
      );
    }
    return listed;
  }

  /**
   * Applies `change` to the subject's referrers tag schema index: read it (absent is empty),
   * change it, PUT it back under the tag, then read it again: if a concurrent writer's PUT
   * replaced ours in between, our change is missing, so try again after a backoff, at most
   * `MAX_REFERRERS_INDEX_ATTEMPTS` times. Updates from this process are queued per tag. The
   * spec leaves protection against races to clients, and registries without the referrers API
   * offer no conditional PUT, so a writer in another process can still lose an update that
   * this re-read saw land; it will see its own update missing and write again.
   */
  async #updateReferrersIndex(subject: Descriptor, change: ReferrerChange): Promise<void> {
    const tag = referrersTag(subject.digest);
    await serialized(`${this.#client.url(this.registry, '')} ${this.name} ${tag}`, async () => {
      for (let attempt = 1; ; attempt++) {
        const current = await this.#readReferrersIndex(tag);
        const updated = applyChange(current, change);
        if (updated === undefined) return;
        const res = await this.#send('PUT', this.#url(`manifests/${tag}`), 'push', {
          headers: { 'Content-Type': MediaTypes.ociIndex },
          body: encodeReferrersIndex(updated),
          idempotent: true,
        });
        if (res.status !== 201 && res.status !== 200) {
          throw await this.#unexpected(res, `updating the referrers index ${this.#ref(tag)}`);
        }
        await discard(res.body);
        if (changeApplied(await this.#readReferrersIndex(tag), change)) return;
        if (attempt >= MAX_REFERRERS_INDEX_ATTEMPTS) {
          throw new VerificationInconclusiveError(
            'NV2_ERR_REFERRERS_INDEX_CONFLICT',
            `the referrers index ${this.#ref(tag)} was replaced by concurrent writers ${attempt} times; ${change.add !== undefined ? `${change.add.digest} is pushed but not listed there` : `${change.remove} is still listed there`}`,
          );
        }
        await this.#client.backoff(attempt);
      }
    });
  }
}
