import { verify as cryptoVerify } from 'node:crypto';
import { VerificationFailedError } from '../errors.js';
import { type Descriptor, type Digest, digestAlgorithm, digestOf } from '../oci/index.js';
import {
  type Algorithm,
  type ParsedSignature,
  MAX_SIGNATURE_BYTES,
  algorithmHash,
  parseSignature,
  signingInput,
} from '../signature/index.js';
import { type Certificate, type CertificatePath, checkPathValidity } from '../x509/index.js';
import { registryMatchesNames } from './names.js';
import type { ResolvedSigner, ResolvedSigningKey, TrustSet } from './trust-set.js';

/**
 * What a signature is verified against: a descriptor obtained by the caller (a registry's
 * answer to a resolve), or the manifest's bytes, from which digest and size are computed with
 * the algorithm the signature names.
 */
export type VerificationSubject =
  Descriptor | { readonly mediaType: string; readonly content: Uint8Array };

/** Options of `verify`. */
export interface VerifyOptions {
  /** Verification time; defaults to now. Tests and audits fix it. */
  readonly now?: Date;
}

/** What a valid signature establishes. */
export interface VerificationResult {
  /** The signed manifest: go on by this digest, never by a tag again. */
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly algorithm: Algorithm;
  /** The signing certificate. */
  readonly signer: Certificate;
  /** Signing certificate first, trust anchor last. */
  readonly certificateChain: CertificatePath;
  /** Names the manifest was published under, as signed. */
  readonly references: readonly string[];
  readonly issuedAt?: Date;
  readonly notBefore?: Date;
  readonly expiresAt?: Date;
}

function fail(
  code: ConstructorParameters<typeof VerificationFailedError>[0],
  message: string,
): never {
  throw new VerificationFailedError(code, message);
}

let scratch: Buffer | undefined;

/**
 * Checks the signature value. OpenSSL throws rather than answers for some crafted inputs
 * (parameters a key refuses); those are invalid signatures, not crashes.
 */
export function verifySignatureValue(parsed: ParsedSignature, signer: ResolvedSigningKey): boolean {
  // crypto.verify is synchronous and keeps no reference: one buffer serves every call.
  scratch ??= Buffer.allocUnsafeSlow(MAX_SIGNATURE_BYTES);
  try {
    return cryptoVerify(
      algorithmHash(parsed.header.alg),
      signingInput(parsed, scratch),
      signer.keyOptions,
      parsed.signature,
    );
  } catch {
    return false;
  }
}

/**
 * The first of the signer's trusted paths whose certificates are all valid at `now`.
 *
 * @throws VerificationFailedError NV2_ERR_CERT_EXPIRED, NV2_ERR_CERT_NOT_YET_VALID (of the first path)
 */
export function pickValidPath(signer: Pick<ResolvedSigner, 'paths'>, now: Date): CertificatePath {
  let firstError: unknown;
  for (const path of signer.paths) {
    try {
      checkPathValidity(path, now);
      return path;
    } catch (err) {
      firstError ??= err;
    }
  }
  throw firstError;
}

/**
 * Checks that the signed digest, size and media type are the subject's.
 *
 * @throws VerificationFailedError NV2_ERR_DIGEST_MISMATCH, NV2_ERR_SIZE_MISMATCH, NV2_ERR_MEDIA_TYPE_MISMATCH
 */
export function checkSubject(parsed: ParsedSignature, subject: VerificationSubject): void {
  const { claims } = parsed;
  let digest: string;
  let size: number;
  if ('content' in subject) {
    digest = digestOf(subject.content, digestAlgorithm(claims.digest));
    size = subject.content.byteLength;
  } else {
    digest = subject.digest;
    size = subject.size;
  }
  if (claims.digest !== digest)
    fail('NV2_ERR_DIGEST_MISMATCH', `signature is for ${claims.digest}, not ${digest}`);
  if (claims.size !== size)
    fail(
      'NV2_ERR_SIZE_MISMATCH',
      `signature is for ${claims.size} bytes, the manifest has ${size}`,
    );
  if (claims.mediaType !== subject.mediaType) {
    fail(
      'NV2_ERR_MEDIA_TYPE_MISMATCH',
      `signature is for media type ${claims.mediaType}, not ${subject.mediaType}`,
    );
  }
}

/**
 * Checks that the registry of every signed reference is a name of the signing certificate
 * (nv2 signature spec, verification rule 6).
 *
 * @throws VerificationFailedError NV2_ERR_REFERENCE_MISMATCH
 */
export function checkReferences(parsed: ParsedSignature, signer: ResolvedSigningKey): void {
  const { names } = signer;
  for (const [i, host] of parsed.referenceRegistries.entries()) {
    if (!registryMatchesNames(host, names)) {
      const ref = parsed.claims.references?.[i] ?? host;
      fail(
        'NV2_ERR_REFERENCE_MISMATCH',
        `reference ${ref} is on ${host}, which is not a name of the signing certificate (${[...signer.names].join(', ') || 'none'})`,
      );
    }
  }
}

/**
 * Checks the signature's own validity window (`nbf`, `exp`) at `now`.
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_NOT_YET_VALID, NV2_ERR_SIGNATURE_EXPIRED
 */
export function checkSignatureTime(parsed: ParsedSignature, now: Date): void {
  const { claims } = parsed;
  const nowSeconds = now.getTime() / 1000;
  if (claims.nbf !== undefined && nowSeconds < claims.nbf) {
    fail(
      'NV2_ERR_SIGNATURE_NOT_YET_VALID',
      `signature is not valid before ${new Date(claims.nbf * 1000).toISOString()}`,
    );
  }
  if (claims.exp !== undefined && nowSeconds >= claims.exp) {
    fail(
      'NV2_ERR_SIGNATURE_EXPIRED',
      `signature expired at ${new Date(claims.exp * 1000).toISOString()}`,
    );
  }
}

/**
 * Verifies an nv2 signature against a manifest and a set of trusted certificates, applying
 * every rule of the nv2 signature spec's "Verification" section in its order: form, signing
 * key and signature, chain to a trusted certificate, `nbf`/`exp`, digest/size/media type,
 * references against the certificate's names.
 *
 * @example
 * const trust = new TrustSet({ certificates: loadCertificates(pem, 'signer.crt') });
 * const result = await verify(jws, { mediaType, content: manifestBytes }, trust);
 * console.log(result.digest);
 * @throws VerificationFailedError with a code naming the first rule that failed
 */
export async function verify(
  signature: string | Uint8Array | ParsedSignature,
  subject: VerificationSubject,
  trust: TrustSet,
  options: VerifyOptions = {},
): Promise<VerificationResult> {
  const now = options.now ?? new Date();
  const parsed =
    typeof signature === 'object' && 'compact' in signature
      ? signature
      : parseSignature(signature, trust.parseHeader);
  const signer = trust.resolveSigner(parsed);
  if (!verifySignatureValue(parsed, signer)) {
    fail(
      'NV2_ERR_SIGNATURE_INVALID',
      `signature does not verify under the key of "${signer.certificate.subject}"`,
    );
  }
  const certificateChain = pickValidPath(signer, now);
  const { claims } = parsed;
  checkSignatureTime(parsed, now);
  checkSubject(parsed, subject);
  checkReferences(parsed, signer);
  const result: { -readonly [K in keyof VerificationResult]: VerificationResult[K] } = {
    digest: claims.digest,
    mediaType: claims.mediaType,
    size: claims.size,
    algorithm: parsed.header.alg,
    signer: signer.certificate,
    certificateChain,
    references: claims.references ?? [],
  };
  if (claims.iat !== undefined) result.issuedAt = new Date(claims.iat * 1000);
  if (claims.nbf !== undefined) result.notBefore = new Date(claims.nbf * 1000);
  if (claims.exp !== undefined) result.expiresAt = new Date(claims.exp * 1000);
  return result;
}
