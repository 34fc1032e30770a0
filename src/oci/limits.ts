/**
 * Bounds on what nv2 reads from a registry, a layout or a file, as named constants with their
 * reason (a bound is the default, never an option a caller must remember).
 */

/**
 * The largest manifest nv2 reads, as CNCF distribution and the OCI distribution-spec
 * recommend registries accept at least (and distribution enforces at most): 4 MiB.
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * The largest Notary Project signature envelope (JWS JSON or COSE_Sign1) nv2 reads: 1 MiB.
 * A real envelope with its certificate chain and an RFC 3161 timestamp token is about
 * 10 KiB, so 1 MiB leaves a hundredfold headroom while bounding what one signature of an
 * untrusted registry can make a verifier download and parse. The envelope parsers always
 * refused larger input; fetching now stops at the same bound, before the download.
 */
export const MAX_ENVELOPE_BYTES = 1024 * 1024;
