import { RegistryResponseError } from '../../errors.js';
import type { RegistryResponse } from '../http.js';
import { displayUrl, readBody, responseError } from '../http.js';
import type { Credential } from './credential.js';

/**
 * Docker token authentication (distribution `docs/spec/auth/token.md`, `jwt.md`, `oauth.md`):
 * a registry answers 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; the client
 * asks the realm for a token for the scopes it needs, with basic auth when it has credentials
 * and anonymously otherwise (or, holding an identity token, with an OAuth2 refresh-token grant),
 * and repeats the request with `Authorization: Bearer <token>`.
 *
 * Scopes are `repository:<name>:<actions>` with actions `pull`, `push`, `delete`; a push asks
 * `pull,push`, a cross-repository mount adds `repository:<source>:pull`.
 */

/** A scope for a repository: `repository:NAME:ACTIONS`, actions sorted and de-duplicated. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${[...new Set(actions)].sort().join(',')}`;
}

/**
 * Merges scopes on the same resource (`repository:a:pull` + `repository:a:push` →
 * `repository:a:pull,push`), `*` absorbing every other action, and sorts them, so that equal
 * access has one spelling (oras-go's `CleanScopes`). Malformed scopes are kept as they are.
 */
export function mergeScopes(scopes: readonly string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  const other = new Set<string>();
  for (const scope of scopes) {
    if (scope === '') continue;
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first === -1 || first === last) {
      other.add(scope);
      continue;
    }
    const resource = scope.slice(0, last);
    const actions = byResource.get(resource) ?? new Set<string>();
    for (const action of scope.slice(last + 1).split(',')) if (action !== '') actions.add(action);
    byResource.set(resource, actions);
  }
  const out = [...other];
  for (const [resource, actions] of byResource) {
    if (actions.size === 0) continue;
    const list = actions.has('*') ? ['*'] : [...actions].sort();
    out.push(`${resource}:${list.join(',')}`);
  }
  return out.sort();
}

/** A token and when to stop using it (client clock, ms). */
export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** The lifetime assumed when the token server names none (the token spec's default). */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;

/**
 * A token is dropped this long before it expires, so that a request does not set off with a
 * token that dies on the way (clock differences, slow uploads of a chunk).
 */
export const TOKEN_EXPIRY_LEEWAY_MS = 10_000;

/**
 * Largest token response read: tokens must fit in a header (usually at most 16 KiB) and the
 * response may carry two copies (`token` and `access_token`); oras-go allows 128 KiB.
 */
export const MAX_TOKEN_RESPONSE_BYTES = 128 * 1024;

/** Client ID sent with OAuth2 grants (the spec requires one). */
export const OAUTH_CLIENT_ID = 'nv2';

/** Sends a request to a token realm (no registry authentication; retries as the client does). */
export type TokenSender = (
  method: 'GET' | 'POST',
  url: string,
  headers: Readonly<Record<string, string>>,
  body?: Uint8Array,
) => Promise<RegistryResponse>;

/** What to ask a realm for. */
export interface TokenRequest {
  readonly realm: string;
  readonly service?: string | undefined;
  readonly scopes: readonly string[];
  readonly credential?: Credential | undefined;
}

/** Tokens by key (registry and scopes), dropped once expired; bounded. */
export class TokenCache {
  /** Most tokens kept; the oldest is dropped beyond it. */
  static readonly MAX_ENTRIES = 256;
  readonly #entries = new Map<string, IssuedToken>();

  /** The token for `key`, unless it has expired by `now`. */
  get(key: string, now: number): IssuedToken | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, token: IssuedToken): void {
    this.#entries.delete(key);
    this.#entries.set(key, token);
    if (this.#entries.size > TokenCache.MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

function malformed(response: RegistryResponse, why: string): RegistryResponseError {
  const url = displayUrl(response.url);
  return new RegistryResponseError(
    'NV2_ERR_REGISTRY_RESPONSE',
    `${response.method} ${url}: token server answered ${why}`,
    { method: response.method, url, status: response.status, errors: [] },
  );
}

/**
 * Asks a realm for a token. Basic auth when the credential has a username and password, an
 * OAuth2 refresh-token grant (POST) when it has an identity token, else anonymous.
 *
 * @throws RegistryResponseError NV2_ERR_REGISTRY_UNAUTHORIZED / NV2_ERR_REGISTRY_DENIED when the
 *   token server refuses, NV2_ERR_REGISTRY_RESPONSE when its answer holds no token
 */
export async function fetchToken(
  send: TokenSender,
  request: TokenRequest,
  now: () => number,
): Promise<IssuedToken> {
  let realm: URL;
  try {
    realm = new URL(request.realm);
  } catch {
    realm = new URL('invalid:');
  }
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
    throw new RegistryResponseError(
      'NV2_ERR_REGISTRY_RESPONSE',
      `the registry named a token realm that is not an http(s) URL: ${JSON.stringify(request.realm.slice(0, 200))}`,
      { method: 'GET', url: request.realm.slice(0, 200), status: 401, errors: [] },
    );
  }
  const credential = request.credential;
  const scopes = mergeScopes(request.scopes);
  let response: RegistryResponse;
  const who =
    credential?.username !== undefined
      ? `as ${credential.username}`
      : credential?.identityToken !== undefined
        ? 'with an identity token'
        : 'anonymously';
  if (credential?.identityToken !== undefined) {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: credential.identityToken,
      client_id: OAUTH_CLIENT_ID,
    });
    if (request.service !== undefined) form.set('service', request.service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    response = await send(
      'POST',
      realm.href,
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      Buffer.from(form.toString()),
    );
  } else {
    const url = new URL(realm.href);
    if (request.service !== undefined) url.searchParams.set('service', request.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (credential?.username !== undefined && credential.password !== undefined) {
      headers['Authorization'] =
        `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    }
    response = await send('GET', url.href, headers);
  }
  if (response.status !== 200) {
    throw await responseError(
      response,
      `asking for a token for ${scopes.join(' ') || 'the registry'} ${who}`,
    );
  }
  const body = await readBody(response, MAX_TOKEN_RESPONSE_BYTES, 'the token response');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw malformed(response, 'something other than JSON');
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  // The spec: `token`, or `access_token` for OAuth2 compatibility; when both, they are equal.
  const token =
    typeof record['access_token'] === 'string' && record['access_token'] !== ''
      ? record['access_token']
      : typeof record['token'] === 'string'
        ? record['token']
        : '';
  if (token === '') throw malformed(response, 'without a token');
  if (/[\r\n]/.test(token)) throw malformed(response, 'a token that cannot be sent in a header');
  const expiresIn = record['expires_in'];
  const lifetimeSeconds =
    typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0
      ? expiresIn
      : DEFAULT_TOKEN_LIFETIME_SECONDS;
  const lifetimeMs = lifetimeSeconds * 1000;
  return {
    token,
    expiresAt: now() + Math.max(lifetimeMs - TOKEN_EXPIRY_LEEWAY_MS, lifetimeMs / 2),
  };
}
