/**
 * The nv2 signature (JWS compact, nv2-signature.md) judged check by check under a policy
 * statement, with the rules of `trust.verify` split into the Notary Project's validation
 * types, so that a level can enforce, log or skip each one.
 */
import { Nv2Error, VerificationFailedError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { type ParsedSignature, parseSignature } from '../signature/index.js';
import {
  type CheckResult,
  type EvaluationPolicy,
  type ResolvedSigner,
  type ResolvedSigningKey,
  type SignatureEvaluation,
  type SignatureEvaluator,
  TrustSet,
  type TrustAnchorSets,
  type ValidationType,
  checkReferences,
  checkSignatureTime,
  checkSubject,
  failedCheck,
  pickValidPath,
  verdictOf,
  verifySignatureValue,
} from '../trust/index.js';
import type { Certificate, CertificatePath } from '../x509/index.js';

/**
 * Trust sets built from a statement's anchors, kept as long as the anchors object lives:
 * a policy built once serves every verification with parsed certificates and cached chains.
 */
const trustSets = new WeakMap<TrustAnchorSets, TrustSet>();

/**
 * nv2 signatures have no signing-authority scheme of their own: a certificate in a `ca` or a
 * `signingAuthority` store is a trust anchor for them alike. (`tsa` stores certify timestamp
 * authorities, which nv2 signatures do not carry.)
 */
function trustSetOf(anchors: TrustAnchorSets): TrustSet {
  let trust = trustSets.get(anchors);
  if (trust === undefined) {
    trust = new TrustSet({ roots: [...anchors.ca, ...anchors.signingAuthority] });
    trustSets.set(anchors, trust);
  }
  return trust;
}

/**
 * Runs one check unless its action is skip. A returned string is a failure with the code of
 * the check's type; a thrown Nv2Error is a failure with its own code.
 */
function check(
  type: ValidationType,
  policy: EvaluationPolicy,
  run: () => string | undefined,
): CheckResult {
  const action = policy.actions[type];
  if (action === 'skip')
    return { type, action, passed: undefined, message: 'skipped by the policy' };
  try {
    const failure = run();
    return failure === undefined
      ? { type, action, passed: true }
      : failedCheck(type, action, failure);
  } catch (err) {
    if (!(err instanceof Nv2Error)) throw err;
    return failedCheck(type, action, err.message, err.code);
  }
}

function notRun(type: ValidationType, policy: EvaluationPolicy, message: string): CheckResult {
  return { type, action: policy.actions[type], passed: undefined, message };
}

/**
 * Evaluates an nv2 signature envelope against `subject` under one policy statement:
 *
 * - integrity: the envelope is well-formed, its signature value verifies under the signing
 *   certificate's key, and it signs this digest, size and media type;
 * - authenticity: the signing certificate chains to a certificate of the statement's `ca` or
 *   `signingAuthority` stores, its subject is a trusted identity, and every signed
 *   reference's registry is one of its names (nv2 rule);
 * - authenticTimestamp: every certificate of the chain is valid now (nv2 signatures carry no
 *   timestamp countersignature, so the verification time stands in, as notation does without
 *   a timestamp);
 * - expiry: the signature's own `nbf`/`exp`;
 * - revocation: not run (nv2 does not check OCSP or CRLs yet); reported with a message.
 *
 * A failed integrity check leaves the others unrun: nothing else about a signature that
 * does not hold means anything.
 *
 * @example
 * const evaluation = await evaluateNv2Signature(jws, subject, policy);
 * if (!evaluation.verified) console.log(evaluation.checks.filter((c) => c.passed === false));
 */
export const evaluateNv2Signature: SignatureEvaluator = (envelope, subject, policy) =>
  Promise.resolve(evaluateSync(envelope, subject, policy));

function evaluateSync(
  envelope: Uint8Array,
  subject: Descriptor,
  policy: EvaluationPolicy,
): SignatureEvaluation {
  const now = policy.now ?? new Date();
  const trust = policy.trustSet ?? trustSetOf(policy.anchors);
  let parsed: ParsedSignature | undefined;
  let key: ResolvedSigningKey | undefined;
  const integrity = check('integrity', policy, () => {
    parsed = parseSignature(envelope, trust.parseHeader);
    key = trust.resolveSigningKey(parsed);
    if (!verifySignatureValue(parsed, key)) {
      return `signature does not verify under the key of "${key.certificate.subject}"`;
    }
    return undefined;
  });
  // Integrity is never skipped (no level or override can), so parsed is set when it passed.
  if (integrity.passed !== true || parsed === undefined || key === undefined) {
    const checks: CheckResult[] = [
      integrity,
      notRun('authenticity', policy, 'not evaluated: integrity failed'),
      notRun('authenticTimestamp', policy, 'not evaluated: integrity failed'),
      notRun('expiry', policy, 'not evaluated: integrity failed'),
      notRun('revocation', policy, 'not evaluated: integrity failed'),
    ];
    return {
      format: 'nv2',
      checks,
      verified: false,
      ...(key !== undefined ? { signer: (key as ResolvedSigningKey).certificate } : {}),
    };
  }
  const signed: ParsedSignature = parsed;
  const signingKey: ResolvedSigningKey = key;
  // A sound signature for another subject is still judged whole: its signer, chain and times
  // are facts, and the nv2 rules check the chain and times before the subject.
  const subjectCheck = check('integrity', policy, () => {
    checkSubject(signed, subject);
    return undefined;
  });
  let referencesFailed = false;
  let signer: ResolvedSigner | undefined;
  let chain: CertificatePath | undefined;
  const authenticity = check('authenticity', policy, () => {
    signer = trust.resolveSigner(signed);
    if (!policy.trustedIdentity(signingKey.certificate)) {
      return `the signing certificate "${signingKey.certificate.subject}" is not one of the policy's trusted identities`;
    }
    referencesFailed = true;
    checkReferences(signed, signingKey);
    referencesFailed = false;
    return undefined;
  });
  const authenticTimestamp = check('authenticTimestamp', policy, () => {
    if (signer !== undefined) {
      chain = pickValidPath(signer, now);
      return undefined;
    }
    // No trusted chain: judge what the signature carries.
    const carried: Certificate[] = [signingKey.certificate, ...signingKey.intermediates];
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
    return undefined;
  });
  const expiry = check('expiry', policy, () => {
    checkSignatureTime(signed, now);
    return undefined;
  });
  const revocation: CheckResult =
    policy.actions.revocation === 'skip'
      ? { type: 'revocation', action: 'skip', passed: undefined, message: 'skipped by the policy' }
      : notRun(
          'revocation',
          policy,
          'not checked: nv2 does not check certificate revocation (OCSP, CRL) yet',
        );
  const checks = [subjectCheck, authenticity, authenticTimestamp, expiry, revocation];
  // The nv2 signature spec's rule order: chain, chain validity, times, subject, references.
  const failureOrder: ValidationType[] = [
    ...(referencesFailed ? [] : (['authenticity'] as const)),
    'authenticTimestamp',
    'expiry',
    'integrity',
    ...(referencesFailed ? (['authenticity'] as const) : []),
  ];
  const { claims } = signed;
  const certificateChain =
    chain ?? (signer !== undefined ? (signer as ResolvedSigner).paths[0] : undefined);
  return {
    format: 'nv2',
    checks,
    verified: verdictOf(checks),
    failureOrder,
    signedDescriptor: { mediaType: claims.mediaType, digest: claims.digest, size: claims.size },
    signer: signingKey.certificate,
    algorithm: signed.header.alg,
    ...(certificateChain !== undefined ? { certificateChain } : {}),
    ...(claims.iat !== undefined ? { signingTime: new Date(claims.iat * 1000) } : {}),
    ...(claims.nbf !== undefined ? { notBefore: new Date(claims.nbf * 1000) } : {}),
    ...(claims.exp !== undefined ? { expiresAt: new Date(claims.exp * 1000) } : {}),
    references: claims.references ?? [],
  };
}
