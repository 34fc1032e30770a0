import { type KeyObject, createPublicKey, sign as cryptoSign } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { type Descriptor, isDescriptor, parseReference } from '../oci/index.js';
import { type Algorithm, algorithmForKey, algorithmHash, cryptoKeyOptions } from './algorithms.js';
import { encodeBase64url } from './base64.js';
import { MAX_REFERENCES, MAX_X5C_ENTRIES, SIGNATURE_TYP } from './format.js';
import { keyId } from './key-id.js';

/** Who signs: a private key, and the certificate chain that vouches for it. */
export interface Signer {
  /** The private key. */
  readonly key: KeyObject;
  /**
   * DER certificates, signing certificate first, then intermediates. With a chain the header
   * carries `x5c`; without one, a `kid` naming the key.
   */
  readonly certificateChain?: readonly Uint8Array[];
}

/** How to sign. */
export interface SignOptions {
  /** JWS algorithm; by default it follows the key (RSA → RS256, P-256 → ES256, …). */
  readonly algorithm?: Algorithm;
  /** Names the manifest was published under (`registry.io/repo:tag`). */
  readonly references?: readonly string[];
  /** Validity in seconds from signing time: sets `nbf` = `iat` and `exp` = `iat` + this. */
  readonly expiresIn?: number;
  /** Signing time; defaults to now. */
  readonly now?: Date;
}

/**
 * Signs a manifest descriptor, returning the signature as a JWS compact serialization.
 *
 * @example
 * const jws = sign(describeManifest(bytes).descriptor, { key, certificateChain: [certDer] },
 *   { references: ['registry.example.com/app:v1'], expiresIn: 90 * 86400 });
 * @throws InvalidInputError for an unusable key, algorithm, descriptor or reference
 */
export function sign(descriptor: Descriptor, signer: Signer, options: SignOptions = {}): string {
  if (!isDescriptor(descriptor)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'descriptor needs a mediaType, a digest and a size',
    );
  }
  if (signer.key.type !== 'private') {
    throw new InvalidInputError('NV2_ERR_INVALID_KEY', 'signing needs a private key');
  }
  const alg = algorithmForKey(signer.key, options.algorithm);
  const chain = signer.certificateChain ?? [];
  if (chain.length > MAX_X5C_ENTRIES) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_CERTIFICATE',
      `certificate chain has more than ${MAX_X5C_ENTRIES} certificates`,
    );
  }
  const references = options.references ?? [];
  if (references.length > MAX_REFERENCES) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `more than ${MAX_REFERENCES} references`,
    );
  }
  for (const ref of references) parseReference(ref);
  if (
    options.expiresIn !== undefined &&
    !(Number.isSafeInteger(options.expiresIn) && options.expiresIn > 0)
  ) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'expiry must be a positive whole number of seconds',
    );
  }

  const header =
    chain.length > 0
      ? { typ: SIGNATURE_TYP, alg, x5c: chain.map((der) => Buffer.from(der).toString('base64')) }
      : { typ: SIGNATURE_TYP, alg, kid: keyId(createPublicKey(signer.key)) };

  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims: Record<string, unknown> = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
  };
  if (references.length > 0) claims['references'] = [...references];
  if (options.expiresIn !== undefined) claims['exp'] = iat + options.expiresIn;
  claims['iat'] = iat;
  if (options.expiresIn !== undefined) claims['nbf'] = iat;

  const signingInput = `${encodeBase64url(JSON.stringify(header))}.${encodeBase64url(JSON.stringify(claims))}`;
  let signature: Buffer;
  try {
    signature = cryptoSign(
      algorithmHash(alg),
      Buffer.from(signingInput, 'latin1'),
      cryptoKeyOptions(signer.key, alg),
    );
  } catch (err) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_KEY',
      `the key cannot sign ${alg}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return `${signingInput}.${signature.toString('base64url')}`;
}
