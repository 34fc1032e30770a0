import { type KeyObject, constants } from 'node:crypto';
import { InvalidInputError, VerificationFailedError } from '../errors.js';

/** Every JWS `alg` an nv2 signature may use (nv2 signature spec, "Header"). */
export const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** The smallest RSA modulus accepted, at signing and at verification. */
export const MIN_RSA_BITS = 2048;

interface AlgorithmSpec {
  /** Hash for node:crypto sign/verify. */
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly family: 'RSASSA-PKCS1-v1_5' | 'RSASSA-PSS' | 'ECDSA';
  /** For ECDSA: the curve as node names it, and the fixed r‖s length (RFC 7518 §3.4). */
  readonly curve?: 'prime256v1' | 'secp384r1' | 'secp521r1';
  readonly signatureBytes?: number;
}

const SPECS: Readonly<Record<Algorithm, AlgorithmSpec>> = {
  RS256: { hash: 'sha256', family: 'RSASSA-PKCS1-v1_5' },
  RS384: { hash: 'sha384', family: 'RSASSA-PKCS1-v1_5' },
  RS512: { hash: 'sha512', family: 'RSASSA-PKCS1-v1_5' },
  PS256: { hash: 'sha256', family: 'RSASSA-PSS' },
  PS384: { hash: 'sha384', family: 'RSASSA-PSS' },
  PS512: { hash: 'sha512', family: 'RSASSA-PSS' },
  ES256: { hash: 'sha256', family: 'ECDSA', curve: 'prime256v1', signatureBytes: 64 },
  ES384: { hash: 'sha384', family: 'ECDSA', curve: 'secp384r1', signatureBytes: 96 },
  ES512: { hash: 'sha512', family: 'ECDSA', curve: 'secp521r1', signatureBytes: 132 },
};

const HASH_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;
const PSS_BY_HASH: Readonly<Record<string, Algorithm>> = {
  sha256: 'PS256',
  sha384: 'PS384',
  sha512: 'PS512',
};

/** The hash an algorithm signs with. */
export function algorithmHash(alg: Algorithm): 'sha256' | 'sha384' | 'sha512' {
  return SPECS[alg].hash;
}

/** Returns whether `value` is an allowed `alg` (never `none`, never HMAC). */
export function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && Object.hasOwn(SPECS, value);
}

/** The fixed signature length of an ECDSA algorithm; undefined for RSA. */
export function ecdsaSignatureBytes(alg: Algorithm): number | undefined {
  return SPECS[alg].signatureBytes;
}

/** A description of a key for messages: `RSA-2048`, `EC P-256`, `ed25519`. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return `RSA-${details.modulusLength ?? '?'}`;
    case 'ec': {
      const names: Record<string, string> = {
        prime256v1: 'P-256',
        secp384r1: 'P-384',
        secp521r1: 'P-521',
      };
      return `EC ${names[details.namedCurve ?? ''] ?? details.namedCurve ?? '?'}`;
    }
    default:
      return key.asymmetricKeyType ?? key.type;
  }
}

/**
 * Why `key` cannot be used with `alg`, or undefined when it can: the algorithm must follow
 * the key type and curve, and RSA keys must have at least 2048 bits.
 */
export function keyAlgorithmProblem(
  key: KeyObject,
  alg: Algorithm,
):
  { code: 'NV2_ERR_KEY_ALGORITHM_MISMATCH' | 'NV2_ERR_KEY_TOO_WEAK'; message: string } | undefined {
  const spec = SPECS[alg];
  const type = key.asymmetricKeyType;
  if (spec.family === 'ECDSA') {
    if (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== spec.curve) {
      return {
        code: 'NV2_ERR_KEY_ALGORITHM_MISMATCH',
        message: `alg ${alg} does not fit a ${describeKey(key)} key`,
      };
    }
    return undefined;
  }
  // An rsa-pss SubjectPublicKeyInfo restricts the key to PSS.
  if (type !== 'rsa' && !(type === 'rsa-pss' && spec.family === 'RSASSA-PSS')) {
    return {
      code: 'NV2_ERR_KEY_ALGORITHM_MISMATCH',
      message: `alg ${alg} does not fit a ${describeKey(key)} key`,
    };
  }
  // RSASSA-PSS parameters in the SubjectPublicKeyInfo bind the key to one hash, and the salt
  // must fit RFC 7518 §3.5 (as long as the hash); OpenSSL would otherwise throw mid-verify.
  const details = key.asymmetricKeyDetails ?? {};
  if (
    type === 'rsa-pss' &&
    ((details.hashAlgorithm !== undefined && details.hashAlgorithm !== spec.hash) ||
      (details.mgf1HashAlgorithm !== undefined && details.mgf1HashAlgorithm !== spec.hash) ||
      (details.saltLength !== undefined && details.saltLength > HASH_BYTES[spec.hash]))
  ) {
    return {
      code: 'NV2_ERR_KEY_ALGORITHM_MISMATCH',
      message: `alg ${alg} does not fit an RSASSA-PSS key restricted to ${details.hashAlgorithm ?? '?'} (salt ${details.saltLength ?? '?'})`,
    };
  }
  const bits = details.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    return {
      code: 'NV2_ERR_KEY_TOO_WEAK',
      message: `RSA key of ${bits} bits is refused: at least ${MIN_RSA_BITS} are required`,
    };
  }
  return undefined;
}

/**
 * The algorithm a key signs with by default: RSA → RS256, P-256 → ES256, P-384 → ES384,
 * P-521 → ES512. `requested` (e.g. PS256) is checked against the key instead.
 *
 * @throws InvalidInputError NV2_ERR_UNSUPPORTED_KEY, NV2_ERR_KEY_ALGORITHM_MISMATCH, NV2_ERR_KEY_TOO_WEAK
 */
export function algorithmForKey(key: KeyObject, requested?: Algorithm): Algorithm {
  let alg = requested;
  if (alg === undefined) {
    const type = key.asymmetricKeyType;
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (type === 'rsa') alg = 'RS256';
    else if (type === 'rsa-pss')
      alg = PSS_BY_HASH[key.asymmetricKeyDetails?.hashAlgorithm ?? 'sha256'] ?? 'PS256';
    else if (type === 'ec' && curve === 'prime256v1') alg = 'ES256';
    else if (type === 'ec' && curve === 'secp384r1') alg = 'ES384';
    else if (type === 'ec' && curve === 'secp521r1') alg = 'ES512';
    else {
      throw new InvalidInputError(
        'NV2_ERR_UNSUPPORTED_KEY',
        `${describeKey(key)} keys are not supported: use RSA (2048 bits or more) or EC P-256, P-384 or P-521`,
      );
    }
  }
  const problem = keyAlgorithmProblem(key, alg);
  if (problem !== undefined) throw new InvalidInputError(problem.code, problem.message);
  return alg;
}

/** Options for node:crypto sign/verify with a given key and algorithm. */
export interface CryptoKeyOptions {
  readonly key: KeyObject;
  readonly padding?: number;
  readonly saltLength?: number;
  readonly dsaEncoding?: 'ieee-p1363';
}

/**
 * The key options node:crypto needs for `alg`. Build once per key and reuse: this object is
 * what the verification hot path hands to `crypto.verify`.
 */
export function cryptoKeyOptions(key: KeyObject, alg: Algorithm): CryptoKeyOptions {
  switch (SPECS[alg].family) {
    case 'RSASSA-PKCS1-v1_5':
      return { key, padding: constants.RSA_PKCS1_PADDING };
    case 'RSASSA-PSS':
      // RFC 7518 §3.5: the salt is as long as the hash output.
      return {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      };
    case 'ECDSA':
      return { key, dsaEncoding: 'ieee-p1363' };
  }
}

/** Throws a verification failure when `key` cannot verify `alg` signatures. */
export function assertKeyFitsAlgorithm(key: KeyObject, alg: Algorithm): void {
  const problem = keyAlgorithmProblem(key, alg);
  if (problem !== undefined) throw new VerificationFailedError(problem.code, problem.message);
}
