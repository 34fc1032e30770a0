/**
 * Trust: which certificates are trusted, and `verify`, which decides whether a signature
 * holds for a manifest under them; the vocabulary of checks, and the signature entity every
 * format produces for the one evaluator (nv2's own in `nv2-entity.ts`). Depends on `oci`,
 * `signature` and `x509`.
 */
export { HEADER_CACHE_SIZE, TrustSet } from './trust-set.js';
export type { ResolvedSigner, ResolvedSigningKey, TrustSetOptions } from './trust-set.js';
export {
  checkReferences,
  checkSignatureTime,
  checkSubject,
  pickValidPath,
  verify,
  verifySignatureValue,
} from './verify.js';
export type { VerificationResult, VerificationSubject, VerifyOptions } from './verify.js';
export { certificateNames, registryMatchesNames, unmatchedReferenceHost } from './names.js';
export { signingCertificateProblems } from './signing-check.js';
export {
  CHECK_FAILURE_CODES,
  VALIDATION_TYPES,
  describeFailedCheck,
  decidingFailure,
  enforcedFailures,
  failedCheck,
  verdictOf,
} from './evaluation.js';
export type {
  CheckResult,
  EvaluationPolicy,
  VerificationPluginSettings,
  SignatureEvaluation,
  SignatureEvaluator,
  SignatureFormat,
  TrustAnchorSets,
  ValidationAction,
  ValidationType,
} from './evaluation.js';
export { readNv2Entity } from './nv2-entity.js';
export type {
  CheckOutcome,
  CheckProblem,
  EntityRules,
  EnvelopeReading,
  NotRunNote,
  PluginCheck,
  PluginVerifier,
  RejectedEnvelope,
  SignatureEntity,
  TrustedPaths,
} from './signature-entity.js';
