import { type KeyObject, createPublicKey, sign as cryptoSign } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { type Algorithm, algorithmForKey, algorithmHash, cryptoKeyOptions } from './algorithms.js';

/**
 * The key specs of the Notary Project plugin specification (`describe-key`'s `keySpec`):
 * the only keys any signature format here signs with.
 */
export const KEY_SPECS = [
  'RSA-2048',
  'RSA-3072',
  'RSA-4096',
  'EC-256',
  'EC-384',
  'EC-521',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

/** Returns whether `value` is a key spec of the plugin specification. */
export function isKeySpec(value: unknown): value is KeySpec {
  return typeof value === 'string' && (KEY_SPECS as readonly string[]).includes(value);
}

const CURVE_SPECS: Readonly<Record<string, KeySpec>> = {
  prime256v1: 'EC-256',
  secp384r1: 'EC-384',
  secp521r1: 'EC-521',
};

/** The key spec of a key (public or private), or undefined for a key no format signs with. */
export function keySpecOf(key: KeyObject): KeySpec | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const spec = `RSA-${details.modulusLength ?? 0}`;
    return isKeySpec(spec) ? spec : undefined;
  }
  if (key.asymmetricKeyType === 'ec') return CURVE_SPECS[details.namedCurve ?? ''];
  return undefined;
}

/** What a signing key returns: the signature, and the chain when only signing reveals it. */
export interface KeySignature {
  /** The signature value; ECDSA as fixed-width r‖s, the form JWS and COSE both carry. */
  readonly signature: Uint8Array;
  /** DER certificates, signing certificate first, when the key did not know them before. */
  readonly certificateChain?: readonly Uint8Array[];
}

/** What an envelope-generating key is asked for. */
export interface EnvelopeRequest {
  /** The Notary Project payload (`{"targetArtifact": …}`), as bytes. */
  readonly payload: Uint8Array;
  readonly payloadType: string;
  /** `application/jose+json` or `application/cose`. */
  readonly envelopeType: string;
  /** Signature validity from signing, in whole seconds. */
  readonly expiryDurationInSeconds?: number;
}

/** An envelope a key generated, not yet checked. */
export interface GeneratedEnvelope {
  readonly envelope: Uint8Array;
  readonly envelopeType: string;
  /** Annotations for the signature manifest. */
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * A key that signs: a key file held in memory, a key inside a PKCS#11 token, a key behind a
 * Notary Project plugin. Every signature format (the nv2 compact JWS, the Notary Project JWS
 * and COSE envelopes) signs through this one interface, so a format never sees the key.
 */
export interface SigningKey {
  /** Names the key in messages: a file, a PKCS#11 URI, a plugin and key id. */
  readonly name: string;
  /**
   * The key's spec; absent only for an in-memory key outside the table (RSA-8192), which the
   * nv2 format accepts and the Notary Project formats do not.
   */
  readonly keySpec?: KeySpec;
  /** The public key, when known before signing (the nv2 format needs it for `kid`). */
  readonly publicKey?: KeyObject;
  /**
   * DER certificates, signing certificate first, then the chain; absent when the key only
   * tells them with a signature (a signing plugin).
   */
  readonly certificateChain?: readonly Uint8Array[];
  /** Signs `data` with `alg` (hashing included). */
  sign(alg: Algorithm, data: Uint8Array): Promise<KeySignature>;
  /**
   * Present when the key makes whole envelopes itself (a plugin with the
   * SIGNATURE_GENERATOR.ENVELOPE capability): the caller hands over the payload and checks
   * the envelope it gets back instead of assembling one around `sign`.
   */
  generateEnvelope?(request: EnvelopeRequest): Promise<GeneratedEnvelope>;
  /** Releases what the key holds open (a token session); the key cannot sign after. */
  close?(): Promise<void>;
}

/** Returns whether `value` is a `SigningKey` (has a `sign` method), not key material. */
export function isSigningKey(value: unknown): value is SigningKey {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { sign?: unknown }).sign === 'function'
  );
}

/**
 * A signing key over a private key in memory (parsed once, reused for every signature).
 *
 * @example
 * const signingKey = fileSigningKey(loadPrivateKey(pem, 'key.pem'), [cert.der], 'key.pem');
 * @throws InvalidInputError NV2_ERR_INVALID_KEY, NV2_ERR_UNSUPPORTED_KEY, NV2_ERR_KEY_TOO_WEAK
 */
export function fileSigningKey(
  key: KeyObject,
  certificateChain: readonly Uint8Array[] = [],
  name = 'key file',
): SigningKey {
  if (key.type !== 'private') {
    throw new InvalidInputError('NV2_ERR_INVALID_KEY', `${name}: signing needs a private key`);
  }
  // Refuses what no format signs with (ed25519, RSA under 2048 bits) with the usual codes.
  algorithmForKey(key);
  const keySpec = keySpecOf(key);
  return {
    name,
    ...(keySpec !== undefined ? { keySpec } : {}),
    publicKey: createPublicKey(key),
    certificateChain,
    sign(alg: Algorithm, data: Uint8Array): Promise<KeySignature> {
      try {
        return Promise.resolve({
          signature: cryptoSign(algorithmHash(alg), data, cryptoKeyOptions(key, alg)),
        });
      } catch (err) {
        return Promise.reject(
          new InvalidInputError(
            'NV2_ERR_INVALID_KEY',
            `${name}: the key cannot sign ${alg}: ${(err as Error).message}`,
            { cause: err },
          ),
        );
      }
    },
  };
}
