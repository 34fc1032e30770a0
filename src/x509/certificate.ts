import { type KeyObject, X509Certificate, createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityInfoAccessSyntax,
  BasicConstraints,
  Certificate as AsnCertificate,
  ExtendedKeyUsage,
  KeyUsage,
  type Name,
  SubjectAlternativeName,
} from '@peculiar/asn1-x509';
import { InvalidInputError } from '../errors.js';

/** Key usage bits (RFC 5280 §4.2.1.3) as a bit mask: digitalSignature is bit 0. */
export const KeyUsageFlags = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
  encipherOnly: 128,
  decipherOnly: 256,
} as const;

const OID = {
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
} as const;

/** Short names of the attribute types RFC 4514 §3 lists (and those X.509 subjects commonly carry). */
const ATTRIBUTE_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'SERIALNUMBER'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'T'],
  ['2.5.4.42', 'GN'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'E'],
]);

/** One attribute of a distinguished name: its type (short name, or dotted OID) and value. */
export interface NameAttribute {
  readonly type: string;
  readonly value: string;
}

/**
 * Extensions whose meaning this module either enforces (basic constraints, key usage) or
 * that carry no restriction it would have to enforce (names, identifiers, policies). Any
 * other extension marked critical makes a certificate unusable (RFC 5280 §4.2).
 */
const HANDLED_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.32', // certificatePolicies
  OID.authorityInfoAccess,
]);

/** Signature algorithms whose hash is broken: a certificate signed with one proves nothing. */
const WEAK_SIGNATURE_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10040.4.3', 'dsa-with-sha1'],
]);

/**
 * A parsed X.509 certificate with the facts chain validation needs, computed once.
 * The DER is parsed by node:crypto (signatures, public key) and by @peculiar/asn1-x509
 * (extensions node does not expose: key usage bits, path length, criticality).
 */
export class Certificate {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  /** Subject and issuer as one line, `CN=…, O=…` in the certificate's order. */
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Basic constraints; undefined when the extension is absent (not a CA). */
  readonly basicConstraints: { readonly ca: boolean; readonly pathLength?: number } | undefined;
  /** Key usage bit mask (`KeyUsageFlags`); undefined when the extension is absent (unrestricted). */
  readonly keyUsage: number | undefined;
  /** Whether the key usage extension is present and marked critical. */
  readonly keyUsageCritical: boolean;
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly commonNames: readonly string[];
  /** The subject's relative distinguished names in order, each a set of attributes. */
  readonly subjectAttributes: readonly (readonly NameAttribute[])[];
  readonly dnsNames: readonly string[];
  /**
   * URLs where the issuer's certificate is published (Authority Information Access
   * `caIssuers`, RFC 5280 §4.2.2.1), so that a verifier can tell users where to get it.
   */
  readonly caIssuersUrls: readonly string[];
  /** OIDs of critical extensions this module does not process. */
  readonly unhandledCriticalExtensions: readonly string[];
  /** Name of the broken hash algorithm the certificate is signed with, if any. */
  readonly weakSignatureAlgorithm: string | undefined;
  /** Lower-case hex SHA-256 of the DER. */
  readonly fingerprintSha256: string;
  /** Subject and issuer names are equal (a root or a self-signed leaf). */
  readonly selfIssued: boolean;

  constructor(der: Uint8Array) {
    this.der = Buffer.from(der);
    let asn: AsnCertificate;
    try {
      this.x509 = new X509Certificate(this.der);
      asn = AsnConvert.parse(this.der, AsnCertificate);
    } catch (err) {
      throw new InvalidInputError('NV2_ERR_INVALID_CERTIFICATE', 'not a valid X.509 certificate', {
        cause: err,
      });
    }
    // Exactly one DER certificate: trailing bytes would give the same certificate a second
    // spelling (and fingerprint). OpenSSL re-encodes what it parsed; anything else differs.
    if (!this.x509.raw.equals(this.der)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_CERTIFICATE',
        'certificate is not exactly one DER-encoded X.509 certificate',
      );
    }
    const tbs = asn.tbsCertificate;
    this.publicKey = this.x509.publicKey;
    this.subject = this.x509.subject.split('\n').join(', ');
    this.issuer = this.x509.issuer.split('\n').join(', ');
    this.serialNumber = this.x509.serialNumber;
    this.notBefore = tbs.validity.notBefore.getTime();
    this.notAfter = tbs.validity.notAfter.getTime();
    this.commonNames = nameValues(tbs.subject, OID.commonName);
    this.subjectAttributes = Array.from(tbs.subject, (rdn) =>
      Array.from(rdn, (atv) => ({
        type: ATTRIBUTE_NAMES.get(atv.type) ?? atv.type,
        value: atv.value.toString(),
      })),
    );
    this.selfIssued = this.x509.subject === this.x509.issuer;
    this.weakSignatureAlgorithm = WEAK_SIGNATURE_ALGORITHMS.get(asn.signatureAlgorithm.algorithm);
    this.fingerprintSha256 = createHash('sha256').update(this.der).digest('hex');

    let basicConstraints: Certificate['basicConstraints'];
    let keyUsage: number | undefined;
    let keyUsageCritical = false;
    let extendedKeyUsage: string[] | undefined;
    let dnsNames: string[] = [];
    let caIssuersUrls: string[] = [];
    const unhandled: string[] = [];
    const seen = new Set<string>();
    try {
      for (const ext of tbs.extensions ?? []) {
        // RFC 5280 §4.2: a certificate must not include more than one instance of an extension.
        if (seen.has(ext.extnID)) throw new Error(`duplicate extension ${ext.extnID}`);
        seen.add(ext.extnID);
        const value = ext.extnValue.buffer;
        switch (ext.extnID) {
          case OID.basicConstraints: {
            const bc = AsnConvert.parse(value, BasicConstraints);
            basicConstraints =
              bc.pathLenConstraint !== undefined
                ? { ca: bc.cA, pathLength: bc.pathLenConstraint }
                : { ca: bc.cA };
            break;
          }
          case OID.keyUsage:
            keyUsage = AsnConvert.parse(value, KeyUsage).toNumber();
            keyUsageCritical = ext.critical;
            break;
          case OID.extKeyUsage:
            extendedKeyUsage = Array.from(AsnConvert.parse(value, ExtendedKeyUsage));
            break;
          case OID.subjectAltName:
            dnsNames = Array.from(AsnConvert.parse(value, SubjectAlternativeName))
              .filter((n) => n.dNSName !== undefined)
              .map((n) => n.dNSName!);
            break;
          case OID.authorityInfoAccess:
            caIssuersUrls = Array.from(AsnConvert.parse(value, AuthorityInfoAccessSyntax))
              .filter(
                (d) =>
                  d.accessMethod === OID.caIssuers &&
                  d.accessLocation.uniformResourceIdentifier !== undefined,
              )
              .map((d) => d.accessLocation.uniformResourceIdentifier!);
            break;
          default:
            if (ext.critical && !HANDLED_EXTENSIONS.has(ext.extnID)) unhandled.push(ext.extnID);
        }
      }
    } catch (err) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_CERTIFICATE',
        `certificate ${this.subject} has a malformed extension`,
        {
          cause: err,
        },
      );
    }
    this.basicConstraints = basicConstraints;
    this.keyUsage = keyUsage;
    this.keyUsageCritical = keyUsageCritical;
    this.extendedKeyUsage = extendedKeyUsage;
    this.dnsNames = dnsNames;
    this.caIssuersUrls = caIssuersUrls;
    this.unhandledCriticalExtensions = unhandled;
  }

  /** Whether basic constraints mark this certificate as a CA. */
  get isCA(): boolean {
    return this.basicConstraints?.ca === true;
  }

  /** Whether key usage allows `flag`; a certificate without the extension is unrestricted. */
  allowsKeyUsage(flag: number): boolean {
    return this.keyUsage === undefined || (this.keyUsage & flag) !== 0;
  }

  /** Whether this certificate's issuer name is `issuer`'s subject and `issuer`'s key signed it. */
  isIssuedBy(issuer: Certificate): boolean {
    return this.x509.issuer === issuer.x509.subject && this.x509.verify(issuer.publicKey);
  }

  /** Whether `time` is inside notBefore..notAfter (both inclusive, RFC 5280 §4.1.2.5). */
  isValidAt(time: Date): boolean {
    const t = time.getTime();
    return t >= this.notBefore.getTime() && t <= this.notAfter.getTime();
  }

  /** PEM encoding. */
  toPem(): string {
    return this.x509.toString();
  }
}

function nameValues(name: Name, oid: string): string[] {
  const out: string[] = [];
  for (const rdn of name) {
    for (const atv of rdn) if (atv.type === oid) out.push(atv.value.toString());
  }
  return out;
}
