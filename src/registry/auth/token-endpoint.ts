import type { IncomingMessage } from 'node:http';
import { ApiError } from '../api/errors.js';
import { isRepositoryName } from '../../oci/index.js';
import type { AuthState } from './challenge.js';
import type { BasicAuthenticator } from './basic-auth.js';
import { basicChallenge } from './challenge.js';
import { ANONYMOUS, type AccessRules, type Identity } from './rules.js';
import { type AccessEntry, type TokenSigningKey, issueToken } from './tokens.js';

/**
 * The token endpoint of token mode (distribution `docs/spec/auth/token.md`): who asks (basic
 * credentials, or anonymous), which of the requested scopes the rules grant them, and the
 * signed, short-lived token listing what was granted.
 */

/** Most scopes read from one token request. */
const MAX_SCOPES = 32;

/** The token endpoint's answer (distribution token spec, "Token Response Fields"). */
export interface TokenResponse {
  readonly token: string;
  readonly access_token: string;
  readonly expires_in: number;
  readonly issued_at: string;
}

/** What the token endpoint needs. */
export interface TokenEndpointSettings {
  readonly service: string;
  readonly issuer: string;
  readonly key: TokenSigningKey;
  readonly lifetimeSeconds: number;
  readonly rules: AccessRules;
  readonly basic: BasicAuthenticator;
  readonly now: () => number;
}

/** Issues tokens (`GET /auth/token`). */
export class TokenEndpoint {
  readonly service: string;
  readonly issuer: string;
  readonly #key: TokenSigningKey;
  readonly #lifetime: number;
  readonly #rules: AccessRules;
  readonly #basic: BasicAuthenticator;
  readonly #now: () => number;

  constructor(settings: TokenEndpointSettings) {
    this.service = settings.service;
    this.issuer = settings.issuer;
    this.#key = settings.key;
    this.#lifetime = settings.lifetimeSeconds;
    this.#rules = settings.rules;
    this.#basic = settings.basic;
    this.#now = settings.now;
  }

  /**
   * The token endpoint (`GET /auth/token?service=…&scope=…`): authenticates basic credentials
   * (none: anonymous), grants of each requested scope what the rules allow — a requested
   * `push` is granted as `push` to writers and as `sign` (signature-only push) to signers — and
   * returns a signed token. Scopes that grant nothing are left out, as the spec says; unknown
   * resource types and malformed scopes too.
   *
   * @throws ApiError UNAUTHORIZED (bad credentials), DENIED (another service), UNSUPPORTED
   *   (basic mode), TOOMANYREQUESTS
   */
  async issue(
    req: IncomingMessage,
    query: URLSearchParams,
    state: AuthState,
  ): Promise<TokenResponse> {
    const service = query.get('service');
    if (service !== null && service !== this.service) {
      state.failure = 'token asked for another service';
      throw new ApiError('DENIED', { message: `this token endpoint serves ${this.service} only` });
    }
    const user = await this.#basic.user(
      req,
      state,
      () =>
        new ApiError('UNAUTHORIZED', {
          message: 'invalid username or password',
          headers: { 'WWW-Authenticate': basicChallenge(this.service) },
        }),
    );
    const identity = user === undefined ? ANONYMOUS : this.#rules.identity(user);
    const access = new Map<
      string,
      { type: 'repository' | 'registry'; name: string; actions: Set<string> }
    >();
    const scopes = query
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter((s) => s !== '')
      .slice(0, MAX_SCOPES);
    for (const scope of scopes) {
      const granted = this.#grantScope(identity, scope);
      if (granted === undefined || granted.actions.length === 0) continue;
      const key = `${granted.type}:${granted.name}`;
      const entry = access.get(key) ?? {
        type: granted.type,
        name: granted.name,
        actions: new Set<string>(),
      };
      for (const a of granted.actions) entry.actions.add(a);
      access.set(key, entry);
    }
    const now = this.#now();
    const claim: AccessEntry[] = [...access.values()].map((e) => ({
      type: e.type,
      name: e.name,
      actions: [...e.actions].sort(),
    }));
    const token = await issueToken(this.#key, {
      issuer: this.issuer,
      service: this.service,
      subject: user,
      access: claim,
      expiresInSeconds: this.#lifetime,
      now,
    });
    return {
      token,
      access_token: token,
      expires_in: this.#lifetime,
      issued_at: new Date(Math.floor(now / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    };
  }

  /** What one requested scope yields for `who`. */
  #grantScope(who: Identity, scope: string): AccessEntry | undefined {
    const last = scope.lastIndexOf(':');
    const first = scope.indexOf(':');
    if (first <= 0 || last === first) return undefined;
    // `repository(plugin):name:actions`: the resource class does not change the rules.
    const type = scope.slice(0, first).replace(/\([a-z0-9]+\)$/, '');
    const name = scope.slice(first + 1, last);
    const requested = new Set(scope.slice(last + 1).split(','));
    if (type === 'registry') {
      if (name !== 'catalog' || !requested.has('*')) return undefined;
      return {
        type,
        name,
        actions: this.#rules.catalog(who) && who.user !== undefined ? ['*'] : [],
      };
    }
    if (type !== 'repository' || !isRepositoryName(name)) return undefined;
    const allowed = this.#rules.actions(who, name);
    const out = new Set<string>();
    const all = requested.has('*');
    if ((all || requested.has('pull')) && allowed.has('pull')) out.add('pull');
    if (all || requested.has('push') || requested.has('sign')) {
      if (allowed.has('push') && (all || requested.has('push'))) out.add('push');
      if (allowed.has('sign')) out.add('sign');
    }
    if ((all || requested.has('delete')) && allowed.has('delete')) out.add('delete');
    return { type, name, actions: [...out] };
  }
}
