import type { ReadOnlyTarget, ReferrerLister } from '../content/index.js';
import { Nv2Error, VerificationFailedError, VerificationInconclusiveError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { type TrustSet, type VerificationResult, verify } from '../trust/index.js';
import { type SignatureEntry, listSignatures } from './list.js';
import { plain } from './manifest.js';

/** Options of `verifyArtifact`. */
export interface VerifyArtifactOptions {
  /** Verification time; default now. */
  readonly now?: Date;
}

/** The verdict on one signature artifact. */
export interface SignatureVerdict {
  /** The signature manifest. */
  readonly manifest: Descriptor;
  /** What the signature establishes, when it verified. */
  readonly result?: VerificationResult;
  /** Why it did not verify (a `VerificationFailedError`), or why no verdict was reached. */
  readonly error?: Nv2Error;
}

/** What `verifyArtifact` found. */
export interface ArtifactVerification {
  /** The resolved artifact: go on by this digest. */
  readonly subject: Descriptor;
  /** Every signature found, in listing order, each with its verdict. */
  readonly signatures: readonly SignatureVerdict[];
  /** The signatures that verified (at least one). */
  readonly verified: readonly SignatureVerdict[];
}

async function judge(
  entry: SignatureEntry,
  subject: Descriptor,
  trust: TrustSet,
  now: Date,
): Promise<SignatureVerdict> {
  if (entry.error !== undefined || entry.jws === undefined) {
    return {
      manifest: entry.manifest,
      ...(entry.error !== undefined ? { error: entry.error } : {}),
    };
  }
  try {
    return { manifest: entry.manifest, result: await verify(entry.jws, subject, trust, { now }) };
  } catch (err) {
    if (err instanceof Nv2Error) return { manifest: entry.manifest, error: err };
    throw err;
  }
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
 * client"): resolves it once, lists its nv2 signatures, verifies each against the resolved
 * descriptor under `trust`, and succeeds when at least one verifies. The trust material is a
 * parameter so that a trust policy can choose it per reference.
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
  const entries = await listSignatures(target, subject);
  if (entries.length === 0) {
    throw new VerificationFailedError(
      'NV2_ERR_NO_SIGNATURE',
      `${reference} (${subject.digest}) has no nv2 signatures`,
    );
  }
  const signatures = await Promise.all(entries.map((e) => judge(e, subject, trust, now)));
  const verified = signatures.filter((s) => s.result !== undefined);
  if (verified.length > 0) return { subject, signatures, verified };
  const inconclusive = signatures.filter(
    (s) => s.error !== undefined && !(s.error instanceof VerificationFailedError),
  );
  if (inconclusive.length > 0) {
    throw new VerificationInconclusiveError(
      inconclusive[0]!.error!.code,
      `none of the ${signatures.length} signatures of ${subject.digest} verified, and ${inconclusive.length} could not be read: ${reasons(signatures)}`,
      { cause: inconclusive[0]!.error },
    );
  }
  throw new VerificationFailedError(
    'NV2_ERR_NO_VALID_SIGNATURE',
    `none of the ${signatures.length} signatures of ${subject.digest} verified: ${reasons(signatures)}`,
  );
}
