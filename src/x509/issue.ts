import {
  type KeyObject,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { Certificate } from './certificate.js';

/** Key types `nv2 cert generate` offers. */
export const KEY_TYPES = [
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'ec-p256',
  'ec-p384',
  'ec-p521',
] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** Generates a key pair of one of the supported types. */
export function generateKeyPair(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) });
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ec-p521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
  }
}

/** What to put in a certificate. Everything a profile or a test needs, nothing implicit. */
export interface CertificateRequest {
  /** Subject as an RFC 4514 string, e.g. `CN=registry.example.com, O=Example`. */
  readonly subject: string;
  /** The public key being certified. */
  readonly publicKey: KeyObject;
  /** Who signs: the issuer's private key and certificate; absent for a self-signed certificate. */
  readonly issuer?: { readonly key: KeyObject; readonly certificate: Certificate };
  /** For a self-signed certificate: the private key matching `publicKey`. */
  readonly selfSigningKey?: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Basic constraints (always critical); omitted when undefined. */
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLength?: number };
  /** Key usage bit mask (`KeyUsageFlags`, always critical); omitted when undefined. */
  readonly keyUsage?: number;
  /** Extended key usage OIDs; omitted when undefined. */
  readonly extendedKeyUsage?: readonly string[];
  /** DNS subject alternative names; omitted when empty. */
  readonly dnsNames?: readonly string[];
  /** Authority Information Access `caIssuers` URLs (RFC 5280 §4.2.2.1); omitted when empty. */
  readonly caIssuersUrls?: readonly string[];
  /** Further extensions as raw DER values. */
  readonly extraExtensions?: readonly {
    readonly oid: string;
    readonly critical: boolean;
    readonly value: Uint8Array;
  }[];
  /** Hex serial; random 16 bytes (positive) by default. */
  readonly serialNumber?: string;
}

/** The WebCrypto algorithm to sign a certificate with, following the signing key. */
function signingAlgorithm(key: KeyObject): { name: string; hash: string; namedCurve?: string } {
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { name: 'ECDSA', hash: 'SHA-256', namedCurve: 'P-256' };
    if (curve === 'secp384r1') return { name: 'ECDSA', hash: 'SHA-384', namedCurve: 'P-384' };
    if (curve === 'secp521r1') return { name: 'ECDSA', hash: 'SHA-512', namedCurve: 'P-521' };
  }
  throw new InvalidInputError(
    'NV2_ERR_UNSUPPORTED_KEY',
    'certificates can be signed with RSA or EC P-256/P-384/P-521 keys only',
  );
}

/**
 * Issues an X.509 v3 certificate. @peculiar/x509 builds and encodes it; it is loaded on first
 * use so that commands that only verify do not pay for it at start-up.
 *
 * @example
 * const { privateKey, publicKey } = generateKeyPair('ec-p256');
 * const cert = await issueCertificate({ subject: 'CN=registry.example.com', publicKey,
 *   selfSigningKey: privateKey, notBefore: new Date(), notAfter: new Date(Date.now() + 864e5),
 *   keyUsage: KeyUsageFlags.digitalSignature, dnsNames: ['registry.example.com'] });
 */
export async function issueCertificate(request: CertificateRequest): Promise<Certificate> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  type GeneratorParams = Parameters<typeof x509.X509CertificateGenerator.create>;
  const crypto = webcrypto as unknown as NonNullable<GeneratorParams[1]>;
  const signerKey = request.issuer?.key ?? request.selfSigningKey;
  if (signerKey === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'a certificate needs an issuer or a self-signing key',
    );
  }
  if (request.issuer === undefined && !createPublicKey(signerKey).equals(request.publicKey)) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_CERT_MISMATCH',
      'the self-signing key does not match the public key',
    );
  }
  const alg = signingAlgorithm(signerKey);
  const importAlg = alg.name === 'ECDSA' ? { name: 'ECDSA', namedCurve: alg.namedCurve } : alg;
  const signingKey = await crypto.subtle.importKey(
    'pkcs8',
    signerKey.export({ type: 'pkcs8', format: 'der' }),
    importAlg,
    false,
    ['sign'],
  );
  const spki = request.publicKey.export({ type: 'spki', format: 'der' });

  const extensions: InstanceType<typeof x509.Extension>[] = [];
  if (request.basicConstraints !== undefined) {
    extensions.push(
      new x509.BasicConstraintsExtension(
        request.basicConstraints.ca,
        request.basicConstraints.pathLength,
        true,
      ),
    );
  }
  if (request.keyUsage !== undefined)
    extensions.push(new x509.KeyUsagesExtension(request.keyUsage, true));
  if (request.extendedKeyUsage !== undefined) {
    extensions.push(new x509.ExtendedKeyUsageExtension([...request.extendedKeyUsage], false));
  }
  if (request.dnsNames !== undefined && request.dnsNames.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        request.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ),
    );
  }
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(spki, false, crypto));
  const issuerSpki =
    request.issuer?.certificate.publicKey.export({ type: 'spki', format: 'der' }) ?? spki;
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerSpki, false, crypto));
  if (request.caIssuersUrls !== undefined && request.caIssuersUrls.length > 0) {
    extensions.push(
      new x509.AuthorityInfoAccessExtension({ caIssuers: [...request.caIssuersUrls] }, false),
    );
  }
  for (const ext of request.extraExtensions ?? [])
    extensions.push(new x509.Extension(ext.oid, ext.critical, ext.value));

  // Positive, non-zero 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets).
  const serial = request.serialNumber ?? `01${randomBytes(15).toString('hex')}`;
  const issuerName =
    request.issuer !== undefined
      ? new x509.X509Certificate(request.issuer.certificate.der).subjectName
      : request.subject;
  const created = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial,
      subject: request.subject,
      issuer: issuerName,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      publicKey: spki,
      signingKey,
      signingAlgorithm: {
        name: alg.name,
        hash: alg.hash,
      } as GeneratorParams[0]['signingAlgorithm'],
      extensions,
    },
    crypto,
  );
  return new Certificate(new Uint8Array(created.rawData));
}
