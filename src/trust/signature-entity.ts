/**
 * The signature entity: what a format module makes of one envelope once it has parsed it and
 * checked the envelope itself (the signature value verifies under the carried signing
 * certificate, the payload is read). Every format (nv2 JWS, the Notary Project's JWS and
 * COSE) produces one, and one evaluator (`verification/`) judges it under a policy statement:
 * the checks, their outcomes, skip/log/enforce and the verdict are the evaluator's; a format
 * keeps only the rules that genuinely differ, as the named hooks of `EntityRules`.
 *
 * The interface lives here, beside `CheckResult`, because both the format modules and the
 * evaluator read it and `notation` may not import `verification`.
 */
import type { Nv2ErrorCode } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import type { Certificate, CertificatePath } from '../x509/index.js';
import type {
  EvaluationPolicy,
  SignatureFormat,
  ValidationAction,
  ValidationType,
} from './evaluation.js';

/** Why a rule failed: a failed check's message and, where the format knows it, its code. */
export interface CheckProblem {
  readonly message: string;
  readonly code?: Nv2ErrorCode;
}

/** A rule's outcome where a pass may carry a note (`timestamped at …`). */
export interface CheckOutcome {
  readonly passed: boolean;
  readonly message?: string;
  readonly code?: Nv2ErrorCode;
}

/** The chains from the signing certificate to a trust anchor that authenticity found. */
export interface TrustedPaths {
  /** Signing certificate first, trust anchor last; the first is the one reported. */
  readonly paths: readonly CertificatePath[];
}

/** The checks a verification plugin can answer in the verifier's place. */
export type PluginCheck = 'authenticity' | 'revocation';

/** A verification plugin found and able to verify the signature that names it. */
export interface PluginVerifier {
  readonly name: string;
  /** The checks it answers for, in the order of its capabilities. */
  readonly answers: readonly PluginCheck[];
  /** Asks it about `checks`: each one's result, or why it could not answer. */
  run(
    checks: readonly PluginCheck[],
    policy: EvaluationPolicy,
  ): Promise<
    ReadonlyMap<PluginCheck, { readonly success: boolean; readonly reason?: string }> | CheckProblem
  >;
}

/** How checks that did not run are noted, in the format's own words. */
export type NotRunNote = (action: ValidationAction, stoppedByIntegrity: boolean) => string;

/**
 * The rules of a format where they differ from another's. Each hook judges one rule of one
 * check; the evaluator decides whether it runs, what its outcome means and how it is recorded.
 */
export interface EntityRules {
  readonly notRunNote: NotRunNote;
  /**
   * Whether a sound signature for another subject is still judged whole (nv2: its signer,
   * chain and times are facts) rather than stopped at integrity (the Notary Project).
   */
  readonly judgedWholeForOtherSubject: boolean;
  /**
   * Whether the chain is reported only when authenticity passed (the Notary Project), rather
   * than whenever a trusted path was found (nv2).
   */
  readonly chainOnlyWhenAuthentic: boolean;
  /** Whether the signature signs `subject` (digest, size, media type). */
  subjectProblem(subject: Descriptor): CheckProblem | undefined;
  /**
   * How the signature reaches a trust anchor: nv2 through the policy's `TrustSet`, a Notary
   * Project signature by its carried chain containing a certificate of its scheme's store.
   */
  trustedPath(policy: EvaluationPolicy): TrustedPaths | CheckProblem;
  /** The authenticity failure of a signing certificate that is not a trusted identity. */
  untrustedIdentity(signer: Certificate): string;
  /** nv2: every signed reference's registry is a name of the signing certificate. */
  referencesProblem?(): CheckProblem | undefined;
  /** The authentic-timestamp rules, and the valid chain they chose, if they chose one. */
  authenticTimestamp(
    policy: EvaluationPolicy,
    now: Date,
    trusted: TrustedPaths | undefined,
  ): Promise<CheckOutcome & { readonly chain?: CertificatePath }>;
  /** The signature's own validity window at `now`. */
  expiryProblem(now: Date): CheckProblem | undefined;
  /** Revocation of the carried chain, or the note of a format that does not check it. */
  readonly revocation:
    | ((chain: readonly Certificate[], now: Date) => Promise<CheckOutcome>)
    | { readonly note: string };
  /**
   * The order in which the format's own rules meet failures, when it is not the order of
   * the checks (nv2: the chain and its validity before the subject).
   */
  failureOrder?(referencesFailed: boolean): readonly ValidationType[];
  /** The verification plugin the signature names, made ready to verify it. */
  preparePlugin?(policy: EvaluationPolicy): Promise<PluginVerifier | CheckProblem>;
}

/** One signature, parsed and its envelope checked: the one thing the evaluator judges. */
export interface SignatureEntity {
  readonly format: SignatureFormat;
  readonly envelopeMediaType: string;
  /** The descriptor the signature covers, with its user metadata as annotations. */
  readonly signedDescriptor: Descriptor;
  /** The signed user metadata, for formats that carry it (nv2 signatures do not). */
  readonly userMetadata?: Readonly<Record<string, string>>;
  readonly signer: Certificate;
  /** The chain as the envelope carries it, signing certificate first. */
  readonly certificates: readonly Certificate[];
  /** By its JOSE name (`ES256`, `PS384`). */
  readonly algorithm: string;
  /** As the signature claims it (an nv2 signature's `iat`). */
  readonly signingTime?: Date;
  /** The Notary Project's authentic signing time (`notary.x509.signingAuthority`). */
  readonly authenticSigningTime?: Date;
  readonly notBefore?: Date;
  readonly expiresAt?: Date;
  /** Names the manifest was published under (nv2 signatures). */
  readonly references?: readonly string[];
  /** The Notary Project's signing scheme. */
  readonly signingScheme?: string;
  /** The RFC 3161 timestamp countersignature (DER CMS SignedData), if any. */
  readonly timestampToken?: Uint8Array;
  /** The verification plugin the signature names. */
  readonly verificationPlugin?: string;
  readonly rules: EntityRules;
}

/** An envelope the format module could not make an entity of: integrity failed. */
export interface RejectedEnvelope {
  readonly format: SignatureFormat;
  readonly rejected: CheckProblem;
  readonly notRunNote: NotRunNote;
  /** The signing certificate, when it was found before the envelope failed. */
  readonly signer?: Certificate;
}

/** What a format module makes of an envelope. */
export type EnvelopeReading = SignatureEntity | RejectedEnvelope;
