import { KeyUsageFlags, type Certificate } from '../x509/index.js';
import { certificateNames, unmatchedReferenceHost } from './names.js';

/**
 * Reasons a signature made now with `certificate` for `references` would not verify: the
 * certificate is outside its validity, may not make digital signatures, or does not carry
 * the references' registry names. Signing tools report these as warnings, since signing such
 * a statement may be deliberate (tests, back-dated audits); verification refuses it.
 */
export function signingCertificateProblems(
  certificate: Certificate,
  references: readonly string[],
  now: Date = new Date(),
): string[] {
  const problems: string[] = [];
  if (now < certificate.notBefore) {
    problems.push(
      `certificate "${certificate.subject}" is not valid before ${certificate.notBefore.toISOString()}`,
    );
  }
  if (now > certificate.notAfter) {
    problems.push(
      `certificate "${certificate.subject}" expired at ${certificate.notAfter.toISOString()}`,
    );
  }
  if (!certificate.allowsKeyUsage(KeyUsageFlags.digitalSignature)) {
    problems.push(`certificate "${certificate.subject}" has a key usage without digitalSignature`);
  }
  const names = certificateNames(certificate);
  for (const ref of references) {
    const host = unmatchedReferenceHost(ref, names);
    if (host !== undefined) {
      problems.push(
        `reference ${ref} is on ${host}, which is not a name of the certificate (${[...names].join(', ') || 'none'})`,
      );
    }
  }
  return problems;
}
