import { type KeyObject, verify as cryptoVerify } from 'node:crypto';

/** Hash algorithm OIDs (NIST) accepted in CMS, OCSP and CRLs. */
export const HASH_BY_OID: Readonly<Record<string, 'sha256' | 'sha384' | 'sha512'>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Signature algorithms accepted on timestamp tokens, OCSP responses and CRLs, with the hash they fix. */
const SIGNATURE_BY_OID: Readonly<Record<string, { kind: 'rsa' | 'ecdsa'; hash?: string }>> = {
  '1.2.840.113549.1.1.1': { kind: 'rsa' }, // rsaEncryption: the hash is CMS's digestAlgorithm
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'sha512' },
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'sha512' },
};

/**
 * Verifies an X.509-style signature (`AlgorithmIdentifier` OID, DER ECDSA). Returns undefined
 * when the algorithm is not supported, so callers can say so.
 */
export function verifyPkixSignature(
  algorithm: string,
  data: Uint8Array,
  key: KeyObject,
  signature: Uint8Array,
  digestHash?: string,
): boolean | undefined {
  const spec = SIGNATURE_BY_OID[algorithm];
  const hash = spec?.hash ?? digestHash;
  if (spec === undefined || hash === undefined) return undefined;
  try {
    return cryptoVerify(
      hash,
      data,
      spec.kind === 'ecdsa' ? { key, dsaEncoding: 'der' } : key,
      signature,
    );
  } catch {
    return false;
  }
}
