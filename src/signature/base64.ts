import { VerificationFailedError } from '../errors.js';

function malformed(what: string, why: string): VerificationFailedError {
  return new VerificationFailedError('NV2_ERR_SIGNATURE_MALFORMED', `${what} is not ${why}`);
}

/*
 * Node's decoders are lenient: they skip '=' and characters outside their alphabets, accept
 * either alphabet, drop non-zero spare bits and keep only the low byte of each UTF-16 unit
 * (so U+0152 reads as 'R'). Each of these lets several texts stand for the same bytes, so a
 * signature could be altered, or smuggle characters past a reader, without changing what it
 * says. Bytes have exactly one strict encoding; comparing the input with the encoding of what
 * it decoded to refuses every such text at once. A native encode and a string comparison cost
 * far less than a regular expression over the text, and the base64 tests and fuzzers check
 * the result character by character.
 */

/**
 * Decodes base64url without padding (RFC 7515 §2), strictly: only [A-Za-z0-9_-], no padding,
 * no whitespace, no impossible lengths, no non-zero spare bits. The one decoder of every
 * base64url segment nv2 reads (nv2 signatures, Notary Project JWS, inspection).
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED
 */
export function decodeBase64url(data: string, what: string): Buffer {
  const out = Buffer.from(data, 'base64url');
  if (out.toString('base64url') !== data) {
    throw malformed(
      what,
      /^[A-Za-z0-9_-]*$/.test(data) && data.length % 4 !== 1
        ? 'canonical base64url'
        : 'base64url without padding',
    );
  }
  return out;
}

/**
 * Decodes standard, padded base64 (RFC 4648 §4), as `x5c` entries use (RFC 7515 §4.1.6),
 * with the same strictness as `decodeBase64url`.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED
 */
export function decodeBase64(data: string, what: string): Buffer {
  const out = Buffer.from(data, 'base64');
  if (data.length === 0 || out.toString('base64') !== data) {
    throw malformed(what, 'canonical standard base64');
  }
  return out;
}

/** Encodes bytes as base64url without padding. */
export function encodeBase64url(data: Uint8Array | string): string {
  return Buffer.from(data as Uint8Array).toString('base64url');
}
