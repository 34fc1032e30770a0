import { MediaTypes } from '../oci/index.js';

/** Media types and header names of the Notary Project signature specification (v1.x). */
export const NotationMediaTypes = {
  payload: 'application/vnd.cncf.notary.payload.v1+json',
  jws: MediaTypes.notationJws,
  cose: MediaTypes.notationCose,
  signature: MediaTypes.notationSignature,
  emptyConfig: 'application/vnd.oci.empty.v1+json',
} as const;

/** The envelope media types a signature manifest's layer may have. */
export const ENVELOPE_MEDIA_TYPES: readonly string[] = [
  NotationMediaTypes.jws,
  NotationMediaTypes.cose,
];

export const Headers = {
  signingScheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  verificationPlugin: 'io.cncf.notary.verificationPlugin',
  verificationPluginMinVersion: 'io.cncf.notary.verificationPluginMinVersion',
  signingAgent: 'io.cncf.notary.signingAgent',
  timestampSignature: 'io.cncf.notary.timestampSignature',
} as const;

/**
 * The Notary Project headers of the protected header (besides the format's own `alg`, `cty`,
 * `crit`): everything else there is an extended attribute.
 */
export const NOTARY_SIGNED_HEADERS: readonly string[] = [
  Headers.signingScheme,
  Headers.signingTime,
  Headers.authenticSigningTime,
  Headers.expiry,
  Headers.verificationPlugin,
  Headers.verificationPluginMinVersion,
];

/** Signing schemes: `notary.x509` (signing time claimed by the signer, proven by an RFC 3161
 * timestamp) and `notary.x509.signingAuthority` (signing time asserted by a signing authority). */
export const SIGNING_SCHEMES = ['notary.x509', 'notary.x509.signingAuthority'] as const;
export type SigningScheme = (typeof SIGNING_SCHEMES)[number];

/** Annotation on a signature manifest: JSON array of the chain's SHA-256 fingerprints. */
export const THUMBPRINT_ANNOTATION = 'io.cncf.notary.x509chain.thumbprint#S256';

export { MAX_ENVELOPE_BYTES } from '../oci/index.js';
/** Bound on the number of certificates in `x5c` / `x5chain` and in a timestamp token. */
export const MAX_CHAIN_CERTIFICATES = 10;
