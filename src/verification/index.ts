/**
 * Verification: an artifact's signatures judged under a policy, whatever their format and
 * wherever the trust comes from (`trustpolicy.json`, or certificates made into a policy by
 * `certificatePolicyConfig`): one entry, `verifyWithPolicy`, one result, `PolicyVerification`.
 * One referrers listing per verification (at most `maxSignatures` signatures evaluated); each
 * signature manifest's envelope is read by its format's module as a signature entity (nv2 JWS
 * in `trust`, the Notary Project's JWS and COSE in `notation`) and judged by the one
 * evaluator, `evaluateEntity`, which reports every check with its outcome and error code;
 * the level then decides. Faces (CLI, docker plugin, admission webhook,
 * registry) only render the result. Depends on `oci`, `content`, `signature`, `x509`,
 * `trust`, `notation` (loaded on the first Notary Project signature), `policy` and `notary`.
 *
 * @example
 * const config = await loadPolicyConfig(configDirectory(process.env));
 * const result = await verifyWithPolicy(repo, 'registry.example.com/app:v1', config);
 * for (const warning of result.warnings) console.warn(warning);
 */
export { evaluateEntity } from './evaluate-entity.js';
export { evaluateNotationSignature } from './evaluate-notation.js';
export { evaluateNv2Signature } from './evaluate-nv2.js';
export {
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
  SIGNATURE_ARTIFACT_TYPES,
  SIGNATURE_EVALUATORS,
  evaluatorFor,
} from './evaluators.js';
export type { SignatureOutcome } from './evaluate-signature.js';
export {
  DEFAULT_MAX_SIGNATURES,
  checkMaxSignatures,
  signatureManifests,
} from './signature-manifests.js';
export type { SignatureManifests } from './signature-manifests.js';
export { PolicyVerificationError, trustAddHint, verifyWithPolicy } from './verify-policy.js';
export type { IssuerSource, PolicyVerification, VerifyWithPolicyOptions } from './verify-policy.js';
