/**
 * The nv2 signature: a JWS compact serialization over a manifest descriptor
 * (docs/signature-format.md). Form and signing live here; trust lives in `trust`.
 *
 * Signing and signature checks call node:crypto directly rather than through a JWS library:
 * verification must run within 80% of raw crypto speed, which leaves no room for a generic
 * JOSE stack's per-call key import and async hops. jose is used by the tests to prove that
 * what we write and read is standard JWS.
 */
export {
  ALGORITHMS,
  MIN_RSA_BITS,
  algorithmForKey,
  algorithmHash,
  assertKeyFitsAlgorithm,
  cryptoKeyOptions,
  describeKey,
  isAlgorithm,
} from './algorithms.js';
export type { Algorithm, CryptoKeyOptions } from './algorithms.js';
export { decodeBase64, decodeBase64url, encodeBase64url } from './base64.js';
export {
  MAX_REFERENCES,
  MAX_SIGNATURE_BYTES,
  MAX_X5C_ENTRIES,
  SIGNATURE_TYP,
  UNDERSTOOD_HEADER_PARAMETERS,
  parseClaimsSegment,
  parseHeaderSegment,
  parseSignature,
  signingInput,
} from './format.js';
export type {
  HeaderParser,
  ParsedHeader,
  ParsedSignature,
  SignatureClaims,
  SignatureHeader,
} from './format.js';
export { keyId } from './key-id.js';
export { sign } from './sign.js';
export type { SignOptions, Signer } from './sign.js';
export { sniffEnvelopeMediaType } from './envelope-type.js';
export { signWithKey } from './sign.js';
export { KEY_SPECS, fileSigningKey, isKeySpec, isSigningKey, keySpecOf } from './signing-key.js';
export type {
  EnvelopeRequest,
  GeneratedEnvelope,
  KeySignature,
  KeySpec,
  SigningKey,
} from './signing-key.js';
