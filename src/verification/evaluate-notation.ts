/**
 * The Notary Project signature's evaluator: its JWS or COSE envelope read as a signature
 * entity by `notation`, judged by the one evaluator.
 */
import type { Descriptor } from '../oci/index.js';
import type { EvaluationPolicy, SignatureEvaluation } from '../trust/index.js';
import type { NotationEvaluationOptions } from '../notation/index.js';
import { evaluateEntity } from './evaluate-entity.js';

/**
 * Judges a Notary Project signature (JWS or COSE envelope) against `subject` under `policy`.
 * Every check the policy does not skip is run and reported; integrity failing stops the
 * others (there is nothing to trust). Revocation is checked by `options.revocation`, else by
 * the process-wide checker (OCSP, then CRL with a cache).
 *
 * @example
 * const evaluation = await evaluateNotationSignature(cose, subject, policy, {
 *   mediaType: MediaTypes.notationCose,
 * });
 */
export async function evaluateNotationSignature(
  envelope: Uint8Array,
  subject: Descriptor,
  policy: EvaluationPolicy,
  options: NotationEvaluationOptions = {},
): Promise<SignatureEvaluation> {
  // Loaded on the first Notary Project signature: nv2 signatures never pay for CBOR and CMS.
  const { readNotationEntity } = await import('../notation/index.js');
  return evaluateEntity(readNotationEntity(envelope, options), subject, policy);
}
