import { InvalidInputError, VerificationFailedError } from '../errors.js';
import { type Certificate, KeyUsageFlags } from './certificate.js';

/** The longest path considered, trust anchor included; real chains have 2 to 4 certificates. */
export const MAX_PATH_LENGTH = 12;

/**
 * Bound on issuer-signature checks while searching for paths, so that a crafted `x5c` of
 * many same-named certificates cannot make path building explode combinatorially.
 */
const MAX_SIGNATURE_CHECKS = 64;

/** The smallest RSA modulus accepted anywhere in a chain. */
const MIN_RSA_BITS = 2048;

/** Trusted certificates, indexed for path building. Build once, reuse for every verification. */
export class TrustAnchors {
  readonly certificates: readonly Certificate[];
  readonly #bySubject = new Map<string, Certificate[]>();
  readonly #fingerprints = new Set<string>();

  constructor(certificates: readonly Certificate[]) {
    const unique: Certificate[] = [];
    for (const cert of certificates) {
      if (this.#fingerprints.has(cert.fingerprintSha256)) continue;
      this.#fingerprints.add(cert.fingerprintSha256);
      unique.push(cert);
      const list = this.#bySubject.get(cert.x509.subject) ?? [];
      list.push(cert);
      this.#bySubject.set(cert.x509.subject, list);
    }
    this.certificates = unique;
  }

  /** Whether this exact certificate is trusted. */
  has(cert: Certificate): boolean {
    return this.#fingerprints.has(cert.fingerprintSha256);
  }

  /** Trusted certificates whose subject is `name` (node's multi-line form). */
  withSubject(name: string): readonly Certificate[] {
    return this.#bySubject.get(name) ?? [];
  }
}

/** A certificate path from the signing certificate (first) to a trust anchor (last). */
export type CertificatePath = readonly Certificate[];

function fail(
  code: ConstructorParameters<typeof VerificationFailedError>[0],
  message: string,
): VerificationFailedError {
  return new VerificationFailedError(code, message);
}

/**
 * Checks what does not depend on time: every issuer is a CA allowed to sign certificates
 * within its path length, the signing certificate may make digital signatures, no
 * certificate has a critical extension we do not process, keys are strong enough, and no
 * signature in the path uses a broken hash.
 */
export function checkPathStructure(path: CertificatePath): VerificationFailedError | undefined {
  for (const cert of path) {
    if (cert.unhandledCriticalExtensions.length > 0) {
      return fail(
        'NV2_ERR_CERT_CRITICAL_EXTENSION',
        `certificate "${cert.subject}" has critical extension ${cert.unhandledCriticalExtensions.join(', ')}, which this verifier does not process`,
      );
    }
    const type = cert.publicKey.asymmetricKeyType;
    const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if ((type === 'rsa' || type === 'rsa-pss') && bits < MIN_RSA_BITS) {
      return fail(
        'NV2_ERR_KEY_TOO_WEAK',
        `certificate "${cert.subject}" has an RSA key of ${bits} bits; at least ${MIN_RSA_BITS} are required`,
      );
    }
  }
  const leaf = path[0]!;
  // RFC 5280 §4.2.1.3: without the extension the key is unrestricted.
  if (!leaf.allowsKeyUsage(KeyUsageFlags.digitalSignature)) {
    return fail(
      'NV2_ERR_CERT_KEY_USAGE',
      `signing certificate "${leaf.subject}" has a key usage without digitalSignature`,
    );
  }
  let intermediatesBelow = 0;
  for (let i = 1; i < path.length; i++) {
    const issuer = path[i]!;
    const child = path[i - 1]!;
    if (child.weakSignatureAlgorithm !== undefined) {
      return fail(
        'NV2_ERR_CERT_WEAK_SIGNATURE',
        `certificate "${child.subject}" is signed with ${child.weakSignatureAlgorithm}, which is not accepted`,
      );
    }
    if (!issuer.isCA) {
      return fail(
        'NV2_ERR_CERT_NOT_CA',
        `certificate "${issuer.subject}" issued "${child.subject}" but is not a CA (basic constraints)`,
      );
    }
    if (!issuer.allowsKeyUsage(KeyUsageFlags.keyCertSign)) {
      return fail(
        'NV2_ERR_CERT_KEY_USAGE',
        `CA certificate "${issuer.subject}" has a key usage without keyCertSign`,
      );
    }
    // RFC 5280 §4.2.1.9: pathLenConstraint counts the non-self-issued intermediates below.
    const pathLength = issuer.basicConstraints?.pathLength;
    if (pathLength !== undefined && intermediatesBelow > pathLength) {
      return fail(
        'NV2_ERR_CERT_PATH_LENGTH',
        `CA certificate "${issuer.subject}" allows ${pathLength} intermediate(s) below it, the chain has ${intermediatesBelow}`,
      );
    }
    if (!issuer.selfIssued) intermediatesBelow++;
  }
  return undefined;
}

/**
 * Finds every path from `leaf` through `intermediates` to a certificate in `anchors` in
 * which each certificate's issuer name and signature match the next, and returns those that
 * also pass `checkPathStructure`, shortest first. A trusted `leaf` is a path by itself.
 *
 * @throws VerificationFailedError NV2_ERR_CERT_UNTRUSTED when no path reaches an anchor, or the
 *   structural error of the first path found when none passes.
 */
export function buildPaths(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  anchors: TrustAnchors,
): CertificatePath[] {
  const found: Certificate[][] = [];
  let checks = 0;
  const extend = (path: Certificate[]): void => {
    const current = path[path.length - 1]!;
    if (anchors.has(current)) {
      found.push(path);
      return;
    }
    if (path.length >= MAX_PATH_LENGTH) return;
    const issuerName = current.x509.issuer;
    // Trusted certificates first; an x5c copy of a trusted certificate is the same candidate.
    const candidates = [
      ...anchors.withSubject(issuerName),
      ...intermediates.filter((c) => c.x509.subject === issuerName && !anchors.has(c)),
    ];
    for (const candidate of candidates) {
      if (path.some((c) => c.fingerprintSha256 === candidate.fingerprintSha256)) continue;
      if (++checks > MAX_SIGNATURE_CHECKS) return;
      if (!current.isIssuedBy(candidate)) continue;
      extend([...path, candidate]);
    }
  };
  extend([leaf]);
  found.sort((a, b) => a.length - b.length);
  const valid = found.filter((path) => checkPathStructure(path) === undefined);
  if (valid.length > 0) return valid;
  if (found.length > 0) throw checkPathStructure(found[0]!)!;
  throw fail(
    'NV2_ERR_CERT_UNTRUSTED',
    leaf.selfIssued
      ? `signing certificate "${leaf.subject}" is self-signed and not trusted`
      : `signing certificate "${leaf.subject}", issued by "${leaf.issuer}", does not chain to a trusted certificate`,
  );
}

/**
 * Checks that every certificate of a path is inside its validity period at `now`.
 *
 * @throws VerificationFailedError NV2_ERR_CERT_EXPIRED, NV2_ERR_CERT_NOT_YET_VALID
 */
export function checkPathValidity(path: CertificatePath, now: Date): void {
  for (const cert of path) {
    if (now.getTime() < cert.notBefore.getTime()) {
      throw fail(
        'NV2_ERR_CERT_NOT_YET_VALID',
        `certificate "${cert.subject}" is not valid before ${cert.notBefore.toISOString()}`,
      );
    }
    if (now.getTime() > cert.notAfter.getTime()) {
      throw fail(
        'NV2_ERR_CERT_EXPIRED',
        `certificate "${cert.subject}" expired at ${cert.notAfter.toISOString()}`,
      );
    }
  }
}

/**
 * Puts a signing certificate's chain in the order signature formats require (RFC 7515
 * §4.1.6, RFC 9360, the Notary Project signature specification): the signing certificate
 * first, then each certificate's issuer, with no duplicates, a self-signed certificate only
 * last. `certificates` is what a chain file holds: the signing certificate first, the rest in
 * any order, perhaps repeated (`cat leaf.crt ca.crt > chain.crt` when leaf.crt already ends
 * with its CA). The chain may end below the root when the file holds no root.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_CERTIFICATE when a certificate is not part of the
 *   signing certificate's chain, or two could issue the same certificate
 */
export function orderCertificateChain(certificates: readonly Certificate[]): Certificate[] {
  const [leaf, ...rest] = certificates;
  if (leaf === undefined) return [];
  const pool = new Map<string, Certificate>();
  for (const cert of rest) {
    if (cert.fingerprintSha256 !== leaf.fingerprintSha256) pool.set(cert.fingerprintSha256, cert);
  }
  const chain = [leaf];
  for (let current = leaf; !current.isIssuedBy(current);) {
    const issuers = [...pool.values()].filter((c) => current.isIssuedBy(c));
    if (issuers.length > 1) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_CERTIFICATE',
        `the chain file holds ${issuers.length} different issuers of "${current.subject}"; keep one`,
      );
    }
    const issuer = issuers[0];
    if (issuer === undefined) break;
    pool.delete(issuer.fingerprintSha256);
    chain.push(issuer);
    current = issuer;
  }
  const stray = pool.values().next().value;
  if (stray !== undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_CERTIFICATE',
      `certificate "${stray.subject}" in the chain file does not belong to the chain of "${leaf.subject}" (${chain.map((c) => `"${c.subject}"`).join(' → ')})`,
    );
  }
  return chain;
}
