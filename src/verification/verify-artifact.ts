import { type ReadOnlyTarget, type ReferrerLister } from '../content/index.js';
import { VerificationFailedError, VerificationInconclusiveError } from '../errors.js';
import { type Descriptor, MediaTypes } from '../oci/index.js';
import { NOTATION_SIGNATURE_ARTIFACT_TYPE } from './evaluators.js';
import { certificatePolicy } from '../policy/index.js';
import {
  CHECK_FAILURE_CODES,
  type EvaluationPolicy,
  type TrustSet,
  decidingFailure,
  describeFailedCheck,
  enforcedFailures,
} from '../trust/index.js';
import { type SignatureOutcome, evaluateEntry } from './evaluate-signature.js';
import { plain } from '../notary/index.js';
import { capNote, signatureManifests } from './signature-manifests.js';

/** Options of `verifyArtifact`. */
export interface VerifyArtifactOptions {
  /** Verification time; default now. */
  readonly now?: Date;
  /**
   * Where the signatures are stored, when not beside the artifact (signed with
   * `--push-reference`, or `NV2_SIGNATURE_REPOSITORY`); default `target`.
   */
  readonly signatureTarget?: ReadOnlyTarget & ReferrerLister;
  /**
   * Notary Project signatures (JWS and COSE envelopes) are judged under this policy too (the
   * `-c`/`--ca-cert` path builds one: every check enforced, the given certificates as `ca`
   * anchors, any identity); without it only nv2 signatures are looked for.
   */
  readonly notationPolicy?: EvaluationPolicy;
  /** The most signatures evaluated (in listing order); default `DEFAULT_MAX_SIGNATURES` (100). */
  readonly maxSignatures?: number;
}

/** A signature verified by certificates: `SignatureOutcome` (the name before it was shared). */
export type SignatureVerdict = SignatureOutcome;

/** What `verifyArtifact` found. */
export interface ArtifactVerification {
  /** The resolved artifact: go on by this digest. */
  readonly subject: Descriptor;
  /** Every signature found, in listing order, each with its verdict. */
  readonly signatures: readonly SignatureVerdict[];
  /** The signatures that verified (at least one). */
  readonly verified: readonly SignatureVerdict[];
  /** How many signature manifests the listing held: more than `signatures` when capped. */
  readonly signaturesFound: number;
  /** What the caller should know: that the cap left signatures unevaluated. */
  readonly warnings: readonly string[];
}

/** One signature evaluated under `policy`: an enforced failure is its error. */
async function judge(
  store: ReadOnlyTarget,
  manifest: Descriptor,
  subject: Descriptor,
  policy: EvaluationPolicy,
): Promise<SignatureVerdict> {
  const evaluated = await evaluateEntry(store, manifest, subject, policy);
  const evaluation = evaluated.evaluation;
  if (evaluation === undefined) {
    return { manifest, ...(evaluated.error !== undefined ? { error: evaluated.error } : {}) };
  }
  if (evaluation.verified) return { manifest, evaluation };
  const failed = enforcedFailures(evaluation.checks);
  return {
    manifest,
    evaluation,
    error: new VerificationFailedError(
      decidingFailure(evaluation)?.code ?? CHECK_FAILURE_CODES.integrity,
      failed.map(describeFailedCheck).join('; '),
    ),
  };
}

function reasons(verdicts: readonly SignatureVerdict[]): string {
  return verdicts
    .map(
      (v) =>
        `${v.manifest.digest}: ${v.error?.code ?? 'NV2_ERR_INTERNAL'}: ${v.error?.message ?? 'no verdict'}`,
    )
    .join('; ');
}

/**
 * Verifies what `reference` names in `target` (artifact-layout.md, "Verification by a
 * client"): resolves it once, lists its signatures once, evaluates each against the resolved
 * descriptor by the evaluation a trust policy uses (nv2 signatures with `trust` as their
 * anchors, every check enforced; Notary Project signatures under `notationPolicy`), and
 * succeeds when at least one verifies. A failed signature's error carries the code of the
 * rule its format checks first (`decidingFailure`).
 *
 * @throws VerificationFailedError NV2_ERR_NO_SIGNATURE when there are none,
 *   NV2_ERR_NO_VALID_SIGNATURE when none verified (the message says why each failed)
 * @throws VerificationInconclusiveError when none verified and some could not be read (a
 *   registry or I/O failure decides nothing)
 * @example
 * const { subject, verified } = await verifyArtifact(repo, 'v1', trust);
 */
export async function verifyArtifact(
  target: ReadOnlyTarget & ReferrerLister,
  reference: string,
  trust: TrustSet,
  options: VerifyArtifactOptions = {},
): Promise<ArtifactVerification> {
  const now = options.now ?? new Date();
  const subject = plain(await target.resolve(reference));
  const store = options.signatureTarget ?? target;
  const notationPolicy =
    options.notationPolicy === undefined || options.notationPolicy.now !== undefined
      ? options.notationPolicy
      : { ...options.notationPolicy, now };
  // nv2 signatures are judged by the same evaluation as under a trust policy, every check
  // enforced, with `trust` as their anchors.
  const nv2Policy: EvaluationPolicy = {
    ...(notationPolicy ?? certificatePolicy({ certificates: [], now })),
    trustSet: trust,
  };
  const listed = await signatureManifests(
    store,
    subject,
    notationPolicy !== undefined
      ? [MediaTypes.nv2ArtifactType, NOTATION_SIGNATURE_ARTIFACT_TYPE]
      : [MediaTypes.nv2ArtifactType],
    options.maxSignatures,
  );
  if (listed.found === 0) {
    throw new VerificationFailedError(
      'NV2_ERR_NO_SIGNATURE',
      `${reference} (${subject.digest}) has no ${notationPolicy !== undefined ? '' : 'nv2 '}signatures`,
    );
  }
  const isNotation = (m: Descriptor): boolean =>
    m.artifactType === NOTATION_SIGNATURE_ARTIFACT_TYPE;
  // nv2 signatures first, then the Notary Project's, each in listing order.
  const signatures = await Promise.all([
    ...listed.manifests
      .filter((m) => !isNotation(m))
      .map((m) => judge(store, m, subject, nv2Policy)),
    ...(notationPolicy !== undefined
      ? listed.manifests.filter(isNotation).map((m) => judge(store, m, subject, notationPolicy))
      : []),
  ]);
  const capped = capNote(listed);
  const warnings = capped !== undefined ? [capped] : [];
  const cappedText = capped !== undefined ? ` (${capped})` : '';
  const verified = signatures.filter((s) => s.evaluation?.verified === true);
  if (verified.length > 0) {
    return { subject, signatures, verified, signaturesFound: listed.found, warnings };
  }
  const inconclusive = signatures.filter(
    (s) => s.error !== undefined && !(s.error instanceof VerificationFailedError),
  );
  if (inconclusive.length > 0) {
    throw new VerificationInconclusiveError(
      inconclusive[0]!.error!.code,
      `none of the ${signatures.length} signatures of ${subject.digest} verified${cappedText}, and ${inconclusive.length} could not be read: ${reasons(signatures)}`,
      { cause: inconclusive[0]!.error },
    );
  }
  throw new VerificationFailedError(
    'NV2_ERR_NO_VALID_SIGNATURE',
    `none of the ${signatures.length} signatures of ${subject.digest} verified${cappedText}: ${reasons(signatures)}`,
  );
}
