import type { IncomingMessage } from 'node:http';
import { InvalidInputError } from '../../errors.js';
import { ApiError } from '../api/errors.js';
import { BasicAuthenticator, clientAddress } from './basic-auth.js';
import {
  type AuthState,
  type ChallengeSettings,
  type Need,
  challenge,
  scopeOf,
} from './challenge.js';
import { DEFAULT_SIGNATURE_TYPES, Grant } from './grant.js';
import { PasswordChecker, checkUsers } from './htpasswd.js';
import { type FailureLimits, FailureLimiter } from './limiter.js';
import {
  ANONYMOUS,
  type AccessRule,
  AccessRules,
  type Identity,
  type RepositoryAction,
} from './rules.js';
import { TokenEndpoint, type TokenResponse } from './token-endpoint.js';
import {
  type TokenSigningKey,
  TokenRejectedError,
  type VerifiedToken,
  generateTokenSigningKey,
  grantedActions,
  verifyToken,
} from './tokens.js';

/**
 * Access control of the registry (distribution's `AccessController`, `registry/auth/auth.go`):
 * who a request comes from, what it may do, and the one rule that depends on content — only
 * signers store signature artifacts.
 *
 * Two modes:
 * - `token` (default): the Docker registry token flow (distribution `docs/spec/auth/token.md`).
 *   Requests without a valid token get 401 with
 *   `WWW-Authenticate: Bearer realm="<registry>/auth/token",service="…",scope="…"`; the token
 *   endpoint authenticates with basic auth (or anonymously), intersects the requested scopes
 *   with what the rules allow, and signs a short-lived JWT whose `access` claim lists what was
 *   granted. A valid token lacking a needed action is 401 with `error="insufficient_scope"`
 *   (RFC 6750), so that clients fetch a token for the new scope, as with distribution.
 * - `basic`: every request carries the user's password (`WWW-Authenticate: Basic`); for
 *   simple set-ups behind TLS. An authenticated user lacking an action gets 403 DENIED.
 */

/** Default token lifetime: long enough for a push of a large image's next request, short enough to limit a leak. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;

/** Default `service` (the tokens' audience) and `iss`. */
export const DEFAULT_SERVICE = 'nv2-registry';

/** Options of `createAccessControl`. */
export interface AccessControlOptions {
  /** `token` (default) or `basic`. */
  readonly mode?: 'token' | 'basic';
  /** Users: name → bcrypt hash (`readHtpasswd`, `hashPassword`). */
  readonly users?: Readonly<Record<string, string>> | ReadonlyMap<string, string>;
  /** Groups: name → member users. */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  /** Who may do what; nothing is allowed that no rule allows. */
  readonly rules: readonly AccessRule[];
  /** Artifact types, besides `DEFAULT_SIGNATURE_TYPES`, that only signers may push. */
  readonly signatureTypes?: readonly string[];
  /** Token mode settings. */
  readonly token?: {
    /** The signing key (`loadTokenSigningKey`); default a new key in memory. */
    readonly key?: TokenSigningKey;
    /** `service` of challenges and `aud` of tokens; default `nv2-registry`. */
    readonly service?: string;
    /** `iss` of tokens; default the service. */
    readonly issuer?: string;
    readonly expiresInSeconds?: number;
    /**
     * The realm URL of challenges; default `<scheme>://<Host header>/auth/token`, right when
     * clients reach the registry directly. Set it behind a proxy that rewrites the host.
     */
    readonly realm?: string;
  };
  /** How repeated failures of one client are slowed down. */
  readonly failures?: FailureLimits;
  /** The clock (ms since the epoch); for tests. */
  readonly now?: () => number;
}

/**
 * The registry's access control. Build it with `createAccessControl`, pass it to
 * `createRegistry({ auth })`.
 */
export class AccessControl {
  readonly mode: 'token' | 'basic';
  readonly service: string;
  readonly issuer: string;
  readonly #rules: AccessRules;
  readonly #basic: BasicAuthenticator;
  readonly #tokens: TokenEndpoint;
  readonly #key: TokenSigningKey;
  readonly #challenge: ChallengeSettings;
  readonly #signatureTypes: ReadonlySet<string>;
  readonly #now: () => number;

  /** @throws InvalidInputError for invalid users, rules or settings */
  constructor(options: AccessControlOptions) {
    this.mode = options.mode ?? 'token';
    if (this.mode !== 'token' && this.mode !== 'basic') {
      throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'auth mode must be token or basic');
    }
    this.#now = options.now ?? Date.now;
    const users = checkUsers(options.users ?? {}, 'users');
    for (const [group, members] of Object.entries(options.groups ?? {})) {
      for (const member of members) {
        if (!users.has(member)) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            `group ${group} names ${member}, who is not a user`,
          );
        }
      }
    }
    this.#rules = new AccessRules(options.rules, options.groups ?? {});
    const passwords = new PasswordChecker(users, this.#now);
    this.#basic = new BasicAuthenticator(
      passwords,
      new FailureLimiter(options.failures ?? {}, this.#now),
    );
    const token = options.token ?? {};
    this.service = token.service ?? DEFAULT_SERVICE;
    this.issuer = token.issuer ?? this.service;
    this.#key = token.key ?? generateTokenSigningKey();
    const lifetime = token.expiresInSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
    if (!Number.isInteger(lifetime) || lifetime < 10 || lifetime > 86_400) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'the token lifetime must be 10 to 86400 seconds',
      );
    }
    if (token.realm !== undefined && !/^https?:\/\/[^\s"]+$/.test(token.realm)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'the token realm must be an http(s) URL',
      );
    }
    this.#challenge = { mode: this.mode, service: this.service, realm: token.realm };
    this.#tokens = new TokenEndpoint({
      service: this.service,
      issuer: this.issuer,
      key: this.#key,
      lifetimeSeconds: lifetime,
      rules: this.#rules,
      basic: this.#basic,
      now: this.#now,
    });
    this.#signatureTypes = new Set([...DEFAULT_SIGNATURE_TYPES, ...(options.signatureTypes ?? [])]);
  }

  /** The token signing key's public half and algorithm, e.g. to publish for other verifiers. */
  get tokenKey(): Pick<TokenSigningKey, 'publicKey' | 'alg' | 'kid'> {
    return { publicKey: this.#key.publicKey, alg: this.#key.alg, kid: this.#key.kid };
  }

  /**
   * Authorizes a registry request needing `needs`, and returns what it may do. In token mode a
   * Bearer token is required (an anonymous token too); in basic mode a request without
   * credentials is anonymous.
   *
   * @throws ApiError UNAUTHORIZED (401, with the challenge), DENIED (403, basic mode),
   *   TOOMANYREQUESTS (429, with Retry-After)
   */
  async authorize(req: IncomingMessage, needs: readonly Need[], state: AuthState): Promise<Grant> {
    if (this.mode === 'basic') return this.#authorizeBasic(req, needs, state);
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer +(\S+)$/i.exec(header);
    if (m === null) {
      if (header !== undefined) state.failure = 'credentials other than a bearer token';
      throw challenge(this.#challenge, req, needs);
    }
    const client = clientAddress(req);
    this.#basic.throttle(client, state);
    let token: VerifiedToken;
    try {
      token = await verifyToken(this.#key, m[1]!, {
        issuer: this.issuer,
        service: this.service,
        now: this.#now(),
      });
    } catch (err) {
      if (!(err instanceof TokenRejectedError)) throw err;
      state.failure = `token refused: ${err.reason}`;
      // Expiry is the normal end of a token's life, not an attack.
      if (err.reason !== 'expired') this.#basic.fail(client);
      throw challenge(this.#challenge, req, needs, 'invalid_token');
    }
    if (token.subject !== undefined) state.user = token.subject;
    const allows = (repository: string, action: RepositoryAction): boolean =>
      grantedActions(token, repository).has(action);
    const catalog = token.access.get('registry:catalog')?.has('*') === true;
    const missing = needs.filter((need) => !satisfies(need, allows, catalog));
    if (missing.length > 0) {
      state.failure = `insufficient scope: ${missing.map(scopeOf).join(' ')}`;
      throw challenge(this.#challenge, req, needs, 'insufficient_scope');
    }
    return new Grant(token.subject, allows, this.#signatureTypes);
  }

  async #authorizeBasic(
    req: IncomingMessage,
    needs: readonly Need[],
    state: AuthState,
  ): Promise<Grant> {
    const user = await this.#basic.user(req, state, () => challenge(this.#challenge, req, needs));
    const identity: Identity = user === undefined ? ANONYMOUS : this.#rules.identity(user);
    const cache = new Map<string, Set<RepositoryAction>>();
    const allows = (repository: string, action: RepositoryAction): boolean => {
      let actions = cache.get(repository);
      if (actions === undefined) {
        actions = this.#rules.actions(identity, repository);
        cache.set(repository, actions);
      }
      return actions.has(action);
    };
    const catalog = user !== undefined && this.#rules.catalog(identity);
    const missing = needs.filter(
      (need) =>
        !satisfies(need, allows, catalog) || (need.type === 'authenticated' && user === undefined),
    );
    if (missing.length > 0) {
      if (user === undefined) throw challenge(this.#challenge, req, needs);
      state.failure = `denied: ${missing.map(scopeOf).join(' ')}`;
      throw new ApiError('DENIED', {
        detail: missing.map((n) =>
          n.type === 'repository'
            ? { Type: 'repository', Name: n.name, Action: n.action }
            : { Type: 'registry', Name: 'catalog', Action: '*' },
        ),
      });
    }
    return new Grant(user, allows, this.#signatureTypes);
  }

  /**
   * Checks a user's password for the web UI's sign-in form, under the same failure limits
   * as basic credentials. True when it is right; the failure is recorded in `state`.
   *
   * @throws ApiError TOOMANYREQUESTS (429, with Retry-After) after too many failures
   */
  async signIn(
    req: IncomingMessage,
    user: string,
    password: string,
    state: AuthState,
  ): Promise<boolean> {
    return this.#basic.signIn(req, user, password, state);
  }

  /**
   * The token endpoint (`GET /auth/token?service=…&scope=…`): authenticates basic credentials
   * (none: anonymous), grants of each requested scope what the rules allow — a requested
   * `push` is granted as `push` to writers and as `sign` (signature-only push) to signers — and
   * returns a signed token (`token-endpoint.ts`).
   *
   * @throws ApiError UNAUTHORIZED (bad credentials), DENIED (another service), UNSUPPORTED
   *   (basic mode), TOOMANYREQUESTS
   */
  async issue(
    req: IncomingMessage,
    query: URLSearchParams,
    state: AuthState,
  ): Promise<TokenResponse> {
    if (this.mode !== 'token') {
      throw new ApiError('UNSUPPORTED', { status: 404, message: 'no such endpoint' });
    }
    return this.#tokens.issue(req, query, state);
  }

  /**
   * What `user` (undefined: anonymous) may do by the rules, as a grant: what the web UI
   * shows a signed-in user (or an anonymous visitor) is what they may pull.
   */
  grantFor(user: string | undefined): Grant {
    const identity: Identity = user === undefined ? ANONYMOUS : this.#rules.identity(user);
    const cache = new Map<string, Set<RepositoryAction>>();
    return new Grant(
      user,
      (repository, action) => {
        let actions = cache.get(repository);
        if (actions === undefined) {
          actions = this.#rules.actions(identity, repository);
          cache.set(repository, actions);
        }
        return actions.has(action);
      },
      this.#signatureTypes,
    );
  }
}

function satisfies(
  need: Need,
  allows: (repository: string, action: RepositoryAction) => boolean,
  catalog: boolean,
): boolean {
  switch (need.type) {
    case 'authenticated':
      return true;
    case 'catalog':
      return catalog;
    default:
      return need.action === 'push'
        ? allows(need.name, 'push') || allows(need.name, 'sign')
        : allows(need.name, need.action);
  }
}

/**
 * Creates the registry's access control from users, groups and rules.
 *
 * @example
 * import { createAccessControl, createRegistry, hashPassword, loadTokenSigningKey } from 'nv2/registry';
 *
 * const auth = createAccessControl({
 *   users: { alice: await hashPassword('s3cret') },
 *   rules: [
 *     { repositories: ['acme/*'], users: ['alice'], roles: ['writer', 'signer'] },
 *     { repositories: ['public/*'], anonymous: true, roles: ['reader'] },
 *   ],
 *   token: { key: await loadTokenSigningKey('/var/lib/nv2/auth/token-key.pem', { create: true }) },
 * });
 * const handler = createRegistry({ store, auth });
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for invalid users, groups, rules or settings
 */
export function createAccessControl(options: AccessControlOptions): AccessControl {
  return new AccessControl(options);
}
