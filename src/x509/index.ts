/**
 * X.509 certificates: loading (PEM/DER), the facts chain validation needs, path building and
 * validation, and issuing certificates. No policy: which certificates to trust is `trust`'s.
 */
export { Certificate, KeyUsageFlags } from './certificate.js';
export type { NameAttribute } from './certificate.js';
export {
  MAX_PATH_LENGTH,
  TrustAnchors,
  buildPaths,
  checkPathStructure,
  orderCertificateChain,
  checkPathValidity,
} from './chain.js';
export type { CertificatePath } from './chain.js';
export { KEY_TYPES, generateKeyPair, issueCertificate } from './issue.js';
export type { CertificateRequest, KeyType } from './issue.js';
export { CODE_SIGNING_EKU, MAX_VALIDITY_DAYS, generateCertificate } from './profiles.js';
export type { GenerateCertificateOptions } from './profiles.js';
export { keysMatch, loadCertificates, loadPrivateKey, parsePem } from './pem.js';
export type { PemBlock } from './pem.js';
