import { VerificationFailedError } from '../errors.js';
import { Certificate, KeyUsageFlags, checkPathStructure } from '../x509/index.js';
import { type NotationAlgorithm, notationAlgorithmOf, verifyBytes } from './algorithms.js';
import {
  Headers,
  MAX_CHAIN_CERTIFICATES,
  NotationMediaTypes,
  SIGNING_SCHEMES,
  type SigningScheme,
} from './constants.js';

/** A parsed Notary Project envelope, JWS or COSE alike. Parsing checks form, not trust. */
export interface NotationEnvelope {
  readonly format: 'jws' | 'cose';
  readonly mediaType: string;
  readonly algorithm: NotationAlgorithm;
  /** `cty`: always the Notary Project payload media type. */
  readonly contentType: string;
  readonly payload: Buffer;
  readonly signingScheme: SigningScheme;
  readonly signingTime?: Date;
  readonly authenticSigningTime?: Date;
  readonly expiry?: Date;
  readonly verificationPlugin?: string;
  readonly verificationPluginMinVersion?: string;
  /** Protected header entries that are not Notary Project headers. */
  readonly extendedAttributes: Readonly<Record<string, unknown>>;
  /** `crit`, as written. */
  readonly critical: readonly string[];
  /** Signing certificate first. */
  readonly certificateChain: readonly Certificate[];
  readonly signingAgent?: string;
  /** RFC 3161 timestamp token (DER CMS SignedData) over `signature`. */
  readonly timestampToken?: Buffer;
  readonly signature: Buffer;
  /** The bytes the signature is computed over. */
  readonly signingInput: Buffer;
}

/** Headers a verifier understands when they are listed in `crit`. */
const UNDERSTOOD_CRITICAL: ReadonlySet<string> = new Set([
  Headers.signingScheme,
  Headers.expiry,
  Headers.authenticSigningTime,
  Headers.verificationPlugin,
  Headers.verificationPluginMinVersion,
]);

/** Headers that, when present, must be listed in `crit`. */
const MUST_BE_CRITICAL = [
  Headers.signingScheme,
  Headers.expiry,
  Headers.authenticSigningTime,
  Headers.verificationPlugin,
  Headers.verificationPluginMinVersion,
] as const;

export function malformed(message: string): VerificationFailedError {
  return new VerificationFailedError('NV2_ERR_SIGNATURE_MALFORMED', message);
}

/** The protected header's Notary Project fields, read by the format's parser. */
export interface SignedAttributes {
  readonly contentType: unknown;
  readonly critical: unknown;
  readonly signingScheme: unknown;
  readonly signingTime: Date | undefined;
  readonly authenticSigningTime: Date | undefined;
  readonly expiry: Date | undefined;
  readonly verificationPlugin: unknown;
  readonly verificationPluginMinVersion: unknown;
  /** Names of every entry present in the protected header. */
  readonly present: ReadonlySet<string>;
}

/** The optional signed attributes of a `NotationEnvelope`, those present only. */
export type SignedAttributeFields = Pick<
  NotationEnvelope,
  | 'signingTime'
  | 'authenticSigningTime'
  | 'expiry'
  | 'verificationPlugin'
  | 'verificationPluginMinVersion'
>;

/** What `checkSignedAttributes` establishes: the scheme, `crit`, and the checked fields. */
export interface CheckedSignedAttributes {
  readonly scheme: SigningScheme;
  readonly critical: string[];
  readonly fields: SignedAttributeFields;
}

/**
 * Applies the specification's rules to the signed attributes: `cty`, the scheme and its
 * required time, `crit` listing exactly understood headers and every header that must be
 * critical, expiry after signing time.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_MALFORMED, NV2_ERR_SIGNATURE_CRIT
 */
export function checkSignedAttributes(attrs: SignedAttributes): CheckedSignedAttributes {
  if (attrs.contentType !== NotationMediaTypes.payload) {
    throw malformed(`signature content type (cty) must be ${NotationMediaTypes.payload}`);
  }
  const scheme = attrs.signingScheme;
  if (!(SIGNING_SCHEMES as readonly unknown[]).includes(scheme)) {
    throw malformed(
      `signing scheme ${JSON.stringify(scheme)} is not one of ${SIGNING_SCHEMES.join(', ')}`,
    );
  }
  const crit = attrs.critical;
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((c) => typeof c === 'string')) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_CRIT',
      'crit must be a non-empty list of header names',
    );
  }
  const critical = crit as string[];
  if (new Set(critical).size !== critical.length) {
    throw new VerificationFailedError('NV2_ERR_SIGNATURE_CRIT', 'crit lists a header twice');
  }
  for (const name of critical) {
    if (!attrs.present.has(name)) {
      throw new VerificationFailedError(
        'NV2_ERR_SIGNATURE_CRIT',
        `crit lists ${name}, which the protected header lacks`,
      );
    }
    // A critical extended attribute is for the verification plugin the signature names to
    // process (verification fails unless it reports it processed); without one, nobody can.
    if (!UNDERSTOOD_CRITICAL.has(name) && !attrs.present.has(Headers.verificationPlugin)) {
      throw new VerificationFailedError(
        'NV2_ERR_SIGNATURE_CRIT',
        `critical header ${name} is not understood by this verifier`,
      );
    }
  }
  for (const name of MUST_BE_CRITICAL) {
    if (attrs.present.has(name) && !critical.includes(name)) {
      throw new VerificationFailedError(
        'NV2_ERR_SIGNATURE_CRIT',
        `header ${name} must be listed in crit`,
      );
    }
  }
  for (const [name, value] of [
    [Headers.verificationPlugin, attrs.verificationPlugin],
    [Headers.verificationPluginMinVersion, attrs.verificationPluginMinVersion],
  ] as const) {
    if (attrs.present.has(name) && (typeof value !== 'string' || value === '')) {
      throw malformed(`${name} must be a non-empty string`);
    }
  }
  if (attrs.present.has(Headers.signingTime) && attrs.signingTime === undefined) {
    throw malformed(`${Headers.signingTime} is not a valid time`);
  }
  if (attrs.present.has(Headers.authenticSigningTime) && attrs.authenticSigningTime === undefined) {
    throw malformed(`${Headers.authenticSigningTime} is not a valid time`);
  }
  if (attrs.present.has(Headers.expiry) && attrs.expiry === undefined) {
    throw malformed(`${Headers.expiry} is not a valid time`);
  }
  if (scheme === 'notary.x509') {
    if (attrs.signingTime === undefined)
      throw malformed(`scheme notary.x509 requires ${Headers.signingTime}`);
    if (attrs.present.has(Headers.authenticSigningTime)) {
      throw malformed(`scheme notary.x509 must not carry ${Headers.authenticSigningTime}`);
    }
  } else if (attrs.authenticSigningTime === undefined) {
    throw malformed(`scheme notary.x509.signingAuthority requires ${Headers.authenticSigningTime}`);
  }
  const signedAt = attrs.authenticSigningTime ?? attrs.signingTime;
  if (attrs.expiry !== undefined && signedAt !== undefined && attrs.expiry <= signedAt) {
    throw malformed('signature expiry is not after its signing time');
  }
  const fields: { -readonly [K in keyof SignedAttributeFields]: SignedAttributeFields[K] } = {};
  if (attrs.signingTime !== undefined) fields.signingTime = attrs.signingTime;
  if (attrs.authenticSigningTime !== undefined)
    fields.authenticSigningTime = attrs.authenticSigningTime;
  if (attrs.expiry !== undefined) fields.expiry = attrs.expiry;
  // Checked above: present means a non-empty string.
  if (attrs.present.has(Headers.verificationPlugin))
    fields.verificationPlugin = attrs.verificationPlugin as string;
  if (attrs.present.has(Headers.verificationPluginMinVersion))
    fields.verificationPluginMinVersion = attrs.verificationPluginMinVersion as string;
  return { scheme: scheme as SigningScheme, critical, fields };
}

/** Parses the DER certificates of `x5c` / `x5chain`. */
export function parseChain(ders: readonly Uint8Array[]): Certificate[] {
  if (ders.length === 0) throw malformed('signature carries no certificate chain');
  if (ders.length > MAX_CHAIN_CERTIFICATES) {
    throw malformed(
      `certificate chain has ${ders.length} certificates; at most ${MAX_CHAIN_CERTIFICATES} are accepted`,
    );
  }
  return ders.map((der, i) => {
    try {
      return new Certificate(der);
    } catch {
      throw malformed(`certificate ${i} of the chain is not a DER X.509 certificate`);
    }
  });
}

const EKU = {
  any: '2.5.29.37.0',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

/** Key usages a signing certificate must not have: it signs artifacts, nothing else. */
const LEAF_FORBIDDEN_KEY_USAGES = [
  ['keyEncipherment', KeyUsageFlags.keyEncipherment],
  ['dataEncipherment', KeyUsageFlags.dataEncipherment],
  ['keyAgreement', KeyUsageFlags.keyAgreement],
  ['keyCertSign', KeyUsageFlags.keyCertSign],
  ['cRLSign', KeyUsageFlags.cRLSign],
  ['encipherOnly', KeyUsageFlags.encipherOnly],
  ['decipherOnly', KeyUsageFlags.decipherOnly],
] as const;

function leafProblem(leaf: Certificate): string | undefined {
  if (leaf.isCA) return `signing certificate "${leaf.subject}" is a CA certificate`;
  if (leaf.keyUsage === undefined || !leaf.keyUsageCritical) {
    return `signing certificate "${leaf.subject}" must have a critical key usage extension`;
  }
  if ((leaf.keyUsage & KeyUsageFlags.digitalSignature) === 0) {
    return `signing certificate "${leaf.subject}" must have key usage digitalSignature`;
  }
  const extra = LEAF_FORBIDDEN_KEY_USAGES.filter(([, flag]) => (leaf.keyUsage! & flag) !== 0);
  if (extra.length > 0) {
    return `signing certificate "${leaf.subject}" must have key usage digitalSignature only, not ${extra.map(([name]) => name).join(', ')}`;
  }
  const eku = leaf.extendedKeyUsage;
  if (eku !== undefined && eku.length > 0) {
    for (const [name, oid] of [
      ['anyExtendedKeyUsage', EKU.any],
      ['serverAuth', EKU.serverAuth],
      ['clientAuth', EKU.clientAuth],
      ['emailProtection', EKU.emailProtection],
      ['timeStamping', EKU.timeStamping],
      ['OCSPSigning', EKU.ocspSigning],
    ] as const) {
      if (eku.includes(oid))
        return `signing certificate "${leaf.subject}" has extended key usage ${name}`;
    }
    if (!eku.includes(EKU.codeSigning)) {
      return `signing certificate "${leaf.subject}" has an extended key usage without codeSigning`;
    }
  }
  return undefined;
}

function caProblem(ca: Certificate): string | undefined {
  if (!ca.isCA) return `certificate "${ca.subject}" issues certificates but is not a CA`;
  if (ca.keyUsage === undefined || !ca.keyUsageCritical) {
    return `CA certificate "${ca.subject}" must have a critical key usage extension`;
  }
  if ((ca.keyUsage & KeyUsageFlags.keyCertSign) === 0) {
    return `CA certificate "${ca.subject}" must have key usage keyCertSign`;
  }
  return undefined;
}

/**
 * Why `chain` is not a valid code-signing chain under the Notary Project certificate
 * requirements, or undefined. The rules are notation's (notation-core-go
 * `ValidateCodeSigningCertChain`), so that nv2 and notation accept the same envelopes:
 *
 * - one certificate: it is self-signed (issuer and signature) and a valid signing certificate;
 * - more: signing certificate first, each certificate issued (name and signature) by the
 *   next, none but the last self-signed (so no repeated root or CA, no self-signed
 *   intermediate), the last a self-signed root;
 * - the signing certificate is not a CA, has a critical key usage of digitalSignature only,
 *   and no extended key usage other than code signing (nv2 also requires codeSigning to be
 *   listed when the extension is present, as the specification says);
 * - each CA has basic constraints with cA, a critical key usage with keyCertSign, and a path
 *   length that admits the CAs below it.
 */
export function codeSigningChainProblem(chain: readonly Certificate[]): string | undefined {
  const leaf = chain[0]!;
  const last = chain.length - 1;
  for (let i = 0; i < last; i++) {
    const cert = chain[i]!;
    if (cert.isIssuedBy(cert)) {
      return i === 0
        ? `signing certificate "${cert.subject}" is self-signed but followed by other certificates`
        : `intermediate certificate "${cert.subject}" is self-signed; a chain must not contain a self-signed intermediate (a root repeated, or out of place)`;
    }
    if (!cert.isIssuedBy(chain[i + 1]!)) {
      return `certificate chain is not ordered: "${cert.subject}" is not issued by "${chain[i + 1]!.subject}"`;
    }
  }
  const root = chain[last]!;
  if (!root.isIssuedBy(root)) {
    return last === 0
      ? `signing certificate "${root.subject}" is neither self-signed nor accompanied by its issuers`
      : `certificate chain does not end in a self-signed root: "${root.subject}" is issued by "${root.issuer}"`;
  }
  const leafIssue = leafProblem(leaf);
  if (leafIssue !== undefined) return leafIssue;
  for (let i = 1; i <= last; i++) {
    const issue = caProblem(chain[i]!);
    if (issue !== undefined) return issue;
  }
  const structural = checkPathStructure(chain);
  return structural?.message;
}

/**
 * Integrity of an envelope as the specification defines it: the signature verifies under the
 * signing certificate's key, `alg` is the one that key calls for, and the chain is a valid
 * code-signing chain.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_ALGORITHM, NV2_ERR_SIGNATURE_INVALID
 */
export function verifyEnvelopeSignature(envelope: NotationEnvelope): void {
  const leaf = envelope.certificateChain[0]!;
  const expected = notationAlgorithmOf(leaf.publicKey);
  if (expected !== envelope.algorithm) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_ALGORITHM',
      `signature algorithm ${envelope.algorithm} does not match the signing certificate's key (${expected ?? 'not allowed by the specification'})`,
    );
  }
  if (!verifyBytes(envelope.algorithm, leaf.publicKey, envelope.signingInput, envelope.signature)) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_INVALID',
      `signature does not verify under the key of "${leaf.subject}"`,
    );
  }
  const problem = codeSigningChainProblem(envelope.certificateChain);
  if (problem !== undefined) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_INVALID',
      `certificate chain is invalid: ${problem}`,
    );
  }
}
