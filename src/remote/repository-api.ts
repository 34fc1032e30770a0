import { InvalidInputError, RegistryResponseError } from '../errors.js';
import { DEFAULT_REGISTRY, isMediaType, parseReference } from '../oci/index.js';
import { isDigest } from '../oci/index.js';
import { repositoryScope } from './auth/token.js';
import type { HttpMethod, RegistryClient } from './client.js';
import type { RegistryResponse } from './http.js';
import { discard, displayUrl, responseError } from './http.js';

/**
 * One repository's end of the distribution-spec API, shared by the parts of `Repository`
 * (manifests and tags in repository.ts, blob uploads in blob-upload.ts, referrers in
 * referrers.ts): URLs, scopes, requests through the client, `Link` pagination, and the errors
 * for answers the API does not define.
 */

/** The `rel="next"` target of a `Link` header (RFC 8288), resolved against `base`. */
export function nextLink(header: string | undefined, base: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m === null) continue;
    if (/;\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(m[2]!)) return new URL(m[1]!, base).href;
  }
  return undefined;
}

/** The media type of a `Content-Type` header, without parameters. */
export function mediaTypeOf(header: string | undefined): string | undefined {
  const value = header?.split(';')[0]!.trim();
  return isMediaType(value) ? value : undefined;
}

/** A repository name, validated with the reference grammar. */
export function checkRepositoryName(registry: string, name: string): string {
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

/** Releases content that will not be read (a stream is destroyed). */
export async function release(content: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
  if (content instanceof Uint8Array) return;
  await discard(content);
}

/** A repository's requests. */
export class RepositoryApi {
  /** The registry, as references name it (`registry.example.com:5000`, `docker.io`). */
  readonly registry: string;
  /** The repository path (`team/app`; `library/ubuntu` on Docker Hub). */
  readonly name: string;
  readonly client: RegistryClient;
  /** Pages of tags or referrers fetched at most. */
  readonly maxPages: number;

  constructor(registry: string, name: string, client: RegistryClient, maxPages: number) {
    this.registry = registry;
    this.name = name;
    this.client = client;
    this.maxPages = maxPages;
  }

  /** The URL of `path` under this repository (`/v2/<name>/<path>`). */
  url(path: string): string {
    return this.client.url(this.registry, `/v2/${this.name}/${path}`);
  }

  /** `registry/name:tag` or `registry/name@digest`, for messages. */
  ref(reference: string): string {
    return `${this.registry}/${this.name}${isDigest(reference) ? '@' : ':'}${reference}`;
  }

  /** The token scopes of `access` to this repository. */
  scopes(access: 'pull' | 'push' | 'delete'): string[] {
    const actions = access === 'push' ? ['pull', 'push'] : [access];
    return [repositoryScope(this.name, actions)];
  }

  /** One request to the registry, authorized for `access` (or `extra.scopes`). */
  send(
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
    return this.client.send({
      registry: this.registry,
      method,
      url,
      scopes: extra.scopes ?? this.scopes(access),
      ...(extra.headers !== undefined ? { headers: extra.headers } : {}),
      ...(extra.body !== undefined ? { body: extra.body } : {}),
      ...(extra.idempotent !== undefined ? { idempotent: extra.idempotent } : {}),
    });
  }

  /** An error for an answer that is a success status but not the one the API defines. */
  async unexpected(res: RegistryResponse, what: string): Promise<RegistryResponseError> {
    return responseError(res, what, res.status >= 400 ? undefined : 'NV2_ERR_REGISTRY_RESPONSE');
  }

  /** An error for an answer that is not what the API defines. */
  malformed(res: RegistryResponse, what: string): RegistryResponseError {
    return new RegistryResponseError(
      'NV2_ERR_REGISTRY_RESPONSE',
      `${res.method} ${displayUrl(res.url)}: the registry answered ${what}`,
      { method: res.method, url: displayUrl(res.url), status: res.status, errors: [] },
    );
  }

  /** GETs `url` and its `Link: rel="next"` successors (same origin only), at most maxPages. */
  async paginate(
    url: string,
    what: string,
    page: (res: RegistryResponse) => Promise<void>,
    headers: Record<string, string> = {},
  ): Promise<void> {
    const origin = new URL(url).origin;
    let next: string | undefined = url;
    for (let pages = 0; next !== undefined; pages++) {
      if (pages >= this.maxPages) {
        throw new RegistryResponseError(
          'NV2_ERR_REGISTRY_RESPONSE',
          `GET ${displayUrl(next)}: more than ${this.maxPages} pages (${what} in ${this.registry}/${this.name})`,
          { method: 'GET', url: displayUrl(next), status: 200, errors: [] },
        );
      }
      const res = await this.send('GET', next, 'pull', { headers });
      if (res.status !== 200)
        throw await this.unexpected(res, `${what} in ${this.registry}/${this.name}`);
      const link = nextLink(res.header('link'), res.url);
      await page(res);
      if (link !== undefined && new URL(link).origin !== origin) {
        throw this.malformed(res, `a next page on another origin (${new URL(link).origin})`);
      }
      next = link;
    }
  }
}
