import type { KeyObject } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { type Certificate, keysMatch, orderCertificateChain } from '../x509/index.js';
import { signingAlgorithmFor } from './algorithms.js';
import { signCoseEnvelope } from './cose.js';
import { type SigningScheme, NotationMediaTypes } from './constants.js';
import { codeSigningChainProblem } from './envelope.js';
import { signJwsEnvelope } from './jws.js';
import { buildPayload } from './payload.js';
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
  if (chain.length === 0) {
    throw new InvalidInputError('NV2_ERR_INVALID_CERTIFICATE', 'a certificate chain is required');
  }
  if (!keysMatch(options.key, chain[0]!.publicKey)) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_CERT_MISMATCH',
      `the signing key does not belong to certificate "${chain[0]!.subject}"`,
    );
  }
  const alg = signingAlgorithmFor(options.key);
  const problem = codeSigningChainProblem(chain);
  if (problem !== undefined) throw new InvalidInputError('NV2_ERR_INVALID_CERTIFICATE', problem);
  const seconds = Math.floor((options.signingTime ?? new Date()).getTime() / 1000) * 1000;
  const signingTime = new Date(seconds);
  if (options.expiry !== undefined && options.expiry.getTime() <= seconds) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'signature expiry must be after the signing time',
    );
  }
  const request: SignRequest = {
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
  const payload = buildPayload(options.descriptor, options.userMetadata);
  const envelope =
    options.format === 'jws'
      ? signJwsEnvelope(request, payload, alg, options.key, chain)
      : signCoseEnvelope(request, payload, alg, options.key, chain);
  return { envelope, mediaType: envelopeMediaType(options.format) };
}
