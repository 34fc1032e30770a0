/**
 * The configuration directory (`$NV2_CONFIG_DIR`, default `~/.config/nv2`): the trust policy
 * document `trustpolicy.json` beside the trust store, and the policy that applies to a
 * repository, compiled once per statement.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../content/index.js';
import { InvalidInputError, VerificationFailedError } from '../errors.js';
import { formatReference, parseReference } from '../oci/index.js';
import {
  type EvaluationPolicy,
  type TrustAnchorSets,
  type ValidationAction,
  type ValidationType,
} from '../trust/index.js';
import { LEVEL_ACTIONS, type VerificationLevel } from './levels.js';
import type { Certificate } from '../x509/index.js';
import { isSubsetName } from './distinguished-name.js';
import {
  MAX_TRUST_POLICY_BYTES,
  type ScopePattern,
  type TrustPolicyDocument,
  type TrustPolicyStatement,
  type TrustedIdentity,
  parseRegistryScope,
  parseTrustPolicy,
  parseTrustStoreRef,
  parseTrustedIdentity,
  validateTrustPolicy,
} from './document.js';
import { TrustStore, readOptionalFile } from './trust-store.js';

/** The trust policy file's name in the configuration directory (notation's). */
export const TRUST_POLICY_FILE = 'trustpolicy.json';

/**
 * The configuration directory: `NV2_CONFIG_DIR`, else `$XDG_CONFIG_HOME/nv2`, else
 * `~/.config/nv2`.
 *
 * @example const dir = configDirectory(process.env);
 */
export function configDirectory(env: Readonly<Record<string, string | undefined>>): string {
  if (env['NV2_CONFIG_DIR'] !== undefined && env['NV2_CONFIG_DIR'] !== '')
    return env['NV2_CONFIG_DIR'];
  if (env['XDG_CONFIG_HOME'] !== undefined && env['XDG_CONFIG_HOME'] !== '')
    return join(env['XDG_CONFIG_HOME'], 'nv2');
  return join(homedir(), '.config', 'nv2');
}

/** Where a configuration's trust comes from: see `PolicyConfig.source`. */
export type TrustSource = 'trustPolicy' | 'certificates';

/** The statement that applies to a repository, compiled for evaluation. */
export interface ApplicablePolicy {
  readonly statement: TrustPolicyStatement;
  /** The registry scope that matched (`*`, a `/*` prefix scope, or the repository). */
  readonly scope: string;
  readonly level: VerificationLevel;
  /** Undefined for level skip: nothing is verified. */
  readonly evaluation?: EvaluationPolicy;
}

/** The repository scope of a reference: `registry/repository`, normalized as docker does. */
export function repositoryScope(reference: string): string {
  const ref = parseReference(reference);
  return formatReference({ registry: ref.registry, repository: ref.repository });
}

/**
 * The statement whose scopes cover `repository` (`registry/repository`), most specific
 * first: the exact repository, then the longest `/*` prefix, then `*`. Undefined when none.
 */
export function findStatement(
  document: TrustPolicyDocument,
  repository: string,
): { statement: TrustPolicyStatement; scope: string } | undefined {
  let best: { statement: TrustPolicyStatement; scope: string; rank: number } | undefined;
  for (const statement of document.trustPolicies) {
    for (const scope of statement.registryScopes) {
      const pattern: ScopePattern = parseRegistryScope(scope);
      let rank: number;
      if (pattern.kind === 'repository') rank = pattern.repository === repository ? Infinity : -1;
      else if (pattern.kind === 'prefix')
        rank = repository.startsWith(`${pattern.prefix}/`) ? pattern.prefix.length : -1;
      else rank = 0;
      if (rank >= 0 && (best === undefined || rank > best.rank)) best = { statement, scope, rank };
    }
  }
  return best === undefined ? undefined : { statement: best.statement, scope: best.scope };
}

/** The level's action for each check, with the statement's overrides applied. */
export function actionsOf(
  statement: TrustPolicyStatement,
): Readonly<Record<ValidationType, ValidationAction>> {
  const { level, override } = statement.signatureVerification;
  if (level === 'skip') {
    return {
      integrity: 'skip',
      authenticity: 'skip',
      authenticTimestamp: 'skip',
      expiry: 'skip',
      revocation: 'skip',
    };
  }
  return { ...LEVEL_ACTIONS[level], ...override };
}

/** Whether a certificate is one of `identities` (`*` trusts any). */
export function matchesTrustedIdentity(
  identities: readonly (TrustedIdentity | '*')[],
  certificate: Certificate,
): boolean {
  const subject = certificate.subjectAttributes.flat();
  return identities.some((id) => id === '*' || isSubsetName(id.attributes, subject));
}

/**
 * A loaded configuration: the validated trust policy and the trust store. Statements are
 * compiled (stores parsed, identities parsed) once and reused.
 *
 * @example
 * const config = await loadPolicyConfig(configDirectory(process.env));
 * const applicable = await config.policyFor('registry.acme-rockets.io/net-monitor:v1');
 */
export class PolicyConfig {
  readonly directory: string;
  readonly document: TrustPolicyDocument;
  readonly trustStore: TrustStore;
  readonly #compiled = new Map<string, Promise<ApplicablePolicy>>();

  constructor(directory: string, document: TrustPolicyDocument, trustStore?: TrustStore) {
    this.directory = directory;
    this.document = document;
    this.trustStore = trustStore ?? new TrustStore(directory);
  }

  /**
   * Where the trust comes from: `trustPolicy` (this directory's `trustpolicy.json`), or
   * `certificates` given directly (`certificatePolicyConfig`: `nv2 verify -c/--ca-cert`, the
   * docker plugin's `verificationCerts`), whose verification keeps the words it always had.
   */
  get source(): TrustSource {
    return 'trustPolicy';
  }

  /**
   * Whether only nv2 signatures are looked for (the docker plugin's `verificationCerts`);
   * otherwise Notary Project signatures (JWS, COSE) are judged too.
   */
  get nv2Only(): boolean {
    return false;
  }

  /**
   * The policy that applies to `reference` (a reference or `registry/repository`), with its
   * trust stores loaded. `now` fixes the verification time.
   *
   * @throws VerificationFailedError NV2_ERR_NO_APPLICABLE_POLICY when no scope covers it
   * @throws InvalidInputError NV2_ERR_TRUST_STORE_NOT_FOUND when a named store does not exist
   */
  async policyFor(reference: string, now?: Date): Promise<ApplicablePolicy> {
    const repository = repositoryScope(reference);
    const found = findStatement(this.document, repository);
    if (found === undefined) {
      throw new VerificationFailedError(
        'NV2_ERR_NO_APPLICABLE_POLICY',
        `no trust policy statement applies to ${repository}: add its registry scope (or "*") to ${join(this.directory, TRUST_POLICY_FILE)}`,
      );
    }
    const key = `${found.statement.name}\n${found.scope}`;
    let compiled = this.#compiled.get(key);
    if (compiled === undefined) {
      compiled = this.#compile(found.statement, found.scope);
      this.#compiled.set(key, compiled);
      compiled.catch(() => this.#compiled.delete(key));
    }
    const applicable = await compiled;
    if (now === undefined || applicable.evaluation === undefined) return applicable;
    return { ...applicable, evaluation: { ...applicable.evaluation, now } };
  }

  async #compile(statement: TrustPolicyStatement, scope: string): Promise<ApplicablePolicy> {
    const level = statement.signatureVerification.level;
    if (level === 'skip') return { statement, scope, level };
    const anchors: { ca: Certificate[]; signingAuthority: Certificate[]; tsa: Certificate[] } = {
      ca: [],
      signingAuthority: [],
      tsa: [],
    };
    for (const value of statement.trustStores ?? []) {
      const ref = parseTrustStoreRef(value);
      anchors[ref.type].push(...(await this.trustStore.certificates(ref.type, ref.name)));
    }
    const identities = (statement.trustedIdentities ?? []).map((v) =>
      v === '*' ? ('*' as const) : parseTrustedIdentity(v),
    );
    const frozen: TrustAnchorSets = anchors;
    const evaluation: EvaluationPolicy = {
      actions: actionsOf(statement),
      anchors: frozen,
      trustedIdentity: (signer) => matchesTrustedIdentity(identities, signer),
      trustedIdentities: statement.trustedIdentities ?? [],
      ...(statement.signatureVerification.verifyTimestamp !== undefined
        ? { verifyTimestamp: statement.signatureVerification.verifyTimestamp }
        : {}),
    };
    return { statement, scope, level, evaluation };
  }
}

/**
 * Reads `trustpolicy.json` from a configuration directory.
 *
 * @throws InvalidInputError NV2_ERR_TRUST_POLICY_NOT_FOUND when there is none,
 *   NV2_ERR_TRUST_POLICY_INVALID when it breaks a rule
 */
export async function readTrustPolicy(directory: string): Promise<TrustPolicyDocument> {
  const path = join(directory, TRUST_POLICY_FILE);
  const data = await readOptionalFile(path, MAX_TRUST_POLICY_BYTES);
  if (data === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_TRUST_POLICY_NOT_FOUND',
      `there is no trust policy at ${path}: create one with nv2 policy init (or import one with nv2 policy import FILE), or verify with -c/--ca-cert`,
    );
  }
  try {
    return parseTrustPolicy(data);
  } catch (err) {
    if (err instanceof InvalidInputError)
      throw new InvalidInputError(err.code, `${path}: ${err.message}`);
    throw err;
  }
}

/** Loads the configuration of a directory: its validated trust policy and its trust store. */
export async function loadPolicyConfig(directory: string): Promise<PolicyConfig> {
  return new PolicyConfig(directory, await readTrustPolicy(directory));
}

/**
 * Validates a trust policy and writes it to the configuration directory atomically
 * (a reader sees the old or the new document, never a part).
 *
 * @throws InvalidInputError NV2_ERR_TRUST_POLICY_INVALID (nothing is written)
 */
export async function writeTrustPolicy(
  directory: string,
  document: unknown,
): Promise<TrustPolicyDocument> {
  const valid = validateTrustPolicy(document);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(directory, TRUST_POLICY_FILE), `${JSON.stringify(valid, null, 2)}\n`);
  return valid;
}

/**
 * The starting policy of `nv2 policy init`: trust required everywhere (`strict`), signed by
 * certificates of the `ca:default` store, any identity.
 */
export function initialTrustPolicy(): TrustPolicyDocument {
  return {
    version: '1.0',
    trustPolicies: [
      {
        name: 'default',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:default'],
        trustedIdentities: ['*'],
      },
    ],
  };
}

/**
 * A copy of `document` in which the statement for `scope` has `level`. An existing
 * statement naming exactly that scope is changed (its trust stores and identities kept, or
 * dropped for skip, which may have none); otherwise a new statement named after the scope
 * is added, with the stores and identities of the statement that applied to it so far.
 *
 * @throws InvalidInputError NV2_ERR_TRUST_POLICY_INVALID, NV2_ERR_INVALID_ARGUMENT
 */
export function withScopeLevel(
  document: TrustPolicyDocument,
  scope: string,
  level: VerificationLevel,
): TrustPolicyDocument {
  parseRegistryScope(scope, 'scope');
  const statements = [...document.trustPolicies];
  const index = statements.findIndex((s) => s.registryScopes.includes(scope));
  const withLevel = (s: TrustPolicyStatement, base: TrustPolicyStatement): TrustPolicyStatement => {
    const verification = { ...s.signatureVerification, level };
    if (level === 'skip') {
      return {
        name: s.name,
        registryScopes: s.registryScopes,
        signatureVerification: { level: 'skip' },
      };
    }
    if (verification.override !== undefined && Object.keys(verification.override).length === 0)
      delete (verification as { override?: unknown }).override;
    const stores = s.trustStores ?? base.trustStores;
    const identities = s.trustedIdentities ?? base.trustedIdentities;
    if (stores === undefined || stores.length === 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `level ${level} needs trust stores, and no statement that applies to ${scope} has any: edit the policy (nv2 policy import FILE)`,
      );
    }
    return {
      name: s.name,
      registryScopes: s.registryScopes,
      signatureVerification: verification,
      trustStores: stores,
      trustedIdentities: identities ?? ['*'],
    };
  };
  const ancestor = findAncestor(document, scope);
  if (index !== -1) {
    const current = statements[index]!;
    if (current.registryScopes.length === 1) {
      statements[index] = withLevel(current, ancestor ?? current);
    } else {
      // Split the scope out of a shared statement, so that the others keep their level.
      statements[index] = {
        ...current,
        registryScopes: current.registryScopes.filter((s) => s !== scope),
      };
      statements.push(
        withLevel(
          { ...current, name: uniqueName(document, scope), registryScopes: [scope] },
          current,
        ),
      );
    }
  } else {
    const base = ancestor;
    const fresh: TrustPolicyStatement = {
      name: uniqueName(document, scope),
      registryScopes: [scope],
      signatureVerification: { level },
      ...(base?.trustStores !== undefined ? { trustStores: base.trustStores } : {}),
      ...(base?.trustedIdentities !== undefined
        ? { trustedIdentities: base.trustedIdentities }
        : {}),
    };
    statements.push(withLevel(fresh, base ?? fresh));
  }
  return validateTrustPolicy({ version: document.version, trustPolicies: statements });
}

/** The statement that covers `scope` today, ignoring one that names `scope` itself. */
function findAncestor(
  document: TrustPolicyDocument,
  scope: string,
): TrustPolicyStatement | undefined {
  const others = {
    ...document,
    trustPolicies: document.trustPolicies
      .map((s) => ({ ...s, registryScopes: s.registryScopes.filter((r) => r !== scope) }))
      .filter((s) => s.registryScopes.length > 0),
  };
  if (scope === '*') return undefined;
  const probe = scope.endsWith('/*') ? `${scope.slice(0, -2)}/x` : scope;
  return findStatement(others, probe.includes('/') ? probe : `${probe}/x`)?.statement;
}

function uniqueName(document: TrustPolicyDocument, scope: string): string {
  const base =
    scope === '*' ? 'global' : scope.replace(/\/\*$/, '').replace(/[^a-zA-Z0-9_.-]+/g, '-');
  let name = base;
  for (let i = 2; document.trustPolicies.some((s) => s.name === name); i++) name = `${base}-${i}`;
  return name;
}
