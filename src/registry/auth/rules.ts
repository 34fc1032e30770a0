import { InvalidInputError } from '../../errors.js';

/**
 * Access rules: for repository patterns, which users or groups hold which roles, and whether
 * anonymous clients may pull. A user's actions on a repository are the union of the roles of
 * every rule that matches both; nothing is allowed unless a rule says so.
 */

/** The roles, from least to most: each names the actions it allows on a repository. */
export const ROLES = ['reader', 'writer', 'signer', 'admin'] as const;

/** A role of a rule. */
export type Role = (typeof ROLES)[number];

/**
 * Actions on a repository, as tokens carry them in their `access` claim:
 * - `pull`: read manifests, blobs, tags, referrers;
 * - `push`: upload blobs, store any manifest, move tags;
 * - `sign`: upload blobs and store signature manifests by digest, nothing else (a signer's
 *   `push`, restricted; the token server grants it for a requested `push`);
 * - `delete`: delete manifests, tags and blobs.
 */
export type RepositoryAction = 'pull' | 'push' | 'sign' | 'delete';

/** What each role allows. */
export const ROLE_ACTIONS: Readonly<Record<Role, readonly RepositoryAction[]>> = {
  reader: ['pull'],
  writer: ['pull', 'push'],
  signer: ['pull', 'sign'],
  admin: ['pull', 'push', 'sign', 'delete'],
};

/** One access rule. */
export interface AccessRule {
  /**
   * Repository patterns: `*` stands for any run of characters, `/` included (`acme/*` covers
   * `acme/app` and `acme/team/app`; `*` alone covers every repository).
   */
  readonly repositories: readonly string[];
  readonly roles: readonly Role[];
  /** Users the rule applies to; `*` is any authenticated user. */
  readonly users?: readonly string[];
  /** Groups (of `AccessControlOptions.groups`) the rule applies to. */
  readonly groups?: readonly string[];
  /** Whether the rule applies to clients without credentials too; only `reader` may be given. */
  readonly anonymous?: boolean;
}

/** Who is asking: a user and their groups, or nobody (anonymous). */
export interface Identity {
  readonly user: string | undefined;
  readonly groups: ReadonlySet<string>;
}

/** An identity without credentials. */
export const ANONYMOUS: Identity = { user: undefined, groups: new Set() };

/** A compiled rule. */
interface CompiledRule {
  readonly patterns: readonly RegExp[];
  /** Whether one of the patterns is `*` alone: the rule is about the whole registry. */
  readonly everything: boolean;
  readonly actions: ReadonlySet<RepositoryAction>;
  readonly admin: boolean;
  readonly users: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  readonly anonymous: boolean;
}

/** Pattern characters: the repository grammar's plus `*`. */
const PATTERN = /^[a-z0-9._/*-]{1,255}$/;

/** A repository pattern (`*` matches any run of characters, `/` included) as a RegExp. */
export function compilePattern(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.\\+?^${}()|[\]-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

function bad(message: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `access rules: ${message}`);
}

/**
 * The rules, checked and compiled, with group membership: answers what an identity may do.
 *
 * @example
 * const rules = new AccessRules(
 *   [{ repositories: ['acme/*'], users: ['alice'], roles: ['signer'] }],
 *   { release: ['bob'] },
 * );
 * rules.actions(rules.identity('alice'), 'acme/app'); // Set { 'pull', 'sign' }
 */
export class AccessRules {
  readonly #rules: readonly CompiledRule[];
  readonly #groupsOf = new Map<string, Set<string>>();

  /**
   * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an unknown role or group, an invalid
   *   pattern, a rule naming nobody, or anonymous access beyond `reader`
   */
  constructor(
    rules: readonly AccessRule[],
    groups: Readonly<Record<string, readonly string[]>> = {},
  ) {
    for (const [group, members] of Object.entries(groups)) {
      for (const member of members) {
        const set = this.#groupsOf.get(member) ?? new Set<string>();
        set.add(group);
        this.#groupsOf.set(member, set);
      }
    }
    this.#rules = rules.map((rule, i) => {
      const where = `rule ${i + 1}`;
      if (rule.repositories.length === 0) throw bad(`${where} names no repository pattern`);
      for (const p of rule.repositories) {
        if (!PATTERN.test(p))
          throw bad(`${where}: invalid repository pattern ${JSON.stringify(p)}`);
      }
      if (rule.roles.length === 0) throw bad(`${where} gives no role`);
      for (const role of rule.roles) {
        if (!(ROLES as readonly string[]).includes(role)) {
          throw bad(`${where}: unknown role ${JSON.stringify(role)} (roles: ${ROLES.join(', ')})`);
        }
      }
      for (const group of rule.groups ?? []) {
        if (!Object.hasOwn(groups, group)) throw bad(`${where}: unknown group ${group}`);
      }
      const anonymous = rule.anonymous === true;
      if (anonymous && rule.roles.some((r) => r !== 'reader')) {
        throw bad(`${where}: anonymous clients may only be given the reader role`);
      }
      if (!anonymous && (rule.users ?? []).length === 0 && (rule.groups ?? []).length === 0) {
        throw bad(`${where} applies to nobody: name users, groups or anonymous: true`);
      }
      return {
        patterns: rule.repositories.map(compilePattern),
        everything: rule.repositories.includes('*'),
        actions: new Set(rule.roles.flatMap((r) => ROLE_ACTIONS[r])),
        admin: rule.roles.includes('admin'),
        users: new Set(rule.users ?? []),
        groups: new Set(rule.groups ?? []),
        anonymous,
      };
    });
  }

  /** The identity of an authenticated user (with their groups). */
  identity(user: string): Identity {
    return { user, groups: this.#groupsOf.get(user) ?? new Set() };
  }

  #applies(rule: CompiledRule, who: Identity): boolean {
    if (rule.anonymous) return true;
    if (who.user === undefined) return false;
    if (rule.users.has('*') || rule.users.has(who.user)) return true;
    for (const g of who.groups) if (rule.groups.has(g)) return true;
    return false;
  }

  /** What `who` may do on `repository`. */
  actions(who: Identity, repository: string): Set<RepositoryAction> {
    const out = new Set<RepositoryAction>();
    for (const rule of this.#rules) {
      if (!this.#applies(rule, who)) continue;
      if (!rule.patterns.some((p) => p.test(repository))) continue;
      for (const a of rule.actions) out.add(a);
    }
    return out;
  }

  /**
   * Whether `who` may list every repository (`registry:catalog:*`): admins of a rule whose
   * patterns include `*` alone, since the catalog names every repository.
   */
  catalog(who: Identity): boolean {
    return this.#rules.some(
      (r) => r.admin && r.everything && !r.anonymous && this.#applies(r, who),
    );
  }
}
