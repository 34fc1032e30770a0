/**
 * The vocabulary shared by every signature format's verifier and the trust policy: the
 * Notary Project's validation types, the actions a level assigns to them (the levels
 * themselves are the trust policy's, in `policy`), and the per-signature evaluation a
 * verifier reports. The one evaluator runs every check it can on a signature of any
 * format (nv2 JWS, Notary Project JWS or COSE) and reports each outcome; the policy decides
 * what an outcome means (enforce: fail; log: warn; skip: not run).
 */
import type { Nv2ErrorCode } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import type { Certificate } from '../x509/index.js';
import type { TrustSet } from './trust-set.js';

/** The checks of the Notary Project trust policy, in the order they are evaluated. */
export const VALIDATION_TYPES = [
  'integrity',
  'authenticity',
  'authenticTimestamp',
  'expiry',
  'revocation',
] as const;
export type ValidationType = (typeof VALIDATION_TYPES)[number];

/** What a level does with a check's failure. */
export type ValidationAction = 'enforce' | 'log' | 'skip';

/** Certificates of one policy statement's trust stores, by store type. */
export interface TrustAnchorSets {
  readonly ca: readonly Certificate[];
  readonly signingAuthority: readonly Certificate[];
  readonly tsa: readonly Certificate[];
}

/** Everything a verifier needs from the policy statement that applies to a signature. */
export interface EvaluationPolicy {
  /** The action for each check (the level with its overrides applied). */
  readonly actions: Readonly<Record<ValidationType, ValidationAction>>;
  readonly anchors: TrustAnchorSets;
  /**
   * The trust of nv2 signatures when the caller built it (`-c` certificates trusted as they
   * are, `--ca-cert` roots); without, it is built from `anchors.ca` and
   * `anchors.signingAuthority`, each a root.
   */
  readonly trustSet?: TrustSet;
  /** Whether the signing certificate's identity is one the statement trusts (`trustedIdentities`). */
  readonly trustedIdentity: (signer: Certificate) => boolean;
  /** `signatureVerification.verifyTimestamp`; default `always`. */
  readonly verifyTimestamp?: 'always' | 'afterCertExpiry';
  /** User metadata that must be present, with equal values, in the signed payload. */
  readonly userMetadata?: Readonly<Record<string, string>>;
  /** Verification time; default now. */
  readonly now?: Date;
  /** `trustedIdentities` as the statement writes them: what a verification plugin is sent. */
  readonly trustedIdentities?: readonly string[];
  /** Where verification plugins named by a signature are found, and what they are told. */
  readonly verificationPlugins?: VerificationPluginSettings;
}

/** How signatures naming a verification plugin (`io.cncf.notary.verificationPlugin`) are verified. */
export interface VerificationPluginSettings {
  /** Plugin directories, searched in order; none: such signatures fail (plugin not found). */
  readonly directories: readonly string[];
  /** `pluginConfig` of every plugin request (`nv2 verify --plugin-config KEY=VALUE`). */
  readonly pluginConfig?: Readonly<Record<string, string>>;
  /** How long one plugin command may run. */
  readonly timeoutMs?: number;
}

/** The outcome of one check on one signature. */
export interface CheckResult {
  readonly type: ValidationType;
  readonly action: ValidationAction;
  /** `true` passed, `false` failed, `undefined` not run (skipped, or not applicable). */
  readonly passed: boolean | undefined;
  /**
   * The stable error code of a failed check (docs/errors.md): the code of the rule that
   * failed where a format or a verification plugin knows it (`NV2_ERR_CERT_NOT_YET_VALID`,
   * `NV2_ERR_PLUGIN_VERIFICATION_FAILED`), else `CHECK_FAILURE_CODES`
   * of its type. Set exactly when `passed` is `false`.
   */
  readonly code?: Nv2ErrorCode;
  /** Why it failed (without the code), or a note on why it was not run. */
  readonly message?: string;
}

/**
 * The error code a failed check stands for when its format reports no more precise one: the
 * one mapping from validation type to code, used by every face.
 */
export const CHECK_FAILURE_CODES: Readonly<Record<ValidationType, Nv2ErrorCode>> = {
  integrity: 'NV2_ERR_SIGNATURE_INVALID',
  authenticity: 'NV2_ERR_CERT_UNTRUSTED',
  authenticTimestamp: 'NV2_ERR_CERT_EXPIRED',
  expiry: 'NV2_ERR_SIGNATURE_EXPIRED',
  revocation: 'NV2_ERR_CERT_UNTRUSTED',
};

/** A failed check's outcome, with the code of its type unless a more precise one is given. */
export function failedCheck(
  type: ValidationType,
  action: ValidationAction,
  message: string,
  code: Nv2ErrorCode = CHECK_FAILURE_CODES[type],
): CheckResult {
  return { type, action, passed: false, code, message };
}

/** A failed check in one line: `expiry: why (NV2_ERR_SIGNATURE_EXPIRED)`. */
export function describeFailedCheck(check: CheckResult): string {
  return `${check.type}: ${check.message ?? 'failed'} (${check.code ?? CHECK_FAILURE_CODES[check.type]})`;
}

/**
 * The enforced failure that stands for a signature's verdict: the first the format's rules
 * meet (`failureOrder`), else the first in `VALIDATION_TYPES` order.
 */
export function decidingFailure(evaluation: SignatureEvaluation): CheckResult | undefined {
  const failed = enforcedFailures(evaluation.checks);
  const order = evaluation.failureOrder ?? VALIDATION_TYPES;
  for (const type of order) {
    const found = failed.find((c) => c.type === type);
    if (found !== undefined) return found;
  }
  return failed[0];
}

/** The enforced checks that failed, in `VALIDATION_TYPES` order. */
export function enforcedFailures(checks: readonly CheckResult[]): CheckResult[] {
  return checks.filter((c) => c.action === 'enforce' && c.passed === false);
}

/** The signature formats nv2 reads. */
export type SignatureFormat = 'nv2' | 'jws' | 'cose';

/** One signature judged under one policy statement. */
export interface SignatureEvaluation {
  readonly format: SignatureFormat;
  /** Every check, in `VALIDATION_TYPES` order. */
  readonly checks: readonly CheckResult[];
  /**
   * The order in which the format's own rules meet failures, when it is not
   * `VALIDATION_TYPES` order (nv2: the chain and its validity before the subject), so that
   * a signature failing several rules is reported by the one its specification checks first.
   */
  readonly failureOrder?: readonly ValidationType[];
  /** No enforced check failed. */
  readonly verified: boolean;
  /** The descriptor the signature covers, when the envelope could be read. */
  readonly signedDescriptor?: Descriptor;
  /** The signing certificate, when the envelope could be read. */
  readonly signer?: Certificate;
  /** The signature algorithm by its JOSE name (`ES256`, `PS384`), when the envelope could be read. */
  readonly algorithm?: string;
  /** Signing certificate first, trust anchor last, when a chain to an anchor was built. */
  readonly certificateChain?: readonly Certificate[];
  /** Signing time as the signature claims it (or as a timestamp proves it). */
  readonly signingTime?: Date;
  /** When the signature starts to be valid (an nv2 signature's `nbf`). */
  readonly notBefore?: Date;
  readonly expiresAt?: Date;
  /** Names the manifest was published under (nv2 signatures). */
  readonly references?: readonly string[];
}

/** A format's verifier: judge `envelope` against the `subject` it is said to sign. */
export type SignatureEvaluator = (
  envelope: Uint8Array,
  subject: Descriptor,
  policy: EvaluationPolicy,
) => Promise<SignatureEvaluation>;

/** Combines check outcomes with their actions: verified when no enforced check failed. */
export function verdictOf(checks: readonly CheckResult[]): boolean {
  return checks.every((c) => c.action !== 'enforce' || c.passed !== false);
}
