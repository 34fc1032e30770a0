import { VerificationFailedError } from '../errors.js';

const ALPHABET_URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ALPHABET_STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function malformed(what: string, why: string): VerificationFailedError {
  return new VerificationFailedError('NV2_ERR_SIGNATURE_MALFORMED', `${what} is not ${why}`);
}

/**
 * True when the bits a final partial group leaves over are zero. Node's decoder silently
 * drops them, so without this check several strings would decode to the same bytes, and a
 * signature could be altered without changing what it says.
 */
function isCanonicalTail(data: string, unpaddedLength: number, alphabet: string): boolean {
  const rem = unpaddedLength % 4;
  if (rem === 0) return true;
  const last = alphabet.indexOf(data.charAt(unpaddedLength - 1));
  return rem === 2 ? (last & 0b1111) === 0 : (last & 0b11) === 0;
}

/**
 * Decodes base64url without padding (RFC 7515 §2), strictly: no padding, no whitespace, no
 * characters outside the URL-safe alphabet, no impossible lengths, no non-zero spare bits.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED
 */
export function decodeBase64url(data: string, what: string): Buffer {
  if (data.length % 4 === 1) throw malformed(what, 'base64url without padding');
  const out = Buffer.from(data, 'base64url');
  // Node's decoder stops at '=' and at characters outside its alphabets and skips the rest,
  // so any such character leaves the output shorter than the length implies (for lengths
  // ≢ 1 mod 4, one character fewer always means a byte fewer). It also accepts the standard
  // alphabet's '+' and '/', which base64url excludes. This is ~40x faster than a regular
  // expression over the text, and the base64 tests check it character by character.
  if (
    out.byteLength !== Math.floor((data.length * 3) / 4) ||
    data.includes('+') ||
    data.includes('/')
  ) {
    throw malformed(what, 'base64url without padding');
  }
  if (!isCanonicalTail(data, data.length, ALPHABET_URL)) {
    throw malformed(what, 'canonical base64url');
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
  if (data.length === 0 || !BASE64_PATTERN.test(data)) throw malformed(what, 'standard base64');
  let unpadded = data.length;
  while (unpadded > 0 && data.charCodeAt(unpadded - 1) === 0x3d) unpadded--;
  if (!isCanonicalTail(data, unpadded, ALPHABET_STD)) throw malformed(what, 'canonical base64');
  return Buffer.from(data, 'base64');
}

/** Encodes bytes as base64url without padding. */
export function encodeBase64url(data: Uint8Array | string): string {
  return Buffer.from(data as Uint8Array).toString('base64url');
}
