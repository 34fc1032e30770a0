import { parseChallenges } from './challenge.js';
import type { Credential, CredentialProvider } from './credential.js';
import type { IssuedToken, TokenSender } from './token.js';
import { TokenCache, fetchToken, mergeScopes } from './token.js';

/**
 * Per-client authentication state (oras-go's `auth.Client` with its cache): which scheme each
 * registry asked for, tokens by registry and scope set, and each registry's credentials, asked
 * once. A registry's first request goes out without credentials; its 401 challenge is
 * remembered, so later requests for new scopes fetch their token before they are sent (which
 * matters for uploads, whose bodies are not sent twice).
 */

/** How a registry wants to be authenticated, learned from its challenge. */
type Scheme =
  | { readonly kind: 'basic' }
  | { readonly kind: 'bearer'; readonly realm: string; readonly service: string | undefined };

/** What to do after a 401. */
export interface ChallengeAnswer {
  /** The `Authorization` to repeat the request with; undefined when repeating is pointless. */
  readonly authorization?: string;
  /** Why it may fail (again): added to the error if the answer is still 401. */
  readonly note: string;
}

/** Options of an Authorizer. */
export interface AuthorizerOptions {
  readonly credentials?: CredentialProvider | undefined;
  readonly send: TokenSender;
  readonly now: () => number;
}

function basicHeader(credential: Credential): string | undefined {
  if (credential.username === undefined || credential.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
}

/** Authentication for one client. */
export class Authorizer {
  readonly #options: AuthorizerOptions;
  readonly #schemes = new Map<string, Scheme>();
  readonly #tokens = new TokenCache();
  readonly #inflight = new Map<string, Promise<IssuedToken>>();
  readonly #credentials = new Map<string, Promise<Credential | undefined>>();

  constructor(options: AuthorizerOptions) {
    this.#options = options;
  }

  /** The registry's credentials, asked of the provider once per client. */
  credential(registry: string): Promise<Credential | undefined> {
    const provider = this.#options.credentials;
    if (provider === undefined) return Promise.resolve(undefined);
    let pending = this.#credentials.get(registry);
    if (pending === undefined) {
      pending = provider(registry);
      this.#credentials.set(registry, pending);
      // A provider that failed (a helper timed out) is asked again next time.
      pending.catch(() => this.#credentials.delete(registry));
    }
    return pending;
  }

  /**
   * The `Authorization` to send with a request needing `scopes`, when the registry's scheme is
   * known: a cached token, a token fetched now, or basic credentials. Undefined before the first
   * challenge, and when there is nothing to send.
   */
  async authorization(registry: string, scopes: readonly string[]): Promise<string | undefined> {
    const scheme = this.#schemes.get(registry);
    if (scheme === undefined) return undefined;
    const credential = await this.credential(registry);
    if (scheme.kind === 'basic')
      return credential !== undefined ? basicHeader(credential) : undefined;
    if (credential?.registryToken !== undefined) return `Bearer ${credential.registryToken}`;
    const key = cacheKey(registry, scopes);
    const cached = this.#tokens.get(key, this.#options.now());
    if (cached !== undefined) return `Bearer ${cached.token}`;
    const issued = await this.#issue(key, scheme, mergeScopes(scopes), credential);
    return `Bearer ${issued.token}`;
  }

  /**
   * Answers a 401: remembers the scheme, and returns the `Authorization` to repeat the request
   * with (a token for the request's scopes merged with the challenge's, or basic credentials),
   * or none when repeating cannot help (no credentials for a basic challenge, the same
   * credentials were already refused, an unknown scheme).
   */
  async challenge(
    registry: string,
    scopes: readonly string[],
    header: string | undefined,
    sent: string | undefined,
  ): Promise<ChallengeAnswer> {
    const challenges = parseChallenges(header ?? '');
    const bearer = challenges.find(
      (c) => c.scheme === 'bearer' && (c.params['realm'] ?? '') !== '',
    );
    const basic = challenges.find((c) => c.scheme === 'basic');
    const credential = await this.credential(registry);
    const noCredentials = `no credentials for ${registry} (log in with \`nv2 login ${registry}\`, pass -u/-p, or set NV2_USERNAME/NV2_PASSWORD)`;
    if (bearer !== undefined) {
      const scheme: Scheme = {
        kind: 'bearer',
        realm: bearer.params['realm']!,
        service: bearer.params['service'],
      };
      this.#schemes.set(registry, scheme);
      const wanted = mergeScopes([...scopes, ...(bearer.params['scope'] ?? '').split(' ')]);
      const refused =
        credential === undefined
          ? `${noCredentials}; an anonymous token for ${wanted.join(' ') || 'the registry'} was refused`
          : `the token for ${wanted.join(' ') || 'the registry'} was refused`;
      if (credential?.registryToken !== undefined) {
        const authorization = `Bearer ${credential.registryToken}`;
        return authorization === sent
          ? { note: `the registry token for ${registry} was refused` }
          : { authorization, note: `the registry token for ${registry} was refused` };
      }
      const requestKey = cacheKey(registry, scopes);
      const wantedKey = cacheKey(registry, wanted);
      const cached = this.#tokens.get(wantedKey, this.#options.now());
      if (cached !== undefined && `Bearer ${cached.token}` !== sent) {
        this.#tokens.set(requestKey, cached);
        return { authorization: `Bearer ${cached.token}`, note: refused };
      }
      // The token sent was refused (revoked, or its scope was not granted): ask again.
      this.#tokens.delete(wantedKey);
      this.#tokens.delete(requestKey);
      const issued = await this.#issue(wantedKey, scheme, wanted, credential);
      if (`Bearer ${issued.token}` === sent) return { note: refused };
      this.#tokens.set(requestKey, issued);
      return { authorization: `Bearer ${issued.token}`, note: refused };
    }
    if (basic !== undefined) {
      this.#schemes.set(registry, { kind: 'basic' });
      const authorization = credential !== undefined ? basicHeader(credential) : undefined;
      if (authorization === undefined) return { note: noCredentials };
      const refused = `the credentials for ${registry} (user ${credential!.username!}) were refused`;
      return authorization === sent ? { note: refused } : { authorization, note: refused };
    }
    const schemes = challenges.map((c) => c.scheme).join(', ');
    return {
      note:
        schemes === ''
          ? 'the registry sent no usable WWW-Authenticate challenge'
          : `the registry asks for authentication nv2 does not support (${schemes})`,
    };
  }

  /** Fetches a token (one request for concurrent askers of the same key) and caches it. */
  #issue(
    key: string,
    scheme: Scheme & { kind: 'bearer' },
    scopes: readonly string[],
    credential: Credential | undefined,
  ): Promise<IssuedToken> {
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      pending = fetchToken(
        this.#options.send,
        { realm: scheme.realm, service: scheme.service, scopes, credential },
        this.#options.now,
      ).then(
        (issued) => {
          this.#tokens.set(key, issued);
          this.#inflight.delete(key);
          return issued;
        },
        (err: unknown) => {
          this.#inflight.delete(key);
          throw err;
        },
      );
      this.#inflight.set(key, pending);
    }
    return pending;
  }
}

/** Cache key: registry and its merged scopes. */
function cacheKey(registry: string, scopes: readonly string[]): string {
  return `${registry} ${mergeScopes(scopes).join(' ')}`;
}
