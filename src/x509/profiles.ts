import type { KeyObject } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { type Certificate, KeyUsageFlags } from './certificate.js';
import { type KeyType, generateKeyPair, issueCertificate } from './issue.js';

/** Extended key usage codeSigning: nv2 does not need it, but it lets notation use the same certificate. */
export const CODE_SIGNING_EKU = '1.3.6.1.5.5.7.3.3';

/** The longest validity `generateCertificate` issues. */
export const MAX_VALIDITY_DAYS = 100 * 365;

/** What kind of certificate to generate. */
export interface GenerateCertificateOptions {
  /** Subject CN; for a signing certificate also its DNS name (a registry host). */
  readonly commonName: string;
  readonly keyType?: KeyType;
  /** Validity in days from now (default 365). */
  readonly days?: number;
  /** Make a CA certificate (keyCertSign, cRLSign) instead of a signing certificate. */
  readonly ca?: boolean;
  /** For a CA: how many intermediate CAs may follow it. */
  readonly pathLength?: number;
  /** The issuing CA; absent for a self-signed certificate. */
  readonly issuer?: { readonly key: KeyObject; readonly certificate: Certificate };
  /**
   * Where the issuer's certificate is published (AIA `caIssuers`, RFC 5280 §4.2.2.1): lets
   * a verifier that does not trust the issuer yet tell its user where to get it.
   */
  readonly caIssuersUrl?: string;
  readonly now?: Date;
}

/** RFC 4514 escaping of an attribute value. */
function escapeDn(value: string): string {
  return value
    .replace(/([,+"\\<>;=])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');
}

function checkCaIssuersUrl(value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `the issuer certificate URL ${JSON.stringify(value)} is not an http(s) URL`,
    );
  }
}

/**
 * Generates a key pair and a certificate for it in one of two profiles: a signing
 * certificate (CN and DNS SAN = `commonName`, key usage digitalSignature, codeSigning, not a
 * CA) or, with `ca`, a CA certificate. Self-signed unless `issuer` is given.
 *
 * @example const { privateKey, certificate } = await generateCertificate({ commonName: 'registry.example.com' });
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an empty or over-long name or bad validity
 */
export async function generateCertificate(
  options: GenerateCertificateOptions,
): Promise<{ privateKey: KeyObject; certificate: Certificate }> {
  const cn = options.commonName.trim();
  if (cn === '' || cn.length > 64) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'the common name must be 1 to 64 characters (RFC 5280 ub-common-name)',
    );
  }
  const days = options.days ?? 365;
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `validity must be 1 to ${MAX_VALIDITY_DAYS} whole days`,
    );
  }
  if (options.caIssuersUrl !== undefined) checkCaIssuersUrl(options.caIssuersUrl);
  const { privateKey, publicKey } = generateKeyPair(options.keyType ?? 'ec-p256');
  // Whole seconds, back-dated a minute so that a verifier whose clock lags a little accepts it at once.
  const notBefore = new Date(
    Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000 - 60_000,
  );
  const notAfter = new Date(notBefore.getTime() + days * 86400_000);
  const certificate = await issueCertificate({
    subject: `CN=${escapeDn(cn)}`,
    publicKey,
    ...(options.issuer !== undefined ? { issuer: options.issuer } : { selfSigningKey: privateKey }),
    notBefore,
    notAfter,
    ...(options.caIssuersUrl !== undefined ? { caIssuersUrls: [options.caIssuersUrl] } : {}),
    ...(options.ca === true
      ? {
          basicConstraints:
            options.pathLength !== undefined
              ? { ca: true, pathLength: options.pathLength }
              : { ca: true },
          keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign,
        }
      : {
          basicConstraints: { ca: false },
          keyUsage: KeyUsageFlags.digitalSignature,
          extendedKeyUsage: [CODE_SIGNING_EKU],
          dnsNames: [cn],
        }),
  });
  return { privateKey, certificate };
}
