/**
 * A test PKI minted per run: keys and certificates with exactly the properties a test needs
 * (expired, not a CA, no key usage, …), issued with the library's own `issueCertificate`,
 * which takes every field explicitly and so can also make the bad ones.
 */
import type { KeyObject } from 'node:crypto';
import { constants, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import {
  type Certificate,
  type CertificateRequest,
  KeyUsageFlags,
  type KeyType,
  generateKeyPair,
  issueCertificate,
} from '../../src/x509/index.js';

/** A key with its certificate. */
export interface TestIdentity {
  readonly key: KeyObject;
  readonly cert: Certificate;
  /** The certificate as PEM. */
  readonly certPem: string;
  /** The private key as PKCS#8 PEM. */
  readonly keyPem: string;
}

const DAY = 86400_000;
/** A fixed "now" for tests that need stable times; certificates below are valid around it. */
export const NOW = new Date();

/** Fields of a certificate request a test may override. */
export type IdentityOptions = Partial<
  Omit<CertificateRequest, 'publicKey' | 'issuer' | 'selfSigningKey'>
> & {
  readonly keyType?: KeyType | 'rsa-1024';
};

function keyPair(type: KeyType | 'rsa-1024'): { privateKey: KeyObject; publicKey: KeyObject } {
  return type === 'rsa-1024'
    ? generateKeyPairSync('rsa', { modulusLength: 1024 })
    : generateKeyPair(type);
}

async function mint(
  options: IdentityOptions,
  defaults: Partial<CertificateRequest>,
  issuer?: TestIdentity,
): Promise<TestIdentity> {
  const { privateKey, publicKey } = keyPair(options.keyType ?? 'ec-p256');
  const { keyType: _ignored, ...fields } = options;
  const cert = await issueCertificate({
    subject: 'CN=test',
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + 30 * DAY),
    ...defaults,
    ...fields,
    publicKey,
    ...(issuer !== undefined
      ? { issuer: { key: issuer.key, certificate: issuer.cert } }
      : { selfSigningKey: privateKey }),
  });
  return {
    key: privateKey,
    cert,
    certPem: cert.toPem(),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A self-signed signing certificate for `cn` (also its DNS SAN), fit for signing. */
export function selfSignedSigner(cn: string, options: IdentityOptions = {}): Promise<TestIdentity> {
  return mint(options, {
    subject: `CN=${cn}`,
    basicConstraints: { ca: false },
    keyUsage: KeyUsageFlags.digitalSignature,
    dnsNames: [cn],
  });
}

/** A root CA. */
export function rootCA(cn: string, options: IdentityOptions = {}): Promise<TestIdentity> {
  return mint(options, {
    subject: `CN=${cn}`,
    basicConstraints: { ca: true },
    keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign,
  });
}

/** An intermediate CA issued by `issuer`. */
export function intermediateCA(
  issuer: TestIdentity,
  cn: string,
  options: IdentityOptions = {},
): Promise<TestIdentity> {
  return mint(
    options,
    {
      subject: `CN=${cn}`,
      basicConstraints: { ca: true },
      keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign,
    },
    issuer,
  );
}

/** A signing certificate for `cn` (also its DNS SAN) issued by `issuer`. */
export function issuedSigner(
  issuer: TestIdentity,
  cn: string,
  options: IdentityOptions = {},
): Promise<TestIdentity> {
  return mint(
    options,
    {
      subject: `CN=${cn}`,
      basicConstraints: { ca: false },
      keyUsage: KeyUsageFlags.digitalSignature,
      dnsNames: [cn],
    },
    issuer,
  );
}

/** Days as milliseconds, for validity windows. */
export function days(n: number): number {
  return n * DAY;
}

/**
 * A certificate with only the fields given (plus subject `CN=test` and a validity around
 * `NOW` unless overridden): no basic constraints, key usage or SANs by default, so a test can
 * make a certificate that lacks exactly one of them. Self-signed unless `issuer` is given.
 */
export function customIdentity(
  options: IdentityOptions = {},
  issuer?: TestIdentity,
): Promise<TestIdentity> {
  return mint(options, {}, issuer);
}

/** Standard base64 DER of each identity's certificate, as a JWS `x5c` header carries them. */
export function x5cOf(...identities: readonly TestIdentity[]): string[] {
  return identities.map((id) => id.cert.der.toString('base64'));
}

/** base64url (no padding) of the JSON of `value`, or of the bytes/string given as they are. */
export function segment(value: unknown): string {
  if (typeof value === 'string') return Buffer.from(value, 'utf8').toString('base64url');
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64url');
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * Signs `input` as JWS algorithm `alg` (RS*, PS*, ES*) with node:crypto alone, independently
 * of the library: ES* signatures in the fixed-width r‖s form of RFC 7518 §3.4, PS* with a
 * salt as long as the hash.
 */
export function jwsSignature(alg: string, key: KeyObject, input: Uint8Array): Buffer {
  const hash = `sha${alg.slice(2)}`;
  switch (alg.slice(0, 2)) {
    case 'RS':
      return cryptoSign(hash, input, key);
    case 'PS':
      return cryptoSign(hash, input, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    case 'ES':
      return cryptoSign(hash, input, { key, dsaEncoding: 'ieee-p1363' });
    default:
      throw new Error(`jwsSignature: no way to sign ${alg}`);
  }
}

/**
 * A JWS compact serialization made by hand, so that tests can sign any header and claims
 * (also ones `sign()` refuses to write). `signWith` is a key (signed as `signAs`, by default
 * the header's `alg`) or the exact signature bytes to append.
 */
export function craftJws(
  header: unknown,
  claims: unknown,
  signWith: KeyObject | Uint8Array,
  signAs?: string,
): string {
  const input = `${segment(header)}.${segment(claims)}`;
  const signature =
    signWith instanceof Uint8Array
      ? Buffer.from(signWith)
      : jwsSignature(
          signAs ?? String((header as { alg?: unknown }).alg),
          signWith,
          Buffer.from(input, 'latin1'),
        );
  return `${input}.${signature.toString('base64url')}`;
}
