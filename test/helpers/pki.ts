/**
 * A test PKI minted per run: keys and certificates with exactly the properties a test needs
 * (expired, not a CA, no key usage, …), issued with the library's own `issueCertificate`,
 * which takes every field explicitly and so can also make the bad ones.
 */
import type { KeyObject } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
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
