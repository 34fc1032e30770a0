/**
 * The nv2 signature (JWS compact, nv2-signature.md) as a signature entity: the envelope is
 * parsed and its signature value verified here; the checks are the one evaluator's. The
 * hooks carry nv2's own rules: the trusted path through the `TrustSet`, the reference rule,
 * the chain's validity as the authentic timestamp, `nbf`/`exp`, and the spec's rule order.
 */
import { Nv2Error, VerificationFailedError } from '../errors.js';
import { MediaTypes } from '../oci/index.js';
import { type ParsedSignature, parseSignature } from '../signature/index.js';
import type { Certificate } from '../x509/index.js';
import type { ValidationType } from './evaluation.js';
import type { CheckProblem, EntityRules, EnvelopeReading, NotRunNote } from './signature-entity.js';
import type { ResolvedSigningKey, TrustSet } from './trust-set.js';
import {
  checkReferences,
  checkSignatureTime,
  checkSubject,
  pickValidPath,
  verifySignatureValue,
} from './verify.js';

/** nv2's words for checks not run. */
const NV2_NOT_RUN: NotRunNote = (_action, stopped) =>
  stopped ? 'not evaluated: integrity failed' : 'skipped by the policy';

/** A rule that throws: a thrown Nv2Error is a failure with its own code. */
function problemOf(rule: () => void): CheckProblem | undefined {
  try {
    rule();
    return undefined;
  } catch (err) {
    if (!(err instanceof Nv2Error)) throw err;
    return { message: err.message, code: err.code };
  }
}

/**
 * Parses an nv2 signature envelope and verifies its signature value under the signing
 * certificate's key, as `trust` reads headers and resolves keys.
 *
 * @example
 * const reading = readNv2Entity(jws, new TrustSet({ roots }));
 * if ('rejected' in reading) console.log(reading.rejected.message);
 */
export function readNv2Entity(envelope: Uint8Array, trust: TrustSet): EnvelopeReading {
  let parsed: ParsedSignature;
  let key: ResolvedSigningKey;
  try {
    parsed = parseSignature(envelope, trust.parseHeader);
    key = trust.resolveSigningKey(parsed);
  } catch (err) {
    if (!(err instanceof Nv2Error)) throw err;
    return {
      format: 'nv2',
      rejected: { message: err.message, code: err.code },
      notRunNote: NV2_NOT_RUN,
    };
  }
  if (!verifySignatureValue(parsed, key)) {
    return {
      format: 'nv2',
      rejected: {
        message: `signature does not verify under the key of "${key.certificate.subject}"`,
      },
      notRunNote: NV2_NOT_RUN,
      signer: key.certificate,
    };
  }
  const { claims } = parsed;
  return {
    format: 'nv2',
    envelopeMediaType: MediaTypes.nv2Signature,
    signedDescriptor: { mediaType: claims.mediaType, digest: claims.digest, size: claims.size },
    signer: key.certificate,
    certificates: [key.certificate, ...key.intermediates],
    algorithm: parsed.header.alg,
    ...(claims.iat !== undefined ? { signingTime: new Date(claims.iat * 1000) } : {}),
    ...(claims.nbf !== undefined ? { notBefore: new Date(claims.nbf * 1000) } : {}),
    ...(claims.exp !== undefined ? { expiresAt: new Date(claims.exp * 1000) } : {}),
    references: claims.references ?? [],
    rules: nv2Rules(parsed, key, trust),
  };
}

function nv2Rules(signed: ParsedSignature, key: ResolvedSigningKey, trust: TrustSet): EntityRules {
  return {
    notRunNote: NV2_NOT_RUN,
    // The nv2 rules check the chain and times before the subject.
    judgedWholeForOtherSubject: true,
    chainOnlyWhenAuthentic: false,
    subjectProblem: (subject) => problemOf(() => checkSubject(signed, subject)),
    trustedPath: () => {
      try {
        return { paths: trust.resolveSigner(signed).paths };
      } catch (err) {
        if (!(err instanceof Nv2Error)) throw err;
        return { message: err.message, code: err.code };
      }
    },
    untrustedIdentity: (signer) =>
      `the signing certificate "${signer.subject}" is not one of the policy's trusted identities`,
    referencesProblem: () => problemOf(() => checkReferences(signed, key)),
    // nv2 signatures carry no timestamp countersignature: the verification time stands in, as
    // notation does without a timestamp, for the trusted chain or, without one, the carried.
    authenticTimestamp: (_policy, now, trusted) => {
      if (trusted !== undefined) {
        try {
          return Promise.resolve({ passed: true, chain: pickValidPath(trusted, now) });
        } catch (err) {
          if (!(err instanceof Nv2Error)) throw err;
          return Promise.resolve({ passed: false, message: err.message, code: err.code });
        }
      }
      const problem = problemOf(() =>
        carriedChainValid([key.certificate, ...key.intermediates], now),
      );
      return Promise.resolve(
        problem === undefined ? { passed: true } : { passed: false, ...problem },
      );
    },
    expiryProblem: (now) => problemOf(() => checkSignatureTime(signed, now)),
    revocation: { note: 'not checked: nv2 does not check certificate revocation (OCSP, CRL) yet' },
    // The nv2 signature spec's rule order: chain, chain validity, times, subject, references.
    failureOrder: (referencesFailed) =>
      [
        ...(referencesFailed ? [] : (['authenticity'] as const)),
        'authenticTimestamp',
        'expiry',
        'integrity',
        ...(referencesFailed ? (['authenticity'] as const) : []),
      ] satisfies ValidationType[],
  };
}

/**
 * @throws VerificationFailedError NV2_ERR_CERT_NOT_YET_VALID, NV2_ERR_CERT_EXPIRED
 */
function carriedChainValid(carried: readonly Certificate[], now: Date): void {
  for (const cert of carried) {
    if (!cert.isValidAt(now)) {
      throw now < cert.notBefore
        ? new VerificationFailedError(
            'NV2_ERR_CERT_NOT_YET_VALID',
            `certificate "${cert.subject}" is not valid before ${cert.notBefore.toISOString()}`,
          )
        : new VerificationFailedError(
            'NV2_ERR_CERT_EXPIRED',
            `certificate "${cert.subject}" expired at ${cert.notAfter.toISOString()}`,
          );
    }
  }
}
