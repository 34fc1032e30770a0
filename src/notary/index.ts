/**
 * Workflows over any content Target (a registry repository, an OCI image layout, a memory
 * store): sign an artifact and push its signature artifact (artifact-layout.md), list and
 * read its signatures (nv2's, and the Notary Project's JWS and COSE envelopes), and
 * discover its referrers tree. Verifying them is `verification`'s. Depends on `oci`,
 * `content`, `signature` and `trust`.
 *
 * @example
 * const signed = await signArtifact(repo, 'v1', { key, certificateChain });
 * for (const entry of await listSignatures(repo, signed.subject)) console.log(entry.manifest);
 */
export { DEFAULT_DISCOVER_DEPTH, discover } from './discover.js';
export type { DiscoverOptions, ReferrerNode } from './discover.js';
export {
  listNotationSignatures,
  listSignatures,
  readSignatureEntry,
  requireReferrers,
} from './list.js';
export type { ListSignaturesOptions, NotationSignatureEntry, SignatureEntry } from './list.js';
export { CREATED_ANNOTATION, EMPTY_CONFIG, EMPTY_CONFIG_DESCRIPTOR } from '../oci/index.js';
export { fetchManifestJson, fetchSignatureLayer, plain } from './manifest.js';
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
