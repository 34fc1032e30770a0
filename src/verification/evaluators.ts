/**
 * Signature evaluators by the media type of the signature envelope (the signature
 * manifest's layer). A format is supported by adding its evaluator here.
 */
import { MediaTypes } from '../oci/index.js';
import type { SignatureEvaluator } from '../trust/index.js';
import { evaluateNotationSignature } from './evaluate-notation.js';
import { evaluateNv2Signature } from './evaluate-nv2.js';

/**
 * The Notary Project evaluator for one envelope media type. Revocation is checked by the
 * process-wide checker (OCSP, then CRL with a cache; 5 s per request), and only where a
 * certificate carries OCSP or CRL pointers, so chains without them verify offline.
 */
function notationEvaluator(mediaType: string): SignatureEvaluator {
  return (envelope, subject, policy) =>
    evaluateNotationSignature(envelope, subject, policy, { mediaType });
}

/** Evaluators by envelope media type. */
export const SIGNATURE_EVALUATORS: ReadonlyMap<string, SignatureEvaluator> = new Map([
  [MediaTypes.nv2Signature, evaluateNv2Signature],
  [MediaTypes.notationJws, notationEvaluator(MediaTypes.notationJws)],
  [MediaTypes.notationCose, notationEvaluator(MediaTypes.notationCose)],
]);

/** The evaluator for an envelope media type, if nv2 reads that format. */
export function evaluatorFor(envelopeMediaType: string): SignatureEvaluator | undefined {
  return SIGNATURE_EVALUATORS.get(envelopeMediaType);
}

/** The Notary Project's signature manifest artifactType (JWS and COSE envelopes). */
export const NOTATION_SIGNATURE_ARTIFACT_TYPE = MediaTypes.notationSignature;

/** The artifactTypes of signature manifests a policy verification looks for among referrers. */
export const SIGNATURE_ARTIFACT_TYPES: readonly string[] = [
  MediaTypes.nv2ArtifactType,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
];
