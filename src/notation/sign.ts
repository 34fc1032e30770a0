import type { KeyObject } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { type Certificate, keysMatch, orderCertificateChain } from '../x509/index.js';
import { type SigningKey, type KeySpec, keySpecOf } from '../signature/index.js';
import {
  type NotationAlgorithm,
  notationAlgorithmOf,
  signingAlgorithmFor,
  verifyBytes,
} from './algorithms.js';
import {
  coseSigningInput,
  coseUnprotectedHeader,
  encodeCoseSign1,
  signCoseEnvelope,
} from './cose.js';
import { type SigningScheme, NotationMediaTypes } from './constants.js';
import {
  type NotationEnvelope,
  codeSigningChainProblem,
  parseChain,
  verifyEnvelopeSignature,
} from './envelope.js';
import { parseNotationEnvelope } from './entity.js';
import { assembleJwsEnvelope, jwsSigningInput, signJwsEnvelope } from './jws.js';
import { buildPayload, parsePayload } from './payload.js';
import type { ExtendedAttribute, SignRequest } from './sign-request.js';

/** The Notary Project envelope formats. */
export type EnvelopeFormat = 'jws' | 'cose';

export interface NotationSignOptions {
  readonly format: EnvelopeFormat;
  /** Private key of `certificateChain[0]`. */
  readonly key: KeyObject;
  /** Signing certificate first, up to and including the root (the specification requires the whole chain). */
  readonly certificateChain: readonly Certificate[];
  /** What is signed: the manifest's media type, digest and size. */
  readonly descriptor: Descriptor;
  /** User metadata (`-m key=value`), signed as annotations of the target descriptor. */
  readonly userMetadata?: Readonly<Record<string, string>>;
  /** Default now; kept to whole seconds, as notation does. */
  readonly signingTime?: Date;
  readonly expiry?: Date;
  /** Default `notary.x509`. */
  readonly signingScheme?: SigningScheme;
  readonly signingAgent?: string;
  readonly extendedAttributes?: readonly ExtendedAttribute[];
}

export interface NotationSignature {
  readonly envelope: Buffer;
  /** The envelope's media type: the signature manifest's layer media type. */
  readonly mediaType: string;
}

/** The envelope media type of a format. */
export function envelopeMediaType(format: EnvelopeFormat): string {
  return format === 'jws' ? NotationMediaTypes.jws : NotationMediaTypes.cose;
}

/**
 * Signs `descriptor` as a Notary Project signature in a JWS or COSE envelope. The algorithm
 * follows from the key (PS256/384/512 by RSA size, ES256/384/512 by curve).
 *
 * @throws InvalidInputError NV2_ERR_UNSUPPORTED_KEY, NV2_ERR_KEY_CERT_MISMATCH,
 *   NV2_ERR_INVALID_CERTIFICATE, NV2_ERR_INVALID_ARGUMENT
 */
export function signNotation(options: NotationSignOptions): NotationSignature {
  // Chain files repeat CAs and list them in any order; the envelope carries the one order
  // the specification (and notation) accepts.
  const chain = orderCertificateChain(options.certificateChain);
  checkChainPresent(chain);
  if (!keysMatch(options.key, chain[0]!.publicKey)) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_CERT_MISMATCH',
      `the signing key does not belong to certificate "${chain[0]!.subject}"`,
    );
  }
  const alg = signingAlgorithmFor(options.key);
  checkCodeSigningChain(chain);
  const request = signRequestOf(options);
  const payload = buildPayload(options.descriptor, options.userMetadata);
  const envelope =
    options.format === 'jws'
      ? signJwsEnvelope(request, payload, alg, options.key, chain)
      : signCoseEnvelope(request, payload, alg, options.key, chain);
  return { envelope, mediaType: envelopeMediaType(options.format) };
}

function checkChainPresent(chain: readonly unknown[]): void {
  if (chain.length === 0) {
    throw new InvalidInputError('NV2_ERR_INVALID_CERTIFICATE', 'a certificate chain is required');
  }
}

function checkCodeSigningChain(chain: readonly Certificate[]): void {
  const problem = codeSigningChainProblem(chain);
  if (problem !== undefined) throw new InvalidInputError('NV2_ERR_INVALID_CERTIFICATE', problem);
}

type RequestFields = Pick<
  NotationSignOptions,
  'signingTime' | 'expiry' | 'signingScheme' | 'extendedAttributes' | 'signingAgent'
>;

function signRequestOf(options: RequestFields): SignRequest {
  const seconds = Math.floor((options.signingTime ?? new Date()).getTime() / 1000) * 1000;
  const signingTime = new Date(seconds);
  if (options.expiry !== undefined && options.expiry.getTime() <= seconds) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'signature expiry must be after the signing time',
    );
  }
  return {
    signingScheme: options.signingScheme ?? 'notary.x509',
    signingTime,
    ...(options.expiry !== undefined
      ? { expiry: new Date(Math.floor(options.expiry.getTime() / 1000) * 1000) }
      : {}),
    ...(options.extendedAttributes !== undefined
      ? { extendedAttributes: options.extendedAttributes }
      : {}),
    signingAgent: options.signingAgent ?? 'nv2',
  };
}

function certificatesOf(
  ders: readonly Uint8Array[],
  code: 'NV2_ERR_INVALID_CERTIFICATE' | 'NV2_ERR_SIGNER_OUTPUT_INVALID',
  name: string,
): Certificate[] {
  try {
    return parseChain(ders);
  } catch (err) {
    throw new InvalidInputError(code, `${name}: ${(err as Error).message}`, { cause: err });
  }
}

const ALGORITHM_BY_SPEC: Readonly<Record<KeySpec, NotationAlgorithm>> = {
  'RSA-2048': 'PS256',
  'RSA-3072': 'PS384',
  'RSA-4096': 'PS512',
  'EC-256': 'ES256',
  'EC-384': 'ES384',
  'EC-521': 'ES512',
};

/**
 * Obtains an RFC 3161 timestamp token over a signature value (the Notary Project signature
 * specification: the timestamp countersigns the signature bytes). The token returned has
 * been checked: it must be a valid timestamp for exactly these bytes.
 */
export type SignatureTimestamper = (signature: Uint8Array) => Promise<Uint8Array>;

/** Options of `signNotationWithKey`: those of `signNotation`, with a signing key instead of key and chain. */
export interface NotationKeySignOptions extends Omit<
  NotationSignOptions,
  'key' | 'certificateChain'
> {
  readonly signingKey: SigningKey;
  /** Countersigns the signature with an RFC 3161 timestamp (`io.cncf.notary.timestampSignature`). */
  readonly timestamper?: SignatureTimestamper;
}

/** A Notary Project signature made with a signing key, and the chain it carries. */
export interface NotationKeySignature extends NotationSignature {
  readonly certificateChain: readonly Certificate[];
  /** Annotations an envelope-generating key asked for on the signature manifest. */
  readonly annotations?: Readonly<Record<string, string>>;
}

function badEnvelope(name: string, message: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_SIGNER_OUTPUT_INVALID',
    `${name}: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The envelope path: the key (a plugin) makes the whole envelope, and it is checked as the
 * plugin specification asks before it is used: the requested type, a well-formed envelope
 * of that format whose signature verifies with its signing certificate, a payload whose
 * target artifact is the one asked for (annotations may be added, none replaced), and a
 * chain that meets the certificate requirements.
 */
async function envelopeFromKey(
  options: NotationKeySignOptions,
  generate: NonNullable<SigningKey['generateEnvelope']>,
): Promise<NotationKeySignature> {
  const name = options.signingKey.name;
  if (options.timestamper !== undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${name} makes whole envelopes: it timestamps them itself, if it does`,
    );
  }
  const seconds = Math.floor((options.signingTime ?? new Date()).getTime() / 1000);
  const expiry =
    options.expiry !== undefined
      ? Math.floor(options.expiry.getTime() / 1000) - seconds
      : undefined;
  if (expiry !== undefined && expiry <= 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'signature expiry must be after the signing time',
    );
  }
  const payload = buildPayload(options.descriptor, options.userMetadata);
  const mediaType = envelopeMediaType(options.format);
  const generated = await generate({
    payload,
    payloadType: NotationMediaTypes.payload,
    envelopeType: mediaType,
    ...(expiry !== undefined ? { expiryDurationInSeconds: expiry } : {}),
  });
  if (generated.envelopeType !== mediaType) {
    throw badEnvelope(name, `returned a ${generated.envelopeType} envelope, not ${mediaType}`);
  }
  let envelope: NotationEnvelope;
  try {
    envelope = parseNotationEnvelope(generated.envelope, mediaType);
    verifyEnvelopeSignature(envelope);
  } catch (err) {
    throw badEnvelope(
      name,
      `returned an envelope that does not check out: ${(err as Error).message}`,
      err,
    );
  }
  let target: Descriptor;
  try {
    target = parsePayload(envelope.payload);
  } catch (err) {
    throw badEnvelope(name, `returned an envelope whose payload is malformed`, err);
  }
  const asked = parsePayload(payload);
  const sameTarget =
    target.mediaType === asked.mediaType &&
    target.digest === asked.digest &&
    target.size === asked.size &&
    Object.entries(asked.annotations ?? {}).every(([k, v]) => target.annotations?.[k] === v);
  if (!sameTarget) {
    throw badEnvelope(
      name,
      'returned an envelope that signs another artifact than the one asked for',
    );
  }
  checkCodeSigningChain(envelope.certificateChain);
  return {
    envelope: Buffer.from(generated.envelope),
    mediaType,
    certificateChain: envelope.certificateChain,
    annotations: generated.annotations,
  };
}

/**
 * Signs `descriptor` as a Notary Project signature with a signing key the process may never
 * see (a PKCS#11 token, a plugin). The algorithm follows from the key spec. The signature is
 * verified against the chain's signing certificate before the envelope is returned, so a
 * token or plugin that signs with another key, or answers garbage, is caught here.
 *
 * @throws InvalidInputError NV2_ERR_UNSUPPORTED_KEY, NV2_ERR_INVALID_CERTIFICATE,
 *   NV2_ERR_SIGNER_OUTPUT_INVALID, NV2_ERR_INVALID_ARGUMENT
 * @example
 * const { envelope } = await signNotationWithKey({ format: 'cose', signingKey, descriptor });
 */
export async function signNotationWithKey(
  options: NotationKeySignOptions,
): Promise<NotationKeySignature> {
  const key = options.signingKey;
  if (key.generateEnvelope !== undefined) return envelopeFromKey(options, key.generateEnvelope);
  if (key.keySpec === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_UNSUPPORTED_KEY',
      `${key.name}: the key cannot make Notary Project signatures: use RSA 2048, 3072 or 4096 bits, or EC P-256, P-384 or P-521`,
    );
  }
  const alg = ALGORITHM_BY_SPEC[key.keySpec];
  let known: Certificate[] | undefined;
  if (key.certificateChain !== undefined) {
    known = orderCertificateChain(
      certificatesOf(key.certificateChain, 'NV2_ERR_INVALID_CERTIFICATE', key.name),
    );
    checkChainPresent(known);
    if (key.publicKey !== undefined && !key.publicKey.equals(known[0]!.publicKey)) {
      throw new InvalidInputError(
        'NV2_ERR_KEY_CERT_MISMATCH',
        `${key.name} does not belong to certificate "${known[0]!.subject}"`,
      );
    }
    checkCodeSigningChain(known);
  }
  const request = signRequestOf(options);
  const payload = buildPayload(options.descriptor, options.userMetadata);
  const jws = options.format === 'jws';
  const cose = jws ? undefined : coseSigningInput(request, payload, alg);
  const input = cose?.signingInput ?? jwsSigningInput(request, payload, alg);
  const signed = await key.sign(alg, input);
  let chain = known;
  if (signed.certificateChain !== undefined) {
    chain = orderCertificateChain(
      certificatesOf(signed.certificateChain, 'NV2_ERR_SIGNER_OUTPUT_INVALID', key.name),
    );
    checkChainPresent(chain);
    checkCodeSigningChain(chain);
  }
  if (chain === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_SIGNER_OUTPUT_INVALID',
      `${key.name} returned a signature without a certificate chain`,
    );
  }
  const leafKey = chain[0]!.publicKey;
  if (notationAlgorithmOf(leafKey) !== alg || keySpecOf(leafKey) !== key.keySpec) {
    throw new InvalidInputError(
      'NV2_ERR_SIGNER_OUTPUT_INVALID',
      `${key.name} is a ${key.keySpec} key, but its signing certificate "${chain[0]!.subject}" holds another kind of key`,
    );
  }
  if (!verifyBytes(alg, leafKey, input, signed.signature)) {
    throw new InvalidInputError(
      'NV2_ERR_SIGNER_OUTPUT_INVALID',
      `${key.name} returned a ${alg} signature that does not verify with the key of its signing certificate "${chain[0]!.subject}"`,
    );
  }
  const token =
    options.timestamper !== undefined ? await options.timestamper(signed.signature) : undefined;
  const envelope =
    cose === undefined
      ? assembleJwsEnvelope(input, signed.signature, request, chain, token)
      : encodeCoseSign1(
          cose.protectedBytes,
          coseUnprotectedHeader(request, chain, token),
          payload,
          signed.signature,
        );
  return { envelope, mediaType: envelopeMediaType(options.format), certificateChain: chain };
}
