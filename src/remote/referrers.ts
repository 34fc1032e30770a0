import { VerificationInconclusiveError } from '../errors.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { MAX_MANIFEST_BYTES, MediaTypes, referrersTag } from '../oci/index.js';
import type { RegistryResponse } from './http.js';
import { discard, readBody, responseError } from './http.js';
import type { ReferrerChange } from './referrers-tag.js';
import {
  applyChange,
  changeApplied,
  decodeReferrersIndex,
  encodeReferrersIndex,
} from './referrers-tag.js';
import { type RepositoryApi, mediaTypeOf, nextLink } from './repository-api.js';

/**
 * The referrers of a repository's manifests, as the registry client sees them: the referrers
 * API when the registry has it (detected once, then remembered), else the referrers tag
 * schema index, which the client reads and keeps up to date itself (the format is
 * referrers-tag.ts).
 */

/**
 * Attempts to update a referrers tag schema index before giving up: each re-reads the index
 * after writing it and tries again when a concurrent writer's update replaced ours.
 */
export const MAX_REFERRERS_INDEX_ATTEMPTS = 6;

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

/** A repository's referrers. */
export class RepositoryReferrers {
  readonly #api: RepositoryApi;
  /**
   * Whether the registry has the referrers API: true once it answered the API or
   * `OCI-Subject`, false once it did not, undefined before either was seen.
   */
  known: boolean | undefined;

  constructor(api: RepositoryApi, known: boolean | undefined) {
    this.#api = api;
    this.known = known;
  }

  /**
   * The referrers of `subject`, optionally of one artifact type: from the referrers API,
   * following `Link` pages and filtering itself when the registry did not
   * (`OCI-Filters-Applied`); when the registry has no API (404, or 400/405 "unsupported"),
   * from the referrers tag schema index, absent meaning none.
   */
  async list(subject: Descriptor, artifactType: string | undefined): Promise<Descriptor[]> {
    if (this.known !== false) {
      const listed = await this.#fromApi(subject.digest, artifactType);
      if (listed !== undefined) {
        this.known = true;
        return listed;
      }
      this.known = false;
    }
    const listed = await this.#readIndex(referrersTag(subject.digest));
    return artifactType === undefined
      ? listed
      : listed.filter((d) => d.artifactType === artifactType);
  }

  /** The referrers API's answer; undefined when the registry does not have the API. */
  async #fromApi(
    subject: Digest,
    artifactType: string | undefined,
  ): Promise<Descriptor[] | undefined> {
    const first = new URL(this.#api.url(`referrers/${subject}`));
    if (artifactType !== undefined) first.searchParams.set('artifactType', artifactType);
    const res = await this.#api.send('GET', first.href, 'pull', {
      headers: { Accept: MediaTypes.ociIndex },
    });
    if (!(await this.#isApiAnswer(res))) return undefined;
    const out: Descriptor[] = [];
    const seen = new Set<string>();
    const collect = async (page: RegistryResponse): Promise<void> => {
      const listed = decodeReferrersIndex(
        await readBody(page, MAX_MANIFEST_BYTES, 'a referrers page'),
      );
      if (listed === undefined)
        throw this.#api.malformed(
          page,
          'a referrers page that is not an image index of descriptors',
        );
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
        throw this.#api.malformed(res, `a next page on another origin (${new URL(link).origin})`);
      }
      await this.#api.paginate(link, `listing referrers of ${subject}`, collect, {
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
  async #isApiAnswer(res: RegistryResponse): Promise<boolean> {
    if (res.status === 200 && mediaTypeOf(res.header('content-type')) === MediaTypes.ociIndex) {
      return true;
    }
    if (res.status === 200 || res.status === 404) {
      await discard(res.body);
      return false;
    }
    if (res.status === 400 || res.status === 405) {
      const err = await responseError(
        res,
        `listing referrers in ${this.#api.registry}/${this.#api.name}`,
      );
      if (
        res.status === 405 ||
        err.errors.length === 0 ||
        err.errors.some((e) => e.code === 'UNSUPPORTED')
      ) {
        return false;
      }
      throw err;
    }
    throw await this.#api.unexpected(
      res,
      `listing referrers in ${this.#api.registry}/${this.#api.name}`,
    );
  }

  /** Whether the registry has the referrers API, asking it once when not known yet. */
  async detect(subject: Digest): Promise<boolean> {
    if (this.known !== undefined) return this.known;
    const res = await this.#api.send('GET', this.#api.url(`referrers/${subject}`), 'pull', {
      headers: { Accept: MediaTypes.ociIndex },
    });
    const api = await this.#isApiAnswer(res);
    if (api) await discard(res.body);
    this.known = api;
    return api;
  }

  /** The descriptors a referrers tag schema index lists; none when the tag does not exist. */
  async #readIndex(tag: string): Promise<Descriptor[]> {
    const res = await this.#api.send('GET', this.#api.url(`manifests/${tag}`), 'pull', {
      headers: { Accept: MediaTypes.ociIndex },
    });
    if (res.status === 404) {
      await discard(res.body);
      return [];
    }
    if (res.status !== 200) {
      throw await this.#api.unexpected(res, `reading the referrers index ${this.#api.ref(tag)}`);
    }
    const listed = decodeReferrersIndex(
      await readBody(res, MAX_MANIFEST_BYTES, 'the referrers index'),
    );
    if (listed === undefined) {
      throw this.#api.malformed(
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
  async update(subject: Descriptor, change: ReferrerChange): Promise<void> {
    const tag = referrersTag(subject.digest);
    await serialized(
      `${this.#api.client.url(this.#api.registry, '')} ${this.#api.name} ${tag}`,
      async () => {
        for (let attempt = 1; ; attempt++) {
          const current = await this.#readIndex(tag);
          const updated = applyChange(current, change);
          if (updated === undefined) return;
          const res = await this.#api.send('PUT', this.#api.url(`manifests/${tag}`), 'push', {
            headers: { 'Content-Type': MediaTypes.ociIndex },
            body: encodeReferrersIndex(updated),
            idempotent: true,
          });
          if (res.status !== 201 && res.status !== 200) {
            throw await this.#api.unexpected(
              res,
              `updating the referrers index ${this.#api.ref(tag)}`,
            );
          }
          await discard(res.body);
          if (changeApplied(await this.#readIndex(tag), change)) return;
          if (attempt >= MAX_REFERRERS_INDEX_ATTEMPTS) {
            throw new VerificationInconclusiveError(
              'NV2_ERR_REFERRERS_INDEX_CONFLICT',
              `the referrers index ${this.#api.ref(tag)} was replaced by concurrent writers ${attempt} times; ${change.add !== undefined ? `${change.add.digest} is pushed but not listed there` : `${change.remove} is still listed there`}`,
            );
          }
          await this.#api.client.backoff(attempt);
        }
      },
    );
  }
}
