import { Readable } from 'node:stream';
import type { Deleter, ReferrerLister, Target } from '../content/index.js';
import { asAsyncIterable } from '../content/index.js';
import { InvalidInputError, VerificationFailedError } from '../errors.js';
import type { Descriptor, Reference } from '../oci/index.js';
import {
  MAX_MANIFEST_BYTES,
  canHaveSubject,
  isDescriptor,
  isDigest,
  isManifestMediaType,
  isRegistryHost,
  isTag,
  parseReference,
  referrerDescriptor,
  verifyStream,
} from '../oci/index.js';
import { type UploadLimits, mountBlob, uploadBlob } from './blob-upload.js';
import { getManifest } from './manifest-get.js';
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_MONOLITHIC_MAX_BYTES,
  MAX_PAGES,
  type ManifestPushResult,
  type PushOptions,
  type RepositoryOptions,
  manifestAccept,
} from './repository-options.js';
import { discard, displayUrl, readBody } from './http.js';
import { referrerFacts } from './referrers-tag.js';
import { RepositoryReferrers } from './referrers.js';
import { RepositoryApi, checkRepositoryName, mediaTypeOf, release } from './repository-api.js';

/**
 * A repository in a registry as a content Target (oras-go's `registry/remote.Repository`),
 * over the OCI distribution-spec v1.1 API: resolve, fetch, push, exists, tag, delete, tags and
 * referrers. Referrers come from the referrers API, or, on registries without it, from the
 * referrers tag schema index, which `push` keeps up to date when the registry does not process
 * a manifest's `subject` itself.
 *
 * Everything fetched is verified against its descriptor while it streams; every error names
 * the registry, repository and what was asked.
 *
 * Why this file is long: it is one class, the API of one repository; each method is one endpoint
 * with its verification and its errors, and push keeps the referrers tag schema index that the
 * referrers listing falls back to, so they stay together.
 */

function assertDescriptor(value: Descriptor, what: string): void {
  if (!isDescriptor(value)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${what}: not a descriptor (mediaType, digest and size are required)`,
    );
  }
}

/** A repository in a registry. */
export class Repository implements Target, ReferrerLister, Deleter {
  /** The registry, as references name it (`registry.example.com:5000`, `docker.io`). */
  readonly registry: string;
  /** The repository path (`team/app`; `library/ubuntu` on Docker Hub). */
  readonly name: string;
  readonly #api: RepositoryApi;
  readonly #referrers: RepositoryReferrers;
  readonly #upload: UploadLimits;
  readonly #accept: string;

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
    const monolithicMax = options.monolithicMaxBytes ?? DEFAULT_MONOLITHIC_MAX_BYTES;
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const maxPages = options.maxPages ?? MAX_PAGES;
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
      ['monolithicMaxBytes', monolithicMax],
      ['chunkBytes', chunkBytes],
      ['maxPages', maxPages],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `${what} must be a positive integer`,
        );
      }
    }
    this.#api = new RepositoryApi(registry, this.name, options.client, maxPages);
    this.#referrers = new RepositoryReferrers(this.#api, options.referrersApi);
    this.#upload = { monolithicMax, chunkBytes };
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
    return this.#referrers.known;
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
    const url = this.#api.url(`manifests/${reference}`);
    const head = await this.#api.send('HEAD', url, 'pull', { headers: { Accept: this.#accept } });
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
    return (
      await getManifest(this.#api, this.#accept, reference, `resolving ${this.#api.ref(reference)}`)
    ).descriptor;
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
    const url = this.#api.url(`${manifest ? 'manifests' : 'blobs'}/${target.digest}`);
    const res = await this.#api.send('GET', url, access, {
      ...(manifest ? { headers: { Accept: `${target.mediaType}, ${this.#accept}` } } : {}),
    });
    if (res.status !== 200) {
      throw await this.#api.unexpected(res, `fetching ${this.#api.ref(target.digest)}`);
    }
    const length = res.header('content-length');
    if (length !== undefined && /^\d{1,15}$/.test(length) && Number(length) !== target.size) {
      await discard(res.body);
      throw new VerificationFailedError(
        'NV2_ERR_CONTENT_SIZE_MISMATCH',
        `${displayUrl(res.url)}: the registry sends ${length} bytes, ${target.size} expected for ${target.digest}`,
      );
    }
    const body = res.body ?? asAsyncIterable(new Uint8Array(0));
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
    const url = this.#api.url(`${manifest ? 'manifests' : 'blobs'}/${target.digest}`);
    const res = await this.#api.send('HEAD', url, access, {
      ...(manifest ? { headers: { Accept: `${target.mediaType}, ${this.#accept}` } } : {}),
    });
    await discard(res.body);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.#api.unexpected(res, `checking for ${this.#api.ref(target.digest)}`);
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
    if (await this.#exists(expected, 'push')) {
      await release(content);
      return;
    }
    await uploadBlob(this.#api, expected, content, options.mountFrom, this.#upload);
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
    for await (const chunk of verifyStream(asAsyncIterable(content), expected)) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    const reference = options.tag ?? expected.digest;
    const res = await this.#api.send('PUT', this.#api.url(`manifests/${reference}`), 'push', {
      headers: { 'Content-Type': expected.mediaType },
      body: bytes,
      idempotent: true,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw await this.#api.unexpected(res, `pushing manifest ${this.#api.ref(reference)}`);
    }
    await discard(res.body);
    const fields = referrerFacts(bytes, expected.mediaType);
    if (fields?.subject === undefined) return { referrers: 'none' };
    if (res.header('oci-subject') !== undefined) {
      this.#referrers.known = true;
      return { subject: fields.subject, referrers: 'registry' };
    }
    // distribution-spec "Pushing Manifests with Subject": no OCI-Subject means the registry
    // did not process the subject, so the client maintains the referrers tag schema.
    this.#referrers.known = false;
    await this.#referrers.update(fields.subject, {
      add: referrerDescriptor(expected, fields),
    });
    return { subject: fields.subject, referrers: 'tag-schema' };
  }

  /**
   * Mounts a blob from another repository of this registry (distribution-spec "Mounting a
   * blob from another repository"). True when the registry mounted it; false when it could not
   * (the upload session it opened instead is cancelled).
   */
  async mount(target: Descriptor, from: string): Promise<boolean> {
    assertDescriptor(target, 'mount');
    return mountBlob(this.#api, target, from);
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
    const what = `tagging ${this.#api.ref(target.digest)} as ${reference}`;
    const content = await this.#fetchManifestBytes(target, what, 'push');
    const res = await this.#api.send('PUT', this.#api.url(`manifests/${reference}`), 'push', {
      headers: { 'Content-Type': target.mediaType },
      body: content,
      idempotent: true,
    });
    if (res.status !== 201 && res.status !== 200) throw await this.#api.unexpected(res, what);
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
    const what = `deleting ${this.#api.ref(target.digest)}`;
    let subject: Descriptor | undefined;
    if (manifest && canHaveSubject(target.mediaType) && this.#referrers.known !== true) {
      const content = await this.#fetchManifestBytes(target, what);
      subject = referrerFacts(content, target.mediaType)?.subject;
    }
    const url = this.#api.url(`${manifest ? 'manifests' : 'blobs'}/${target.digest}`);
    const res = await this.#api.send('DELETE', url, 'delete');
    if (res.status !== 202 && res.status !== 200 && res.status !== 204) {
      throw await this.#api.unexpected(res, what);
    }
    await discard(res.body);
    if (subject !== undefined && !(await this.#referrers.detect(subject.digest))) {
      await this.#referrers.update(subject, { remove: target.digest });
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
    const first = new URL(this.#api.url('tags/list'));
    if (options.pageSize !== undefined) first.searchParams.set('n', String(options.pageSize));
    if (options.last !== undefined) first.searchParams.set('last', options.last);
    const out: string[] = [];
    await this.#api.paginate(first.href, 'listing tags', async (res) => {
      const body = await readBody(res, MAX_MANIFEST_BYTES, 'the tag list');
      let tags: unknown;
      try {
        tags = (JSON.parse(body.toString('utf8')) as { tags?: unknown }).tags;
      } catch {
        tags = undefined;
      }
      if (tags === null) return;
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
        throw this.#api.malformed(res, 'a tag list that is not {"tags": [strings]}');
      }
      out.push(...(tags as string[]));
    });
    return out;
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
    return this.#referrers.list(subject, options.artifactType);
  }
}
