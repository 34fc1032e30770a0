import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InvalidInputError } from '../../errors.js';
import type { Descriptor, Digest } from '../../oci/index.js';
import {
  MediaTypes,
  isDescriptor,
  isRepositoryName,
  referrersTagSubject,
} from '../../oci/index.js';
import { ApiError } from '../api/errors.js';
import { type FailureLimits, FailureLimiter } from './limiter.js';
import { PasswordChecker, checkUsers } from './htpasswd.js';
import {
  ANONYMOUS,
  type AccessRule,
  AccessRules,
  type Identity,
  type RepositoryAction,
} from './rules.js';
import {
  type AccessEntry,
  type TokenSigningKey,
  TokenRejectedError,
  type VerifiedToken,
  generateTokenSigningKey,
  grantedActions,
  issueToken,
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

/** The signature artifact types of the signer rule, besides configured ones. */
export const DEFAULT_SIGNATURE_TYPES: readonly string[] = [
  // nv2 (artifact-layout.md)
  'application/vnd.cncf.notary.v2',
  // the Notary Project (notation)
  'application/vnd.cncf.notary.signature',
];

/** Where the token endpoint is served. */
export const TOKEN_PATH = '/auth/token';

/** Default token lifetime: long enough for a push of a large image's next request, short enough to limit a leak. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;

/** Default `service` (the tokens' audience) and `iss`. */
export const DEFAULT_SERVICE = 'nv2-registry';

/** Most scopes read from one token request. */
const MAX_SCOPES = 32;

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

/** What a request needs. */
export type Need =
  | {
      readonly type: 'repository';
      readonly name: string;
      readonly action: 'pull' | 'push' | 'delete';
    }
  | { readonly type: 'catalog' }
  | { readonly type: 'authenticated' };

/** What access control learned about one request, for its log record (never secrets). */
export interface AuthState {
  /** The authenticated user. */
  user?: string;
  /** Why credentials or a token were refused, or why access was not granted. */
  failure?: string;
}

/** The token endpoint's answer (distribution token spec, "Token Response Fields"). */
export interface TokenResponse {
  readonly token: string;
  readonly access_token: string;
  readonly expires_in: number;
  readonly issued_at: string;
}

/**
 * What one request may do. The grant of a registry without access control allows everything.
 */
export class Grant {
  /** The user, undefined when anonymous (or when there is no access control). */
  readonly user: string | undefined;
  readonly #allows: ((repository: string, action: RepositoryAction) => boolean) | undefined;
  readonly #signatureTypes: ReadonlySet<string>;

  constructor(
    user: string | undefined,
    allows: ((repository: string, action: RepositoryAction) => boolean) | undefined,
    signatureTypes: ReadonlySet<string>,
  ) {
    this.user = user;
    this.#allows = allows;
    this.#signatureTypes = signatureTypes;
  }

  /** A grant that allows everything (no access control). */
  static readonly unrestricted = new Grant(undefined, undefined, new Set());

  /** Whether the request may do `action` on `repository`. */
  allows(repository: string, action: RepositoryAction): boolean {
    return this.#allows === undefined || this.#allows(repository, action);
  }

  /**
   * The signer rule, checked once the manifest's bytes are read: a signature artifact (its
   * `artifactType`, or its config's media type, is a signature type) needs `sign`, and is
   * stored by digest only unless the request may also `push` (a tag could otherwise replace
   * an image with a signature); anything else needs `push` — except the referrers index of
   * the tag schema, which a signer may write (see `checkReferrersIndex`): notation writes it
   * by default after pushing a signature, even to a registry with the referrers API.
   *
   * `reference` is the tag or digest of the PUT; `manifests` reads this repository's manifests.
   *
   * @throws ApiError DENIED (403) saying which role is missing, or why an index under a
   *   referrers tag is not one a signer may write
   */
  async checkManifestPush(
    repository: string,
    reference: { readonly tag?: string | undefined },
    content: Uint8Array,
    manifests: ManifestLookup,
  ): Promise<void> {
    if (this.#allows === undefined) return;
    const byTag = reference.tag !== undefined;
    const type = signatureTypeOf(content, this.#signatureTypes);
    const push = this.allows(repository, 'push');
    if (type !== undefined) {
      if (!this.allows(repository, 'sign')) {
        throw denied(
          repository,
          `pushing a signature (${type}) needs the signer role on ${repository}`,
        );
      }
      if (byTag && !push) {
        throw denied(
          repository,
          `the signer role pushes signatures by digest; tags need the writer role on ${repository}`,
        );
      }
      return;
    }
    if (push) return;
    const subject = reference.tag === undefined ? undefined : referrersTagSubject(reference.tag);
    if (subject !== undefined && this.allows(repository, 'sign')) {
      const refusal = await checkReferrersIndex(content, subject, (digest) =>
        manifests(repository, digest),
      );
      if (refusal === undefined) return;
      throw denied(
        repository,
        `the signer role may write under the referrers tag ${reference.tag!} only the referrers index of ${subject}: ${refusal}; anything else needs the writer role on ${repository}`,
      );
    }
    throw denied(
      repository,
      `the signer role may push signature artifacts only; this manifest is not one, and needs the writer role on ${repository}`,
    );
  }
}

/** Reads a manifest of a repository by digest: its descriptor and `subject`, if stored. */
export type ManifestLookup = (
  repository: string,
  digest: Digest,
) => Promise<
  { readonly descriptor: Descriptor; readonly subject?: Descriptor | undefined } | undefined
>;

/** The fields a referrers index may have: those of an image index, minus subject and artifactType. */
const REFERRERS_INDEX_FIELDS: ReadonlySet<string> = new Set([
  'schemaVersion',
  'mediaType',
  'manifests',
  'annotations',
]);

/**
 * Whether `content` is a referrers index of `subject` as the tag schema writes it, and so one a
 * signer may store under `subject`'s referrers tag. It must be an OCI image index
 * (`schemaVersion` 2, `mediaType` the OCI index type) with no fields but `schemaVersion`,
 * `mediaType`, `manifests` and `annotations` — no `subject` (it would make the index a
 * referrer itself) and no `artifactType` — and every descriptor in `manifests` must name a
 * manifest stored in this repository, with the stored media type and size, whose `subject`
 * is `subject`. An empty list qualifies (a client that removed the last referrer writes one).
 * What the descriptors carry besides (`artifactType`, `annotations`) is the client's copy and
 * not compared: the referrers API, which the registry computes itself, stays the authority.
 *
 * @returns why it is not such an index, or undefined when it is
 */
export async function checkReferrersIndex(
  content: Uint8Array,
  subject: Digest,
  manifest: (
    digest: Digest,
  ) => Promise<
    { readonly descriptor: Descriptor; readonly subject?: Descriptor | undefined } | undefined
  >,
): Promise<string | undefined> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return 'it is not JSON';
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return 'it is not a JSON object';
  }
  const index = doc as Record<string, unknown>;
  if (index['mediaType'] !== MediaTypes.ociIndex || index['schemaVersion'] !== 2) {
    return `it is not an OCI image index (mediaType ${MediaTypes.ociIndex}, schemaVersion 2)`;
  }
  const extra = Object.keys(index).filter((key) => !REFERRERS_INDEX_FIELDS.has(key));
  if (extra.length > 0) return `a referrers index has no ${extra.join(', ')}`;
  const entries = index['manifests'];
  if (!Array.isArray(entries)) return 'it has no manifests list';
  // Each distinct manifest is read once: repeating an entry costs no more reads.
  const read = new Map<Digest, Awaited<ReturnType<typeof manifest>>>();
  for (const [i, entry] of entries.entries()) {
    if (!isDescriptor(entry)) return `manifests[${i}] is not a descriptor`;
    let stored = read.get(entry.digest);
    if (!read.has(entry.digest)) {
      stored = await manifest(entry.digest);
      read.set(entry.digest, stored);
    }
    if (stored === undefined) {
      return `manifests[${i}] (${entry.digest}) is not a manifest of this repository`;
    }
    if (stored.descriptor.size !== entry.size || stored.descriptor.mediaType !== entry.mediaType) {
      return `manifests[${i}] (${entry.digest}) does not match the stored manifest's media type and size`;
    }
    if (stored.subject?.digest !== subject) {
      return `manifests[${i}] (${entry.digest}) is not a referrer of ${subject}`;
    }
  }
  return undefined;
}

function denied(repository: string, message: string): ApiError {
  return new ApiError('DENIED', { message, detail: { repository } });
}

/** The signature type a manifest declares (artifactType, else config media type), if any. */
export function signatureTypeOf(
  content: Uint8Array,
  types: ReadonlySet<string>,
): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const record = doc as Record<string, unknown>;
  const artifactType = record['artifactType'];
  if (typeof artifactType === 'string' && types.has(artifactType)) return artifactType;
  const config = record['config'];
  const configType =
    typeof config === 'object' && config !== null
      ? (config as Record<string, unknown>)['mediaType']
      : undefined;
  if (typeof configType === 'string' && types.has(configType)) return configType;
  return undefined;
}

/** The challenge scope of a need (`repository:NAME:pull,push` for a push, as clients ask). */
function scopeOf(need: Need): string | undefined {
  if (need.type === 'catalog') return 'registry:catalog:*';
  if (need.type === 'authenticated') return undefined;
  return `repository:${need.name}:${need.action === 'push' ? 'pull,push' : need.action}`;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The address a request comes from (the socket's: forwarded headers can be forged). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** A host header we are willing to echo into a realm URL. */
const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

/**
 * The registry's access control. Build it with `createAccessControl`, pass it to
 * `createRegistry({ auth })`.
 */
export class AccessControl {
  readonly mode: 'token' | 'basic';
  readonly service: string;
  readonly issuer: string;
  readonly #rules: AccessRules;
  readonly #passwords: PasswordChecker;
  readonly #limiter: FailureLimiter;
  readonly #key: TokenSigningKey;
  readonly #lifetime: number;
  readonly #realm: string | undefined;
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
    this.#passwords = new PasswordChecker(users, this.#now);
    this.#limiter = new FailureLimiter(options.failures ?? {}, this.#now);
    const token = options.token ?? {};
    this.service = token.service ?? DEFAULT_SERVICE;
    this.issuer = token.issuer ?? this.service;
    this.#key = token.key ?? generateTokenSigningKey();
    this.#lifetime = token.expiresInSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
    if (!Number.isInteger(this.#lifetime) || this.#lifetime < 10 || this.#lifetime > 86_400) {
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
    this.#realm = token.realm;
    this.#signatureTypes = new Set([...DEFAULT_SIGNATURE_TYPES, ...(options.signatureTypes ?? [])]);
  }

  /** The token signing key's public half and algorithm, e.g. to publish for other verifiers. */
  get tokenKey(): Pick<TokenSigningKey, 'publicKey' | 'alg' | 'kid'> {
    return { publicKey: this.#key.publicKey, alg: this.#key.alg, kid: this.#key.kid };
  }

  #realmFor(req: IncomingMessage): string {
    if (this.#realm !== undefined) return this.#realm;
    const scheme = (req.socket as TLSSocket).encrypted === true ? 'https' : 'http';
    const host = req.headers.host;
    if (host !== undefined && HOST.test(host)) return `${scheme}://${host}${TOKEN_PATH}`;
    const local = req.socket.localAddress ?? '127.0.0.1';
    const name = local.includes(':') ? `[${local}]` : local;
    return `${scheme}://${name}:${req.socket.localPort ?? 80}${TOKEN_PATH}`;
  }

  /** 401 with the challenge of this mode for `needs`. */
  #challenge(
    req: IncomingMessage,
    needs: readonly Need[],
    error?: 'invalid_token' | 'insufficient_scope',
  ): ApiError {
    let header: string;
    if (this.mode === 'basic') {
      header = `Basic realm=${quote(this.service)}, charset="UTF-8"`;
    } else {
      const scopes = needs.map(scopeOf).filter((s): s is string => s !== undefined);
      header =
        `Bearer realm=${quote(this.#realmFor(req))},service=${quote(this.service)}` +
        (scopes.length > 0 ? `,scope=${quote(scopes.join(' '))}` : '') +
        (error !== undefined ? `,error=${quote(error)}` : '');
    }
    const detail = needs
      .filter((n) => n.type !== 'authenticated')
      .map((n) =>
        n.type === 'catalog'
          ? { Type: 'registry', Name: 'catalog', Action: '*' }
          : { Type: 'repository', Name: n.name, Action: n.action },
      );
    return new ApiError('UNAUTHORIZED', {
      ...(detail.length > 0 ? { detail } : {}),
      headers: { 'WWW-Authenticate': header },
    });
  }

  #throttle(client: string, state: AuthState): void {
    const wait = this.#limiter.retryAfter(client);
    if (wait > 0) {
      state.failure = 'too many failed attempts from this client';
      throw new ApiError('TOOMANYREQUESTS', {
        message: `too many failed authentication attempts; retry in ${wait} s`,
        headers: { 'Retry-After': String(wait) },
      });
    }
  }

  /** The user of basic credentials, or undefined for a request without any; throws on bad ones. */
  async #basicUser(
    req: IncomingMessage,
    state: AuthState,
    onFailure: () => ApiError,
  ): Promise<string | undefined> {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const m = /^Basic +([A-Za-z0-9+/=]{1,4096})$/i.exec(header);
    const client = clientAddress(req);
    this.#throttle(client, state);
    const decoded = m === null ? '' : Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      state.failure = 'malformed basic credentials';
      this.#limiter.fail(client);
      throw onFailure();
    }
    const user = decoded.slice(0, colon);
    if (!(await this.#passwords.check(user, decoded.slice(colon + 1)))) {
      // The name is logged only when it is a user: a password typed into the name field must
      // not end up in the logs.
      state.failure = this.#passwords.has(user)
        ? `wrong password for user ${user}`
        : 'unknown user';
      this.#limiter.fail(client);
      throw onFailure();
    }
    state.user = user;
    return user;
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
      throw this.#challenge(req, needs);
    }
    const client = clientAddress(req);
    this.#throttle(client, state);
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
      if (err.reason !== 'expired') this.#limiter.fail(client);
      throw this.#challenge(req, needs, 'invalid_token');
    }
    if (token.subject !== undefined) state.user = token.subject;
    const allows = (repository: string, action: RepositoryAction): boolean =>
      grantedActions(token, repository).has(action);
    const catalog = token.access.get('registry:catalog')?.has('*') === true;
    const missing = needs.filter((need) => !satisfies(need, allows, catalog));
    if (missing.length > 0) {
      state.failure = `insufficient scope: ${missing.map(scopeOf).join(' ')}`;
      throw this.#challenge(req, needs, 'insufficient_scope');
    }
    return new Grant(token.subject, allows, this.#signatureTypes);
  }

  async #authorizeBasic(
    req: IncomingMessage,
    needs: readonly Need[],
    state: AuthState,
  ): Promise<Grant> {
    const user = await this.#basicUser(req, state, () => this.#challenge(req, needs));
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
      if (user === undefined) throw this.#challenge(req, needs);
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
    const client = clientAddress(req);
    this.#throttle(client, state);
    if (user !== '' && (await this.#passwords.check(user, password))) {
      state.user = user;
      return true;
    }
    state.failure = this.#passwords.has(user) ? `wrong password for user ${user}` : 'unknown user';
    this.#limiter.fail(client);
    return false;
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
    if (this.mode !== 'token') {
      throw new ApiError('UNSUPPORTED', { status: 404, message: 'no such endpoint' });
    }
    const service = query.get('service');
    if (service !== null && service !== this.service) {
      state.failure = 'token asked for another service';
      throw new ApiError('DENIED', { message: `this token endpoint serves ${this.service} only` });
    }
    const user = await this.#basicUser(
      req,
      state,
      () =>
        new ApiError('UNAUTHORIZED', {
          message: 'invalid username or password',
          headers: { 'WWW-Authenticate': `Basic realm=${quote(this.service)}, charset="UTF-8"` },
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
