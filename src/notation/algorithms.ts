import { type KeyObject, constants, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { describeKey } from '../signature/index.js';

/**
 * The algorithms of the Notary Project signature specification. Each follows from the key:
 * RSA 2048/3072/4096 → PS256/PS384/PS512, EC P-256/P-384/P-521 → ES256/ES384/ES512; a
 * signature whose `alg` disagrees with its certificate's key is invalid.
 */
export const NOTATION_ALGORITHMS = ['PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;
export type NotationAlgorithm = (typeof NOTATION_ALGORITHMS)[number];

/** COSE algorithm identifiers (RFC 9053 §2.1, RFC 8230 §2). */
export const COSE_ALGORITHM_IDS: Readonly<Record<NotationAlgorithm, number>> = {
  PS256: -37,
  PS384: -38,
  PS512: -39,
  ES256: -7,
  ES384: -35,
  ES512: -36,
};

const HASHES: Readonly<Record<NotationAlgorithm, 'sha256' | 'sha384' | 'sha512'>> = {
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};

const BY_RSA_BITS: Readonly<Record<number, NotationAlgorithm>> = {
  2048: 'PS256',
  3072: 'PS384',
  4096: 'PS512',
};
const BY_CURVE: Readonly<Record<string, NotationAlgorithm>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

export function isNotationAlgorithm(value: unknown): value is NotationAlgorithm {
  return typeof value === 'string' && (NOTATION_ALGORITHMS as readonly string[]).includes(value);
}

export function algorithmFromCoseId(id: unknown): NotationAlgorithm | undefined {
  return NOTATION_ALGORITHMS.find((alg) => COSE_ALGORITHM_IDS[alg] === id);
}

/** The algorithm a key signs with, or undefined when the specification allows no key like it. */
export function notationAlgorithmOf(key: KeyObject): NotationAlgorithm | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return BY_RSA_BITS[details.modulusLength ?? 0];
  if (key.asymmetricKeyType === 'ec') return BY_CURVE[details.namedCurve ?? ''];
  return undefined;
}

/**
 * The algorithm for signing with `key`.
 *
 * @throws InvalidInputError NV2_ERR_UNSUPPORTED_KEY for keys outside the table
 */
export function signingAlgorithmFor(key: KeyObject): NotationAlgorithm {
  const alg = notationAlgorithmOf(key);
  if (alg === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_UNSUPPORTED_KEY',
      `${describeKey(key)} keys cannot make Notary Project signatures: use RSA 2048, 3072 or 4096 bits, or EC P-256, P-384 or P-521`,
    );
  }
  return alg;
}

function keyOptions(key: KeyObject, alg: NotationAlgorithm) {
  // RSASSA-PSS with a salt as long as the hash (RFC 7518 §3.5, RFC 8230 §2); ECDSA as the
  // fixed-width r‖s both JWS and COSE use.
  return alg.startsWith('PS')
    ? {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      }
    : { key, dsaEncoding: 'ieee-p1363' as const };
}

export function signBytes(alg: NotationAlgorithm, key: KeyObject, data: Uint8Array): Buffer {
  return cryptoSign(HASHES[alg], data, keyOptions(key, alg));
}

export function verifyBytes(
  alg: NotationAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return cryptoVerify(HASHES[alg], data, keyOptions(key, alg), signature);
  } catch {
    return false;
  }
}
