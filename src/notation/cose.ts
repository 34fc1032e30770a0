import type { KeyObject } from 'node:crypto';
import { Tag, decode, encode } from 'cbor2';
import type { Certificate } from '../x509/index.js';
import {
  COSE_ALGORITHM_IDS,
  type NotationAlgorithm,
  algorithmFromCoseId,
  signBytes,
} from './algorithms.js';
import {
  Headers,
  MAX_ENVELOPE_BYTES,
  NOTARY_SIGNED_HEADERS,
  NotationMediaTypes,
} from './constants.js';
import { type NotationEnvelope, checkSignedAttributes, malformed, parseChain } from './envelope.js';
import type { SignRequest } from './sign-request.js';

/** COSE header labels (RFC 9052 §3.1, RFC 9360 §2). */
const Label = { alg: 1, crit: 2, contentType: 3, x5chain: 33 } as const;
/** CBOR tag of COSE_Sign1 (RFC 9052 §4.2). */
const COSE_SIGN1_TAG = 18;
/** CBOR tag of an epoch-based date/time (RFC 8949 §3.4.2). */
const EPOCH_TAG = 1;

const DECODE_OPTIONS = {
  preferMap: true,
  rejectDuplicateKeys: true,
  rejectStreaming: true,
  rejectUndefined: true,
} as const;

function cborDecode(bytes: Uint8Array, what: string): unknown {
  try {
    return decode(bytes, DECODE_OPTIONS);
  } catch (err) {
    throw malformed(`${what} is not well-formed CBOR (${(err as Error).message})`);
  }
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** A text or integer label as `crit` lists and messages name it. */
function labelName(label: unknown): string {
  return typeof label === 'string' ? label : String(label);
}

const NOTARY_PROTECTED: ReadonlySet<unknown> = new Set([
  Label.alg,
  Label.crit,
  Label.contentType,
  ...NOTARY_SIGNED_HEADERS,
]);

/**
 * Parses a Notary Project COSE envelope: a tagged COSE_Sign1 with an embedded payload, the
 * Notary Project header rules, `x5chain` (label 33) in the unprotected header.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED, NV2_ERR_SIGNATURE_CRIT
 */
export function parseCoseEnvelope(bytes: Uint8Array): NotationEnvelope {
  if (bytes.byteLength > MAX_ENVELOPE_BYTES)
    throw malformed(`COSE envelope exceeds ${MAX_ENVELOPE_BYTES} bytes`);
  const top = cborDecode(bytes, 'COSE envelope');
  if (!(top instanceof Tag) || Number(top.tag) !== COSE_SIGN1_TAG) {
    throw malformed('COSE envelope is not a tagged COSE_Sign1 (CBOR tag 18)');
  }
  const parts = top.contents;
  if (!Array.isArray(parts) || parts.length !== 4)
    throw malformed('COSE_Sign1 is not an array of four items');
  const [protectedBytes, unprotected, payload, signature] = parts as unknown[];
  if (!isBytes(protectedBytes) || protectedBytes.byteLength === 0) {
    throw malformed('COSE_Sign1 protected header is not a non-empty byte string');
  }
  if (!(unprotected instanceof Map)) throw malformed('COSE_Sign1 unprotected header is not a map');
  if (!isBytes(payload)) throw malformed('COSE_Sign1 payload is not embedded as a byte string');
  if (!isBytes(signature)) throw malformed('COSE_Sign1 signature is not a byte string');
  const headers = cborDecode(protectedBytes, 'COSE protected header');
  if (!(headers instanceof Map)) throw malformed('COSE protected header is not a map');

  const alg = algorithmFromCoseId(headers.get(Label.alg));
  if (alg === undefined) {
    throw malformed(
      `COSE alg ${String(headers.get(Label.alg))} is not one of PS256, PS384, PS512, ES256, ES384, ES512`,
    );
  }
  const time = (name: string): Date | undefined => {
    const v: unknown = headers.get(name);
    return v instanceof Date && !Number.isNaN(v.getTime()) ? v : undefined;
  };
  const present = new Set<string>([...headers.keys()].map(labelName));
  const crit: unknown = headers.get(Label.crit);
  const { scheme, critical, fields } = checkSignedAttributes({
    contentType: headers.get(Label.contentType),
    critical: Array.isArray(crit) ? crit.map((c) => (typeof c === 'number' ? String(c) : c)) : crit,
    signingScheme: headers.get(Headers.signingScheme),
    signingTime: time(Headers.signingTime),
    authenticSigningTime: time(Headers.authenticSigningTime),
    expiry: time(Headers.expiry),
    verificationPlugin: headers.get(Headers.verificationPlugin),
    verificationPluginMinVersion: headers.get(Headers.verificationPluginMinVersion),
    present,
  });
  for (const label of unprotected.keys()) {
    if (headers.has(label))
      throw malformed(`COSE header ${labelName(label)} is both protected and unprotected`);
  }

  const x5chain: unknown = unprotected.get(Label.x5chain);
  const ders = isBytes(x5chain) ? [x5chain] : x5chain;
  if (!Array.isArray(ders) || !ders.every(isBytes)) {
    throw malformed('COSE unprotected header has no x5chain (label 33) of DER certificates');
  }
  const certificateChain = parseChain(ders as Uint8Array[]);
  const agent: unknown = unprotected.get(Headers.signingAgent);
  if (agent !== undefined && typeof agent !== 'string')
    throw malformed(`${Headers.signingAgent} is not a string`);
  const token: unknown = unprotected.get(Headers.timestampSignature);
  if (token !== undefined && !isBytes(token))
    throw malformed(`${Headers.timestampSignature} is not a byte string`);

  const extendedAttributes: Record<string, unknown> = {};
  for (const [label, value] of headers) {
    if (!NOTARY_PROTECTED.has(label)) extendedAttributes[labelName(label)] = value;
  }
  const optional = <T>(name: string, v: T | undefined) => (v === undefined ? {} : { [name]: v });
  return {
    format: 'cose',
    mediaType: NotationMediaTypes.cose,
    algorithm: alg,
    contentType: NotationMediaTypes.payload,
    payload: Buffer.from(payload),
    signingScheme: scheme,
    ...fields,
    extendedAttributes,
    critical,
    certificateChain,
    ...optional('signingAgent', agent as string | undefined),
    ...optional('timestampToken', isBytes(token) ? Buffer.from(token) : undefined),
    signature: Buffer.from(signature),
    signingInput: sigStructure(protectedBytes, payload),
  };
}

/** Sig_structure for COSE_Sign1 with empty external AAD (RFC 9052 §4.4). */
function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Buffer {
  // Plain Uint8Array copies: cbor2 encodes a Buffer as an object, not as a byte string.
  return Buffer.from(
    encode([
      'Signature1',
      new Uint8Array(protectedBytes),
      new Uint8Array(0),
      new Uint8Array(payload),
    ]),
  );
}

/** Sorts text labels by their CBOR encoding (shorter first, then bytewise), as deterministic CBOR orders map keys. */
function byEncoding(a: string, b: string): number {
  return Buffer.compare(Buffer.from(encode(a)), Buffer.from(encode(b)));
}

function epoch(time: Date): Tag {
  return new Tag(EPOCH_TAG, Math.floor(time.getTime() / 1000));
}

/**
 * The protected header as notation writes it: labels 1, 2, 3, then text labels in encoding
 * order; `crit` is scheme, authenticSigningTime, expiry, then critical extended attributes.
 */
export function coseProtectedHeader(request: SignRequest, alg: NotationAlgorithm): Buffer {
  const crit: string[] = [Headers.signingScheme];
  if (request.signingScheme === 'notary.x509.signingAuthority')
    crit.push(Headers.authenticSigningTime);
  if (request.expiry !== undefined) crit.push(Headers.expiry);
  for (const attr of request.extendedAttributes ?? []) if (attr.critical) crit.push(attr.key);
  const text = new Map<string, unknown>();
  text.set(Headers.signingScheme, request.signingScheme);
  if (request.signingScheme === 'notary.x509')
    text.set(Headers.signingTime, epoch(request.signingTime));
  else text.set(Headers.authenticSigningTime, epoch(request.signingTime));
  if (request.expiry !== undefined) text.set(Headers.expiry, epoch(request.expiry));
  for (const attr of request.extendedAttributes ?? []) text.set(attr.key, attr.value);
  const header = new Map<unknown, unknown>([
    [Label.alg, COSE_ALGORITHM_IDS[alg]],
    [Label.crit, crit],
    [Label.contentType, NotationMediaTypes.payload],
  ]);
  for (const key of [...text.keys()].sort(byEncoding)) header.set(key, text.get(key));
  return Buffer.from(encode(header, { sortKeys: null }));
}

/**
 * The unprotected header: x5chain (label 33) first, then text labels in encoding order
 * (the signing agent, and the RFC 3161 timestamp token over the signature when given).
 */
export function coseUnprotectedHeader(
  request: SignRequest,
  chain: readonly Certificate[],
  timestampToken?: Uint8Array,
): Map<unknown, unknown> {
  const header = new Map<unknown, unknown>();
  if (chain.length > 0)
    header.set(
      Label.x5chain,
      chain.map((c) => new Uint8Array(c.der)),
    );
  const text = new Map<string, unknown>();
  if (request.signingAgent !== undefined) text.set(Headers.signingAgent, request.signingAgent);
  if (timestampToken !== undefined)
    text.set(Headers.timestampSignature, new Uint8Array(timestampToken));
  for (const key of [...text.keys()].sort(byEncoding)) header.set(key, text.get(key));
  return header;
}

/** What a COSE envelope signs: its protected header, and the Sig_structure over it and `payload`. */
export function coseSigningInput(
  request: SignRequest,
  payload: Uint8Array,
  alg: NotationAlgorithm,
): { protectedBytes: Buffer; signingInput: Buffer } {
  const protectedBytes = coseProtectedHeader(request, alg);
  return { protectedBytes, signingInput: sigStructure(protectedBytes, payload) };
}

/** Produces a COSE_Sign1_Tagged envelope for `payload`, byte for byte as notation does. */
export function signCoseEnvelope(
  request: SignRequest,
  payload: Uint8Array,
  alg: NotationAlgorithm,
  key: KeyObject,
  chain: readonly Certificate[],
): Buffer {
  const { protectedBytes, signingInput } = coseSigningInput(request, payload, alg);
  const signature = signBytes(alg, key, signingInput);
  return encodeCoseSign1(protectedBytes, coseUnprotectedHeader(request, chain), payload, signature);
}

export function encodeCoseSign1(
  protectedBytes: Uint8Array,
  unprotected: Map<unknown, unknown>,
  payload: Uint8Array,
  signature: Uint8Array,
): Buffer {
  return Buffer.from(
    encode(
      new Tag(COSE_SIGN1_TAG, [
        new Uint8Array(protectedBytes),
        unprotected,
        new Uint8Array(payload),
        new Uint8Array(signature),
      ]),
      { sortKeys: null },
    ),
  );
}
