/**
 * Signature evaluators by the media type of the signature envelope (the signature
 * manifest's layer). A format is supported by adding its evaluator here.
 */
import { MediaTypes } from '../oci/index.js';
import type { SignatureEvaluator } from '../trust/index.js';
import { evaluateNv2Signature } from './evaluate-nv2.js';

/** Evaluators by envelope media type. */
export const SIGNATURE_EVALUATORS: ReadonlyMap<string, SignatureEvaluator> = new Map([
  [MediaTypes.nv2Signature, evaluateNv2Signature],
]);

/** The evaluator for an envelope media type, if nv2 reads that format. */
export function evaluatorFor(envelopeMediaType: string): SignatureEvaluator | undefined {
  return SIGNATURE_EVALUATORS.get(envelopeMediaType);
}

/** The Notary Project's signature manifest artifactType (JWS and COSE envelopes). */
export const NOTATION_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';

/** The artifactTypes of signature manifests a policy verification looks for among referrers. */
export const SIGNATURE_ARTIFACT_TYPES: readonly string[] = [
  MediaTypes.nv2ArtifactType,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
];
