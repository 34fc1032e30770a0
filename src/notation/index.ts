/**
 * Notary Project signatures (signature specification v1.x): the payload, JWS and COSE
 * envelopes (parse, verify, produce), RFC 3161 timestamp countersignatures, revocation
 * (OCSP, then CRL), signature manifests as notation writes them, verification plugins, and
 * the signature entities of the `jws` and `cose` formats that the one evaluator judges.
 */
export {
  COSE_ALGORITHM_IDS,
  NOTATION_ALGORITHMS,
  notationAlgorithmOf,
  signingAlgorithmFor,
} from './algorithms.js';
export type { NotationAlgorithm } from './algorithms.js';
export {
  ENVELOPE_MEDIA_TYPES,
  Headers as NotationHeaders,
  NotationMediaTypes,
  SIGNING_SCHEMES,
  THUMBPRINT_ANNOTATION,
} from './constants.js';
export type { SigningScheme } from './constants.js';
export {
  coseProtectedHeader,
  coseUnprotectedHeader,
  encodeCoseSign1,
  parseCoseEnvelope,
  signCoseEnvelope,
} from './cose.js';
export { codeSigningChainProblem, verifyEnvelopeSignature } from './envelope.js';
export type { NotationEnvelope } from './envelope.js';
export { parseNotationEnvelope, readNotationEntity, sniffEnvelopeMediaType } from './entity.js';
export type { NotationEvaluationOptions } from './entity.js';
export { jwsProtectedHeader, parseJwsEnvelope, signJwsEnvelope } from './jws.js';
export {
  buildSignatureManifest,
  isNotationSignatureManifest,
  readSignatureManifest,
  signatureAnnotations,
} from './manifest.js';
export type {
  NotationSignatureManifest,
  SignatureManifest,
  SignatureManifestForm,
  SignatureManifestOptions,
} from './manifest.js';
export { buildPayload, parsePayload } from './payload.js';
export { RevocationChecker, defaultRevocationChecker, revocationPointers } from './revocation.js';
export type {
  ChainRevocationChecker,
  RevocationCheckerOptions,
  RevocationOutcome,
} from './revocation.js';
export { envelopeMediaType, signNotation } from './sign.js';
export type { EnvelopeFormat, NotationSignOptions, NotationSignature } from './sign.js';
export type { ExtendedAttribute, SignRequest } from './sign-request.js';
export { verifyTimestampToken } from './timestamp.js';
export type { VerifiedTimestamp } from './timestamp.js';
export { describeNotationEnvelope } from './describe.js';
export type { EnvelopeDescription } from './describe.js';
export { signNotationWithKey } from './sign.js';
export type { NotationKeySignOptions, NotationKeySignature, SignatureTimestamper } from './sign.js';
export { requestTimestamp } from './tsa.js';
export type { ObtainedTimestamp, TimestampRequestOptions } from './tsa.js';
