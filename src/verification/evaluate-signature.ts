import type { ReadOnlyTarget } from '../content/index.js';
import { Nv2Error, VerificationFailedError } from '../errors.js';
import { type Descriptor, MAX_ENVELOPE_BYTES, MediaTypes, isDescriptor } from '../oci/index.js';
import { evaluatorFor } from './evaluators.js';
import { MAX_SIGNATURE_BYTES } from '../signature/index.js';
import {
  CHECK_FAILURE_CODES,
  type EvaluationPolicy,
  type SignatureEvaluation,
  decidingFailure,
  describeFailedCheck,
  enforcedFailures,
} from '../trust/index.js';
import { fetchManifestJson, fetchSignatureLayer } from '../notary/index.js';

/** One signature found for a subject, and what became of it: the per-signature result. */
export interface SignatureOutcome {
  /** The signature manifest. */
  readonly manifest: Descriptor;
  /** The envelope's media type (the signature manifest's layer), when it was read. */
  readonly envelopeMediaType?: string;
  /** Every check's outcome, when the envelope could be read and its format is supported. */
  readonly evaluation?: SignatureEvaluation;
  /**
   * Why it did not verify (a `VerificationFailedError` with the code of the first enforced
   * check that failed), or why no verdict was reached (unreadable, unsupported format,
   * registry failure).
   */
  readonly error?: Nv2Error;
}

/** The signature manifest's envelope layer, read within its format's size limit. */
async function readEnvelope(
  target: ReadOnlyTarget,
  manifest: Descriptor,
): Promise<{ mediaType: string; bytes: Buffer }> {
  const json = await fetchManifestJson(target, manifest);
  const layers = Array.isArray(json['layers']) ? (json['layers'] as unknown[]) : [];
  const descriptors = layers.filter(isDescriptor);
  const layer = descriptors.find((l) => evaluatorFor(l.mediaType) !== undefined);
  if (layer === undefined) {
    throw new VerificationFailedError(
      'NV2_ERR_UNSUPPORTED_SIGNATURE_FORMAT',
      `signature manifest ${manifest.digest} has no envelope nv2 can evaluate (layers: ${descriptors.map((l) => l.mediaType).join(', ') || 'none'})`,
    );
  }
  const limit =
    layer.mediaType === MediaTypes.nv2Signature ? MAX_SIGNATURE_BYTES : MAX_ENVELOPE_BYTES;
  const bytes = await fetchSignatureLayer(target, manifest, layer, limit);
  return { mediaType: layer.mediaType, bytes };
}

/**
 * Reads one signature manifest's envelope and evaluates it; Nv2Errors are returned as `error`,
 * and so is a failed evaluation: the code of the rule its format checks first
 * (`decidingFailure`), every enforced failure in the message.
 */
export async function evaluateEntry(
  target: ReadOnlyTarget,
  manifest: Descriptor,
  subject: Descriptor,
  policy: EvaluationPolicy,
): Promise<SignatureOutcome> {
  let envelopeMediaType: string | undefined;
  try {
    const envelope = await readEnvelope(target, manifest);
    envelopeMediaType = envelope.mediaType;
    const evaluation = await evaluatorFor(envelope.mediaType)!(envelope.bytes, subject, policy);
    if (evaluation.verified) return { manifest, envelopeMediaType, evaluation };
    const error = new VerificationFailedError(
      decidingFailure(evaluation)?.code ?? CHECK_FAILURE_CODES.integrity,
      enforcedFailures(evaluation.checks).map(describeFailedCheck).join('; '),
    );
    return { manifest, envelopeMediaType, evaluation, error };
  } catch (err) {
    if (err instanceof Nv2Error)
      return {
        manifest,
        ...(envelopeMediaType !== undefined ? { envelopeMediaType } : {}),
        error: err,
      };
    throw err;
  }
}
