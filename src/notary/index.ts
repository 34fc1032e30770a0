/**
 * Workflows over any content Target (a registry repository, an OCI image layout, a memory
 * store): sign an artifact and push its signature artifact (artifact-layout.md), list and
 * verify its signatures (nv2's, and the Notary Project's JWS and COSE envelopes), and
 * discover its referrers tree. Depends on `oci`, `content`,
 * `signature` and `trust`.
 *
 * @example
 * const signed = await signArtifact(repo, 'v1', { key, certificateChain });
 * const { subject, verified } = await verifyArtifact(repo, 'v1', trust);
 */
export { DEFAULT_DISCOVER_DEPTH, discover } from './discover.js';
export type { DiscoverOptions, ReferrerNode } from './discover.js';
export { listNotationSignatures, listSignatures } from './list.js';
export type { ListSignaturesOptions, NotationSignatureEntry, SignatureEntry } from './list.js';
export { CREATED_ANNOTATION, EMPTY_CONFIG, EMPTY_CONFIG_DESCRIPTOR } from './manifest.js';
export { pushSignature, signArtifact, signNotationArtifact } from './sign.js';
export type {
  PushSignatureOptions,
  SignArtifactOptions,
  SignNotationArtifactOptions,
  SignedArtifact,
  SignedNotationArtifact,
} from './sign.js';
export { attachArtifact } from './attach.js';
export type { AttachOptions, AttachedBlob } from './attach.js';
export { MAX_ENVELOPE_BYTES } from './evaluate-signature.js';
export type { EvaluatedSignature } from './evaluate-signature.js';
export {
  DEFAULT_MAX_SIGNATURES,
  checkMaxSignatures,
  signatureManifests,
} from './signature-manifests.js';
export type { SignatureManifests } from './signature-manifests.js';
export { verifyArtifact } from './verify.js';
export type { ArtifactVerification, SignatureVerdict, VerifyArtifactOptions } from './verify.js';
export { PolicyVerificationError, verifyWithPolicy } from './verify-policy.js';
export type { PolicyVerification, VerifyWithPolicyOptions } from './verify-policy.js';
