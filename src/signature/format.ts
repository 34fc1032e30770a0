import { isUtf8 } from 'node:buffer';
import { VerificationFailedError } from '../errors.js';
import { type Digest, isDigest } from '../oci/index.js';
import { MAX_UNIX_SECONDS, isMediaType, isUnixSeconds, parseReference } from '../oci/index.js';
import { type Algorithm, ecdsaSignatureBytes, isAlgorithm } from './algorithms.js';
import { decodeBase64, decodeBase64url } from './base64.js';

/** The `typ` every nv2 signature carries. */
export const SIGNATURE_TYP = 'x509';

/**
 * The largest signature accepted: a header with a chain of several 4096-bit certificates
 * stays well under it, and a garbage file is refused before any parsing.
 */
export const MAX_SIGNATURE_BYTES = 64 * 1024;

/** At most this many certificates in `x5c`: real chains have 2 to 4; more is abuse. */
export const MAX_X5C_ENTRIES = 10;

/** At most this many `references` claims. */
export const MAX_REFERENCES = 256;

/**
 * Header parameters this implementation processes, and so the only names a `crit` list may
 * carry (RFC 7515 §4.1.11: a name that is not understood makes the signature invalid).
 */
export const UNDERSTOOD_HEADER_PARAMETERS: ReadonlySet<string> = new Set([
  'typ',
  'alg',
  'x5c',
  'kid',
]);

/** The JWS protected header of an nv2 signature. Unknown parameters are kept as they are. */
export interface SignatureHeader {
  readonly typ: typeof SIGNATURE_TYP;
  readonly alg: Algorithm;
  /** Certificates, signing certificate first, each standard base64 of DER. */
  readonly x5c?: readonly string[];
  /** libtrust key ID of the signing key, when `x5c` is absent. */
  readonly kid?: string;
  readonly crit?: readonly string[];
  readonly [parameter: string]: unknown;
}

/** The claims of an nv2 signature. Unknown claims are kept and ignored. */
export interface SignatureClaims {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly references?: readonly string[];
  /** Unix seconds. */
  readonly iat?: number;
  readonly nbf?: number;
  readonly exp?: number;
  readonly [claim: string]: unknown;
}

/** A parsed header with its certificates decoded. */
export interface ParsedHeader {
  /** The base64url header segment: the same signer yields the same segment, so it keys caches. */
  readonly segment: string;
  /** The segment's ASCII bytes, the first part of what the signature covers. */
  readonly segmentBytes: Buffer;
  readonly header: SignatureHeader;
  /** DER of each `x5c` entry, in order; empty with `kid`. */
  readonly x5cDer: readonly Buffer[];
}

/** A signature split, decoded and checked for form (not yet for trust). */
export interface ParsedSignature extends ParsedHeader {
  /** The compact serialization, trailing whitespace removed. */
  readonly compact: string;
  readonly claims: SignatureClaims;
  /** The registry host of each reference, normalized and lower-cased, in claim order. */
  readonly referenceRegistries: readonly string[];
  /** The base64url claims segment. */
  readonly claimsSegment: string;
  readonly signature: Buffer;
}

function malformed(message: string): VerificationFailedError {
  return new VerificationFailedError('NV2_ERR_SIGNATURE_MALFORMED', message);
}

/**
 * Registry hosts of references already parsed. The same few names recur in every signature
 * of a repository, and the Docker grammar is the costliest regular expression on the
 * verification path. Bounded: cleared when full.
 */
const registryByReference = new Map<string, string | undefined>();
const REFERENCE_CACHE_SIZE = 4096;

/** The normalized, lower-cased registry host of a reference, or undefined when it is not one. */
function referenceRegistry(ref: string): string | undefined {
  if (registryByReference.has(ref)) return registryByReference.get(ref);
  let registry: string | undefined;
  try {
    registry = parseReference(ref).registry.toLowerCase();
  } catch {
    registry = undefined;
  }
  if (registryByReference.size >= REFERENCE_CACHE_SIZE) registryByReference.clear();
  registryByReference.set(ref, registry);
  return registry;
}

function decodeJsonObject(segment: string, what: string): Record<string, unknown> {
  const bytes = decodeBase64url(segment, what);
  let value: unknown;
  // Strict UTF-8 (a fatal TextDecoder's rule), checked natively before the lenient decode.
  if (!isUtf8(bytes)) throw malformed(`${what} is not UTF-8 JSON`);
  // A leading byte order mark is skipped, as that decoder does.
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  try {
    value = JSON.parse(bytes.toString('utf8', start));
  } catch {
    throw malformed(`${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function checkCrit(header: Record<string, unknown>): void {
  const crit = header['crit'];
  if (crit === undefined) return;
  // RFC 7515 §4.1.11: a non-empty array of names, each present in the header, each understood.
  if (!Array.isArray(crit) || crit.length === 0) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_CRIT',
      'header crit must be a non-empty array',
    );
  }
  const seen = new Set<string>();
  for (const name of crit as unknown[]) {
    if (typeof name !== 'string' || name === '' || seen.has(name)) {
      throw new VerificationFailedError(
        'NV2_ERR_SIGNATURE_CRIT',
        'header crit must list distinct, non-empty names',
      );
    }
    seen.add(name);
    if (!UNDERSTOOD_HEADER_PARAMETERS.has(name)) {
      throw new VerificationFailedError(
        'NV2_ERR_SIGNATURE_CRIT',
        `header crit names ${JSON.stringify(name)}, which this verifier does not understand`,
      );
    }
    if (!Object.hasOwn(header, name)) {
      throw new VerificationFailedError(
        'NV2_ERR_SIGNATURE_CRIT',
        `header crit names ${JSON.stringify(name)}, which the header lacks`,
      );
    }
  }
}

/**
 * Decodes and checks a header segment: `typ` is `x509`, `alg` is allowed, `crit` holds only
 * understood names, exactly one of `x5c` and `kid` is present and well-formed.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED, NV2_ERR_SIGNATURE_ALGORITHM, NV2_ERR_SIGNATURE_CRIT
 */
export function parseHeaderSegment(segment: string): ParsedHeader {
  const header = decodeJsonObject(segment, 'signature header');
  if (header['typ'] !== SIGNATURE_TYP) {
    throw malformed(`header typ is ${JSON.stringify(header['typ'])}, expected "${SIGNATURE_TYP}"`);
  }
  const alg = header['alg'];
  if (!isAlgorithm(alg)) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_ALGORITHM',
      `header alg ${JSON.stringify(alg)} is not allowed (allowed: RS256/384/512, PS256/384/512, ES256/384/512)`,
    );
  }
  checkCrit(header);
  const x5c = header['x5c'];
  const kid = header['kid'];
  if ((x5c === undefined) === (kid === undefined)) {
    throw malformed('header must carry exactly one of x5c and kid');
  }
  let x5cDer: Buffer[] = [];
  if (x5c !== undefined) {
    if (!Array.isArray(x5c) || x5c.length === 0)
      throw malformed('header x5c must be a non-empty array');
    if (x5c.length > MAX_X5C_ENTRIES) {
      throw malformed(
        `header x5c has ${x5c.length} certificates, more than the ${MAX_X5C_ENTRIES} allowed`,
      );
    }
    x5cDer = (x5c as unknown[]).map((entry, i) => {
      if (typeof entry !== 'string') throw malformed(`header x5c[${i}] is not a string`);
      return decodeBase64(entry, `header x5c[${i}]`);
    });
  } else if (typeof kid !== 'string' || kid === '') {
    throw malformed('header kid must be a non-empty string');
  }
  return {
    segment,
    segmentBytes: Buffer.from(segment, 'latin1'),
    header: header as unknown as SignatureHeader,
    x5cDer,
  };
}

/**
 * A NumericDate claim (RFC 7519 §2) must be a number of seconds a `Date` can hold: anything
 * beyond ±8.64e12 s would become an invalid `Date` whose `toISOString()` throws wherever the
 * claim is shown or compared, so it is refused here, once.
 */
function optionalNumericDate(claims: Record<string, unknown>, name: string): void {
  const v = claims[name];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw malformed(`claim ${name} must be a number of seconds`);
  }
  if (!isUnixSeconds(v)) {
    throw malformed(
      `claim ${name} is ${v}, outside the range of representable times (±${MAX_UNIX_SECONDS} seconds)`,
    );
  }
}

/**
 * Decodes and checks a claims segment: `mediaType`, `digest` and `size` present and
 * well-formed, `references` in the Docker grammar, times numeric.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED
 */
export function parseClaimsSegment(segment: string): {
  claims: SignatureClaims;
  referenceRegistries: string[];
} {
  const claims = decodeJsonObject(segment, 'signature claims');
  if (!isMediaType(claims['mediaType']))
    throw malformed('claim mediaType is missing or not a media type');
  if (!isDigest(claims['digest']))
    throw malformed('claim digest is missing or not sha256:<hex> / sha512:<hex>');
  const size = claims['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw malformed('claim size is missing or not a non-negative integer');
  }
  const references = claims['references'];
  const referenceRegistries: string[] = [];
  if (references !== undefined) {
    if (!Array.isArray(references)) throw malformed('claim references must be an array');
    if (references.length > MAX_REFERENCES)
      throw malformed(`claim references has more than ${MAX_REFERENCES} entries`);
    for (const [i, ref] of (references as unknown[]).entries()) {
      if (typeof ref !== 'string') throw malformed(`claim references[${i}] is not a string`);
      const registry = referenceRegistry(ref);
      if (registry === undefined) {
        throw malformed(`claim references[${i}] ${JSON.stringify(ref)} is not a valid reference`);
      }
      referenceRegistries.push(registry);
    }
  }
  optionalNumericDate(claims, 'iat');
  optionalNumericDate(claims, 'nbf');
  optionalNumericDate(claims, 'exp');
  return { claims: claims as unknown as SignatureClaims, referenceRegistries };
}

/**
 * Finds or parses the header of `compact`, whose header segment ends at index `end`. Callers
 * with a cache can recognize a known header without slicing or hashing it.
 */
export type HeaderParser = (compact: string, end: number) => ParsedHeader;

const parseHeaderOf: HeaderParser = (compact, end) => parseHeaderSegment(compact.slice(0, end));

/**
 * Splits a compact JWS and checks its form. Trailing whitespace (a final newline) is ignored.
 * This proves nothing about who signed: `verify` does that.
 *
 * @example parseSignature(await readFile('sig.jwt', 'utf8')).claims.digest
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_TOO_LARGE, NV2_ERR_SIGNATURE_MALFORMED, NV2_ERR_SIGNATURE_ALGORITHM, NV2_ERR_SIGNATURE_CRIT
 */
export function parseSignature(
  input: string | Uint8Array,
  parseHeader: HeaderParser = parseHeaderOf,
): ParsedSignature {
  if (input.length > MAX_SIGNATURE_BYTES) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_TOO_LARGE',
      `signature is larger than the ${MAX_SIGNATURE_BYTES} bytes allowed`,
    );
  }
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const compact = text.trimEnd();
  if (compact === '') throw malformed('signature is empty');
  const firstDot = compact.indexOf('.');
  const secondDot = firstDot === -1 ? -1 : compact.indexOf('.', firstDot + 1);
  if (secondDot === -1 || compact.indexOf('.', secondDot + 1) !== -1) {
    throw malformed('signature is not a JWS compact serialization of three dot-separated parts');
  }
  if (firstDot === 0 || secondDot === firstDot + 1) throw malformed('signature has an empty part');
  // The header first: `alg: none` (whose signature part is empty) is refused for its alg.
  const parsedHeader = parseHeader(compact, firstDot);
  if (secondDot === compact.length - 1) throw malformed('signature has an empty signature part');
  const claimsSegment = compact.slice(firstDot + 1, secondDot);
  const { claims, referenceRegistries } = parseClaimsSegment(claimsSegment);
  const signature = decodeBase64url(compact.slice(secondDot + 1), 'signature value');
  const ecdsaBytes = ecdsaSignatureBytes(parsedHeader.header.alg);
  if (ecdsaBytes !== undefined && signature.byteLength !== ecdsaBytes) {
    throw malformed(
      `${parsedHeader.header.alg} signature is ${signature.byteLength} bytes, expected ${ecdsaBytes} (r‖s, RFC 7518 §3.4)`,
    );
  }
  return {
    segment: parsedHeader.segment,
    segmentBytes: parsedHeader.segmentBytes,
    header: parsedHeader.header,
    x5cDer: parsedHeader.x5cDer,
    compact,
    claims,
    referenceRegistries,
    claimsSegment,
    signature,
  };
}

/**
 * The bytes the signature covers: ASCII `header.claims`. Written into `into` when it is large
 * enough (the verification hot path reuses one buffer rather than allocate per signature,
 * which costs more than the copy), else into a new buffer.
 */
export function signingInput(parsed: ParsedSignature, into?: Buffer): Buffer {
  const headerLength = parsed.segmentBytes.byteLength;
  const length = headerLength + 1 + parsed.claimsSegment.length;
  const out =
    into !== undefined && into.byteLength >= length
      ? into.subarray(0, length)
      : Buffer.allocUnsafe(length);
  parsed.segmentBytes.copy(out, 0);
  out[headerLength] = 0x2e;
  out.write(parsed.claimsSegment, headerLength + 1, 'latin1');
  return out;
}
