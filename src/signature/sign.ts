import {
  type KeyObject,
  X509Certificate,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { type Descriptor, isDescriptor, parseReference } from '../oci/index.js';
import { type Algorithm, algorithmForKey, algorithmHash, cryptoKeyOptions } from './algorithms.js';
import { encodeBase64url } from './base64.js';
import { MAX_REFERENCES, MAX_X5C_ENTRIES, SIGNATURE_TYP } from './format.js';
import { keyId } from './key-id.js';
import type { KeySpec, SigningKey } from './signing-key.js';

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

/** The header and claims of a signature, ready to be signed. */
interface Prepared {
  readonly alg: Algorithm;
  readonly signingInput: string;
}

function prepare(
  descriptor: Descriptor,
  publicKey: KeyObject | undefined,
  alg: Algorithm,
  certificateChain: readonly Uint8Array[],
  options: SignOptions,
): Prepared {
  const chain = certificateChain;
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
  let header: Record<string, unknown>;
  if (chain.length > 0) {
    header = {
      typ: SIGNATURE_TYP,
      alg,
      x5c: chain.map((der) => Buffer.from(der).toString('base64')),
    };
  } else if (publicKey !== undefined) {
    header = { typ: SIGNATURE_TYP, alg, kid: keyId(publicKey) };
  } else {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_CERTIFICATE',
      'the nv2 format needs the certificate chain or the public key before signing',
    );
  }

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
  return {
    alg,
    signingInput: `${encodeBase64url(JSON.stringify(header))}.${encodeBase64url(JSON.stringify(claims))}`,
  };
}

function checkDescriptor(descriptor: Descriptor): void {
  if (!isDescriptor(descriptor)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'descriptor needs a mediaType, a digest and a size',
    );
  }
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
  checkDescriptor(descriptor);
  if (signer.key.type !== 'private') {
    throw new InvalidInputError('NV2_ERR_INVALID_KEY', 'signing needs a private key');
  }
  const { alg, signingInput } = prepare(
    descriptor,
    createPublicKey(signer.key),
    algorithmForKey(signer.key, options.algorithm),
    signer.certificateChain ?? [],
    options,
  );
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

/** The nv2 algorithm of a key known only by its spec: RSA → RS256 (or a requested RS/PS), EC by curve. */
function algorithmForSpec(spec: KeySpec | undefined, requested: Algorithm | undefined): Algorithm {
  const ec: Partial<Record<KeySpec, Algorithm>> = {
    'EC-256': 'ES256',
    'EC-384': 'ES384',
    'EC-521': 'ES512',
  };
  if (spec === undefined) {
    throw new InvalidInputError('NV2_ERR_UNSUPPORTED_KEY', 'the signing key has no known key spec');
  }
  const fixed = ec[spec];
  if (fixed !== undefined) {
    if (requested !== undefined && requested !== fixed) {
      throw new InvalidInputError(
        'NV2_ERR_KEY_ALGORITHM_MISMATCH',
        `alg ${requested} does not fit a ${spec} key`,
      );
    }
    return fixed;
  }
  if (requested !== undefined && !requested.startsWith('RS') && !requested.startsWith('PS')) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_ALGORITHM_MISMATCH',
      `alg ${requested} does not fit a ${spec} key`,
    );
  }
  return requested ?? 'RS256';
}

/**
 * Signs a manifest descriptor with a signing key (a key file, a PKCS#11 token key, …) and
 * returns the JWS compact serialization. The signing certificate chain must be known before
 * signing (it is in the protected header), else the public key (`kid`). The signature is
 * checked against the key's public key before it is returned.
 *
 * @example
 * const jws = await signWithKey(descriptor, fileSigningKey(key, [cert.der]), { references });
 * @throws InvalidInputError for an unusable key, algorithm, descriptor or reference;
 *   NV2_ERR_SIGNER_OUTPUT_INVALID when the key returned a signature that does not verify
 */
export async function signWithKey(
  descriptor: Descriptor,
  signingKey: SigningKey,
  options: SignOptions = {},
): Promise<string> {
  checkDescriptor(descriptor);
  const chain = signingKey.certificateChain ?? [];
  const publicKey =
    signingKey.publicKey ??
    (chain.length > 0 ? new X509Certificate(Buffer.from(chain[0]!)).publicKey : undefined);
  const alg =
    publicKey !== undefined
      ? algorithmForKey(publicKey, options.algorithm)
      : algorithmForSpec(signingKey.keySpec, options.algorithm);
  const prepared = prepare(descriptor, publicKey, alg, chain, options);
  const input = Buffer.from(prepared.signingInput, 'latin1');
  const { signature } = await signingKey.sign(alg, input);
  if (
    publicKey !== undefined &&
    !cryptoVerify(algorithmHash(alg), input, cryptoKeyOptions(publicKey, alg), signature)
  ) {
    throw new InvalidInputError(
      'NV2_ERR_SIGNER_OUTPUT_INVALID',
      `${signingKey.name} returned a ${alg} signature that does not verify with its public key`,
    );
  }
  return `${prepared.signingInput}.${Buffer.from(signature).toString('base64url')}`;
}
