import {
  InvalidInputError,
  Nv2Error,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../../errors.js';
import {
  type SignatureOutcome,
  type PolicyVerification,
  PolicyVerificationError,
  verifyWithPolicy,
} from '../../verification/index.js';
import { type Digest, MediaTypes } from '../../oci/index.js';
import type { PolicyConfig, VerificationLevel } from '../../policy/index.js';
import { type ValidationType, describeFailedCheck } from '../../trust/index.js';
import { compilePattern } from '../auth/rules.js';
import type { RegistryStore } from '../storage/store.js';
import { repositoryTarget } from './store-target.js';

/**
 * Verdicts: what the registry thinks of its content under its trust policy, for the UI and for
 * enforcement at pull.
 *
 * Why this file is long: it is one concern, the verdict of a manifest: the statuses and findings
 * it reports (the contract the UI and enforcement read), how the results of verification map to
 * them, and the one cache of verdicts with what invalidates it (a referrer pushed or deleted, a
 * policy reload).
 */

/**
 * What the registry thinks of one manifest under its trust policy (the statement whose
 * registry scope covers `<registry name>/<repository>`, as `nv2 verify` would pick it):
 *
 * - `verified`: at least one signature verified;
 * - `unsigned`: no signature at all;
 * - `untrusted`: signed, but only by signers the statement does not trust;
 * - `invalid`: a signature does not verify as a signature (or signs other content);
 * - `expired`: a signature or its certificate has expired;
 * - `unreadable`: a signature envelope could not be read or is in no format nv2 evaluates;
 * - `skipped`: the statement's level is `skip`;
 * - `no-policy`: no statement covers the repository;
 * - `error`: the trust configuration cannot be used (a trust store it names is missing).
 */
export type TrustStatus =
  | 'verified'
  | 'unsigned'
  | 'untrusted'
  | 'invalid'
  | 'expired'
  | 'unreadable'
  | 'skipped'
  | 'no-policy'
  | 'error';

/** The verdict on one signature. */
export type SignatureStatus = 'verified' | 'untrusted' | 'invalid' | 'expired' | 'unreadable';

/** The envelope formats, as people name them. */
export type SignatureFormatName = 'nv2' | 'JWS' | 'COSE' | 'unknown';

/** One signature of a manifest, judged. */
export interface SignatureFinding {
  /** The signature manifest's digest. */
  readonly digest: Digest;
  readonly format: SignatureFormatName;
  readonly status: SignatureStatus;
  /** The signing certificate's subject, when the envelope could be read. */
  readonly signer?: string;
  /** The signing certificate's SHA-256 fingerprint (hex). */
  readonly fingerprint?: string;
  /** Certificate subjects, signing certificate first (to the trust anchor when one was found). */
  readonly chain: readonly string[];
  /** When it was signed (as the signature claims, or as its timestamp proves). */
  readonly signedAt?: Date;
  /** Why it did not verify (its failed enforced checks), or notes on checks only logged. */
  readonly message?: string;
}

/** The verdict on one manifest of one repository. */
export interface TrustVerdict {
  readonly repository: string;
  readonly digest: Digest;
  readonly status: TrustStatus;
  /** Whether the statement lets the content through (verified, audit level, or skip). */
  readonly passed: boolean;
  /** The trust policy statement that applied, its scope and level (absent for no-policy/error). */
  readonly policy?: {
    readonly name: string;
    readonly scope: string;
    readonly level: VerificationLevel;
  };
  /** One line saying why it did not pass, for clients (a 403's message) and people. */
  readonly reason: string;
  readonly signatures: readonly SignatureFinding[];
  readonly computedAt: Date;
}

/** `level` of an enforcement rule: `enforce` refuses what did not pass; `audit` only logs it. */
export type EnforcementLevel = 'enforce' | 'audit';

/** An enforcement rule: repositories whose manifests are judged at pull. */
export interface EnforcementRule {
  /** Repository patterns, as in access rules: `*` stands for any run of characters, `/` included. */
  readonly repositories: readonly string[];
  readonly level: EnforcementLevel;
}

/** What enforcement decided about one manifest pull, for the log and metrics. */
export interface EnforcementDecision {
  /** `allow`: passed; `deny`: refused (403); `audit`: did not pass, let through and logged; `exempt`: not judged. */
  readonly decision: 'allow' | 'deny' | 'audit' | 'exempt';
  readonly level: EnforcementLevel;
  /** The verdict's status; `referrer` or `role` for exemptions. */
  readonly status: TrustStatus | 'referrer' | 'role';
  readonly digest: Digest;
  /** Why it was refused or audited; for a platform manifest allowed through its index, which. */
  readonly reason?: string;
}

/** Options of `createRegistryTrust`. */
export interface RegistryTrustOptions {
  readonly store: RegistryStore;
  /** The trust policy and trust store (`loadPolicyConfig(dir)`). */
  readonly policy: PolicyConfig;
  /**
   * The registry's name as clients write it in references (`registry.example.com`,
   * `127.0.0.1:5000`): the trust policy's registry scopes are `<name>/<repository>`. A
   * function when it is known only once the server listens.
   */
  readonly registryName: string | (() => string);
  /** Which repositories are enforced at pull; none by default (verdicts still shown). */
  readonly enforce?: readonly EnforcementRule[];
  /** The clock; for tests. */
  readonly now?: () => Date;
  /** Most verdicts kept (oldest dropped first); default `DEFAULT_MAX_VERDICTS`. */
  readonly maxVerdicts?: number;
}

/** Verdicts kept by default: a few MiB for a registry of tens of thousands of images. */
export const DEFAULT_MAX_VERDICTS = 50_000;

/** Most characters of a refusal reason: clients print it on one line. */
const MAX_REASON_CHARS = 600;

/** Signature statuses from the most telling to the least, for one-line reasons. */
const FAILURE_ORDER: readonly SignatureStatus[] = ['untrusted', 'expired', 'invalid', 'unreadable'];

const STATUS_OF_CHECK: Readonly<Record<ValidationType, SignatureStatus>> = {
  integrity: 'invalid',
  authenticity: 'untrusted',
  authenticTimestamp: 'expired',
  expiry: 'expired',
  revocation: 'untrusted',
};

function formatName(s: SignatureOutcome): SignatureFormatName {
  const format = s.evaluation?.format;
  if (format === 'nv2') return 'nv2';
  if (format === 'jws') return 'JWS';
  if (format === 'cose') return 'COSE';
  switch (s.envelopeMediaType) {
    case MediaTypes.nv2Signature:
      return 'nv2';
    case MediaTypes.notationJws:
      return 'JWS';
    case MediaTypes.notationCose:
      return 'COSE';
    default:
      return 'unknown';
  }
}

function findingOf(s: SignatureOutcome): SignatureFinding {
  const evaluation = s.evaluation;
  const format = formatName(s);
  if (evaluation === undefined) {
    return {
      digest: s.manifest.digest,
      format,
      status: 'unreadable',
      chain: [],
      message: `${s.error?.code ?? 'NV2_ERR_INTERNAL'}: ${s.error?.message ?? 'not evaluated'}`,
    };
  }
  const failed = evaluation.checks.filter((c) => c.action === 'enforce' && c.passed === false);
  const logged = evaluation.checks.filter((c) => c.action === 'log' && c.passed === false);
  const status: SignatureStatus = evaluation.verified
    ? 'verified'
    : STATUS_OF_CHECK[failed[0]?.type ?? 'integrity'];
  const notes = (evaluation.verified ? logged : failed).map(
    (c) => `${describeFailedCheck(c)}${c.action === 'log' ? ' (logged)' : ''}`,
  );
  const chain = evaluation.certificateChain ?? (evaluation.signer ? [evaluation.signer] : []);
  return {
    digest: s.manifest.digest,
    format,
    status,
    ...(evaluation.signer !== undefined
      ? {
          signer: evaluation.signer.subject,
          fingerprint: evaluation.signer.fingerprintSha256,
        }
      : {}),
    chain: chain.map((c) => c.subject),
    ...(evaluation.signingTime !== undefined ? { signedAt: evaluation.signingTime } : {}),
    ...(notes.length > 0 ? { message: notes.join('; ') } : {}),
  };
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}

/** The verdict of a finished policy verification (passed or not). */
function verdictOf(
  repository: string,
  digest: Digest,
  result: PolicyVerification,
  computedAt: Date,
): TrustVerdict {
  const signatures = result.signatures.map(findingOf);
  const policy = { name: result.statement.name, scope: result.scope, level: result.level };
  // Single quotes: clients print reasons inside double-quoted log fields (skopeo, containerd).
  const where = `trust policy '${policy.name}' (${policy.level})`;
  const base = { repository, digest, policy, signatures, computedAt };
  if (result.level === 'skip') {
    return { ...base, status: 'skipped', passed: true, reason: `${where} verifies nothing` };
  }
  if (signatures.some((s) => s.status === 'verified')) {
    return { ...base, status: 'verified', passed: true, reason: '' };
  }
  if (signatures.length === 0) {
    return {
      ...base,
      status: 'unsigned',
      passed: result.passed,
      reason: `unsigned: ${repository}@${digest} has no signature, and the ${where} requires a trusted one`,
    };
  }
  const status = FAILURE_ORDER.find((kind) => signatures.some((s) => s.status === kind))!;
  let reason: string;
  if (status === 'untrusted') {
    const signers = [
      ...new Set(
        signatures
          .filter((s) => s.status === 'untrusted' && s.signer !== undefined)
          .map((s) => `'${s.signer}' (SHA-256 ${s.fingerprint!.slice(0, 16)}…)`),
      ),
    ];
    reason = `signed only by untrusted keys: ${signers.join(', ')}; the ${where} trusts none of them`;
  } else {
    const pick = signatures.find((s) => s.status === status)!;
    const label = status === 'invalid' ? 'invalid signature' : status;
    const by = pick.signer !== undefined ? ` by '${pick.signer}'` : '';
    reason = `${label}${by} under the ${where}: ${pick.message ?? 'failed'}`;
  }
  return { ...base, status, passed: result.passed, reason: clip(reason) };
}

/**
 * The registry's judgement of its content under a trust policy: verdicts cached by
 * repository and digest, recomputed when a referrer of the subject is pushed or deleted or
 * when the policy is replaced; and enforcement at pull (`decide`). Build it with
 * `createRegistryTrust` and pass it to `createRegistry({ trust })`.
 */
export class RegistryTrust {
  readonly #store: RegistryStore;
  #policy: PolicyConfig;
  readonly #registryName: () => string;
  readonly #rules: readonly { patterns: readonly RegExp[]; level: EnforcementLevel }[];
  readonly #now: () => Date;
  readonly #max: number;
  readonly #verdicts = new Map<string, Promise<TrustVerdict>>();
  readonly #settled = new Map<string, TrustVerdict>();
  /**
   * Platform manifests of indexes that passed, by `repository@digest`, with the index: an
   * image signed as a whole (its index signed) is pulled index first, then each platform
   * manifest by digest, and those carry no signature of their own.
   */
  readonly #viaIndex = new Map<string, Digest>();
  #generation = 0;

  /** @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an invalid enforcement rule */
  constructor(options: RegistryTrustOptions) {
    this.#store = options.store;
    this.#policy = options.policy;
    const name = options.registryName;
    this.#registryName = typeof name === 'string' ? () => name : name;
    this.#now = options.now ?? (() => new Date());
    this.#max = options.maxVerdicts ?? DEFAULT_MAX_VERDICTS;
    this.#rules = (options.enforce ?? []).map((rule, i) => {
      if (rule.level !== 'enforce' && rule.level !== 'audit') {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `enforcement rule ${i}: level must be enforce or audit`,
        );
      }
      if (
        rule.repositories.length === 0 ||
        !rule.repositories.every((p) => /^[a-z0-9._/*-]{1,255}$/.test(p))
      ) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `enforcement rule ${i}: repositories must be repository patterns (lower-case names, * for any run)`,
        );
      }
      return { patterns: rule.repositories.map(compilePattern), level: rule.level };
    });
  }

  /** The trust policy in use. */
  get policy(): PolicyConfig {
    return this.#policy;
  }

  /** The registry name of the trust policy's scopes. */
  get registryName(): string {
    return this.#registryName();
  }

  /** Bumped whenever cached verdicts are dropped wholesale (a policy replaced). */
  get generation(): number {
    return this.#generation;
  }

  /** The enforcement level of `repository`: the first rule covering it, else undefined. */
  enforcementOf(repository: string): EnforcementLevel | undefined {
    return this.#rules.find((r) => r.patterns.some((p) => p.test(repository)))?.level;
  }

  /** The verdict on `digest` in `repository` when it is cached and settled. */
  cached(repository: string, digest: Digest): TrustVerdict | undefined {
    return this.#settled.get(`${repository}@${digest}`);
  }

  /**
   * The verdict on the manifest `digest` of `repository`, computed once and cached until a
   * referrer of it changes or the policy is replaced. A verdict that could not be reached for
   * reasons that say nothing about the content (storage failing) is not cached.
   *
   * @throws VerificationInconclusiveError, StorageError when no verdict could be reached
   */
  verdict(repository: string, digest: Digest): Promise<TrustVerdict> {
    const key = `${repository}@${digest}`;
    let pending = this.#verdicts.get(key);
    if (pending === undefined) {
      const generation = this.#generation;
      pending = this.#compute(repository, digest);
      this.#verdicts.set(key, pending);
      if (this.#verdicts.size > this.#max) this.#evictOldest();
      pending.then(
        (v) => {
          if (this.#verdicts.get(key) === pending && this.#generation === generation) {
            this.#settled.set(key, v);
          }
        },
        () => {
          if (this.#verdicts.get(key) === pending) this.#verdicts.delete(key);
        },
      );
    }
    return pending;
  }

  #evictOldest(): void {
    const oldest = this.#verdicts.keys().next().value;
    if (oldest !== undefined) {
      this.#verdicts.delete(oldest);
      this.#settled.delete(oldest);
    }
  }

  async #compute(repository: string, digest: Digest): Promise<TrustVerdict> {
    const now = this.#now();
    const policy = this.#policy;
    try {
      const result = await verifyWithPolicy(
        repositoryTarget(this.#store, repository),
        `${this.#registryName()}/${repository}@${digest}`,
        policy,
        { now },
      );
      return verdictOf(repository, digest, result, now);
    } catch (err) {
      if (err instanceof PolicyVerificationError) {
        return verdictOf(repository, digest, err.result, now);
      }
      if (err instanceof VerificationInconclusiveError || !(err instanceof Nv2Error)) throw err;
      const noPolicy =
        err instanceof VerificationFailedError && err.code === 'NV2_ERR_NO_APPLICABLE_POLICY';
      return {
        repository,
        digest,
        status: noPolicy ? 'no-policy' : 'error',
        passed: false,
        reason: clip(
          noPolicy
            ? `no trust policy statement applies to ${this.#registryName()}/${repository}`
            : `the registry's trust configuration cannot be used: ${err.code}: ${err.message}`,
        ),
        signatures: [],
        computedAt: now,
      };
    }
  }

  /** A referrer of `subject` was pushed or deleted in `repository`: its verdict is stale. */
  referrersChanged(repository: string, subject: Digest): void {
    const key = `${repository}@${subject}`;
    this.#verdicts.delete(key);
    this.#settled.delete(key);
  }

  /** The manifest `digest` left `repository`: forget its verdict. */
  forget(repository: string, digest: Digest): void {
    this.referrersChanged(repository, digest);
  }

  /** Uses `policy` from now on; every cached verdict is dropped. */
  replacePolicy(policy: PolicyConfig): void {
    this.#policy = policy;
    this.#generation += 1;
    this.#verdicts.clear();
    this.#settled.clear();
    this.#viaIndex.clear();
  }

  /**
   * Enforcement at pull of the manifest `digest` of `repository`: undefined when no rule
   * covers the repository. Referrers (manifests with a `subject`: signatures, SBOMs) are
   * exempt, as are users who may sign in the repository (`mayBypass`: the signer and admin
   * roles; one must be able to pull unsigned content to sign it). Otherwise the cached verdict
   * decides: `enforce` refuses what did not pass, `audit` lets it through. A verdict that
   * cannot be reached refuses under `enforce` (fails closed). A platform manifest without a
   * verdict of its own passes when an index that lists it passed (and still does): clients
   * pull the index first; one pulling a platform manifest by digest before anyone pulled its
   * index needs that manifest signed itself.
   */
  async decide(
    repository: string,
    digest: Digest,
    facts: {
      readonly hasSubject: boolean;
      readonly mayBypass: boolean;
      /** The manifests an index lists: pullable once the index passes. */
      readonly children?: readonly Digest[];
    },
  ): Promise<EnforcementDecision | undefined> {
    const level = this.enforcementOf(repository);
    if (level === undefined) return undefined;
    if (facts.hasSubject) return { decision: 'exempt', level, status: 'referrer', digest };
    if (facts.mayBypass) return { decision: 'exempt', level, status: 'role', digest };
    let verdict: TrustVerdict;
    try {
      verdict =
        this.#settled.get(`${repository}@${digest}`) ?? (await this.verdict(repository, digest));
    } catch (err) {
      const reason = `could not be verified: ${err instanceof Nv2Error ? `${err.code}: ` : ''}the registry could not read its signatures`;
      return {
        decision: level === 'enforce' ? 'deny' : 'audit',
        level,
        status: 'error',
        digest,
        reason,
      };
    }
    if (verdict.passed) {
      for (const child of facts.children ?? []) {
        if (this.#viaIndex.size >= this.#max) this.#viaIndex.clear();
        this.#viaIndex.set(`${repository}@${child}`, digest);
      }
      return { decision: 'allow', level, status: verdict.status, digest };
    }
    const index = this.#viaIndex.get(`${repository}@${digest}`);
    if (index !== undefined && this.#settled.get(`${repository}@${index}`)?.passed === true) {
      return { decision: 'allow', level, status: 'verified', digest, reason: `listed by ${index}` };
    }
    return {
      decision: level === 'enforce' ? 'deny' : 'audit',
      level,
      status: verdict.status,
      digest,
      reason: verdict.reason,
    };
  }
}

/**
 * Creates the registry's trust judgement: verdicts under `policy` for the UI, and
 * enforcement at pull for the repositories of `enforce`.
 *
 * @example
 * import { loadPolicyConfig } from 'nv2';
 * import { createRegistry, createRegistryTrust } from 'nv2/registry';
 *
 * const trust = createRegistryTrust({
 *   store,
 *   policy: await loadPolicyConfig('/etc/nv2/registry-trust'),
 *   registryName: 'registry.example.com',
 *   enforce: [{ repositories: ['prod/*'], level: 'enforce' }],
 * });
 * const handler = createRegistry({ store, trust });
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an invalid enforcement rule
 */
export function createRegistryTrust(options: RegistryTrustOptions): RegistryTrust {
  return new RegistryTrust(options);
}
