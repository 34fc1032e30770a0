import { VerificationFailedError } from '../errors.js';
import { sniffEnvelopeMediaType } from '../signature/index.js';
import type { Descriptor } from '../oci/index.js';
import {
  type CheckResult,
  type EvaluationPolicy,
  type SignatureEvaluation,
  VALIDATION_TYPES,
  type ValidationType,
  failedCheck,
  verdictOf,
} from '../trust/index.js';
import type { Certificate } from '../x509/index.js';
import { NotationMediaTypes } from './constants.js';
import { parseCoseEnvelope } from './cose.js';
import { type NotationEnvelope, verifyEnvelopeSignature } from './envelope.js';
import { parseJwsEnvelope } from './jws.js';
import { parsePayload } from './payload.js';
import { type RevocationChecker, defaultRevocationChecker } from './revocation.js';
import { verifyTimestampToken } from './timestamp.js';

export interface NotationEvaluationOptions {
  /** The envelope's media type (the signature manifest's layer media type); sniffed when absent. */
  readonly mediaType?: string;
  /** Revocation checking (OCSP, then CRL); a shared checker with a CRL cache by default. */
  readonly revocation?: RevocationChecker;
}

export { sniffEnvelopeMediaType };

/** Parses a Notary Project envelope of the given media type. */
export function parseNotationEnvelope(envelope: Uint8Array, mediaType: string): NotationEnvelope {
  if (mediaType === NotationMediaTypes.jws) return parseJwsEnvelope(envelope);
  if (mediaType === NotationMediaTypes.cose) return parseCoseEnvelope(envelope);
  throw new VerificationFailedError(
    'NV2_ERR_UNSUPPORTED_SIGNATURE_FORMAT',
    `unsupported signature envelope media type ${JSON.stringify(mediaType)}`,
  );
}

/** A time as notation's messages write it: `Fri, 29 Jul 2022 23:59:00 +0000`. */
function goTime(time: Date): string {
  return time.toUTCString().replace(/GMT$/, '+0000');
}

/** Go's order of name attributes in `pkix.Name.String()`, which notation's messages use. */
const GO_NAME_ORDER = ['serialNumber', 'CN', 'OU', 'O', 'postalCode', 'street', 'L', 'ST', 'C'];

/** A certificate's subject as notation's messages write it: `CN=…,O=…,L=…,ST=…,C=…`. */
function subjectOf(cert: Certificate): string {
  const rank = (rdn: string): number => {
    const i = GO_NAME_ORDER.indexOf(rdn.slice(0, rdn.indexOf('=')));
    return i < 0 ? GO_NAME_ORDER.length : i;
  };
  return cert.x509.subject
    .split('\n')
    .sort((a, b) => rank(a) - rank(b))
    .join(',');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Why `time` lies outside some certificate's validity, in notation's words, or undefined. */
function validityProblem(
  chain: readonly Certificate[],
  earliest: Date,
  latest: Date,
  what: string,
): string | undefined {
  for (const cert of chain) {
    if (earliest < cert.notBefore) {
      return `${what} before certificate "${subjectOf(cert)}" validity period, it will be valid from "${goTime(cert.notBefore)}"`;
    }
    if (latest > cert.notAfter) {
      return `${what} after certificate "${subjectOf(cert)}" validity period, it was expired at "${goTime(cert.notAfter)}"`;
    }
  }
  return undefined;
}

/**
 * Judges a Notary Project signature (JWS or COSE envelope) against `subject` under `policy`:
 * the `SignatureEvaluator` of the formats `jws` and `cose`. Every check the policy does not
 * skip is run and reported; integrity failing stops the others (there is nothing to trust).
 */
export async function evaluateNotationSignature(
  envelopeBytes: Uint8Array,
  subject: Descriptor,
  policy: EvaluationPolicy,
  options: NotationEvaluationOptions = {},
): Promise<SignatureEvaluation> {
  const now = policy.now ?? new Date();
  const results = new Map<ValidationType, CheckResult>();
  const record = (type: ValidationType, passed: boolean | undefined, message?: string): void => {
    results.set(
      type,
      passed === false
        ? failedCheck(type, policy.actions[type], message ?? 'failed')
        : {
            type,
            action: policy.actions[type],
            passed,
            ...(message !== undefined ? { message } : {}),
          },
    );
  };
  const mediaType = options.mediaType ?? sniffEnvelopeMediaType(envelopeBytes) ?? 'unknown';
  const format = mediaType === NotationMediaTypes.cose ? 'cose' : 'jws';
  const finish = (extra: Partial<SignatureEvaluation> = {}): SignatureEvaluation => {
    const checks = VALIDATION_TYPES.map(
      (type) =>
        results.get(type) ?? {
          type,
          action: policy.actions[type],
          passed: undefined,
          message:
            policy.actions[type] === 'skip' ? 'skipped by policy' : 'not run: integrity failed',
        },
    );
    return { format, checks, verified: verdictOf(checks), ...extra };
  };

  // Integrity: the envelope is well-formed, its signature verifies under its certificate,
  // the chain is a valid code-signing chain, and it signs this subject with this metadata.
  let envelope: NotationEnvelope;
  let signed: Descriptor;
  try {
    if (mediaType !== NotationMediaTypes.jws && mediaType !== NotationMediaTypes.cose) {
      throw new Error(
        `signature envelope media type ${mediaType} is not supported (expected ${NotationMediaTypes.jws} or ${NotationMediaTypes.cose})`,
      );
    }
    envelope = parseNotationEnvelope(envelopeBytes, mediaType);
    verifyEnvelopeSignature(envelope);
    signed = parsePayload(envelope.payload);
  } catch (err) {
    record('integrity', false, `signature is invalid: ${messageOf(err)}`);
    return finish();
  }
  const context = {
    signedDescriptor: signed,
    signer: envelope.certificateChain[0]!,
    ...((envelope.signingTime ?? envelope.authenticSigningTime)
      ? { signingTime: (envelope.authenticSigningTime ?? envelope.signingTime)! }
      : {}),
    ...(envelope.expiry !== undefined ? { expiresAt: envelope.expiry } : {}),
  };
  const integrityProblem = ((): string | undefined => {
    if (envelope.verificationPlugin !== undefined) {
      return `signature requires verification plugin "${envelope.verificationPlugin}", which is not installed (nv2 runs no plugins)`;
    }
    if (
      signed.mediaType !== subject.mediaType ||
      signed.digest !== subject.digest ||
      signed.size !== subject.size
    ) {
      return `signature is for ${signed.mediaType} ${signed.digest} (${signed.size} bytes), not for ${subject.mediaType} ${subject.digest} (${subject.size} bytes)`;
    }
    for (const [key, value] of Object.entries(policy.userMetadata ?? {})) {
      const actual = signed.annotations?.[key];
      if (actual !== value) {
        return actual === undefined
          ? `signature has no user metadata "${key}"`
          : `signature's user metadata "${key}" is "${actual}", not "${value}"`;
      }
    }
    return undefined;
  })();
  if (integrityProblem !== undefined) {
    record('integrity', false, integrityProblem);
    return finish(context);
  }
  record('integrity', true);
  const chain = envelope.certificateChain;

  // Authenticity: a certificate of the chain is in the stores of the signing scheme, and the
  // signing certificate's identity is trusted.
  let certificateChain: readonly Certificate[] | undefined;
  if (policy.actions.authenticity !== 'skip') {
    const storeType = envelope.signingScheme === 'notary.x509' ? 'ca' : 'signingAuthority';
    const store = policy.anchors[storeType];
    const trusted = new Set(store.map((c) => c.fingerprintSha256));
    const index = chain.findIndex((c) => trusted.has(c.fingerprintSha256));
    if (store.length === 0) {
      record(
        'authenticity',
        false,
        `no trusted certificates in "${storeType}" trust stores for signing scheme ${envelope.signingScheme}`,
      );
    } else if (index < 0) {
      record(
        'authenticity',
        false,
        "the signature's certificate chain does not contain any trusted certificate",
      );
    } else if (!policy.trustedIdentity(chain[0]!)) {
      record(
        'authenticity',
        false,
        'signing certificate from the digital signature does not match the X.509 trusted identities',
      );
    } else {
      certificateChain = chain.slice(0, index + 1);
      record('authenticity', true);
    }
  }

  if (policy.actions.expiry !== 'skip') {
    if (envelope.expiry !== undefined && now > envelope.expiry) {
      record('expiry', false, `digital signature has expired on "${goTime(envelope.expiry)}"`);
    } else {
      record('expiry', true);
    }
  }

  if (policy.actions.authenticTimestamp !== 'skip') {
    const [passed, message] = authenticTimestamp(envelope, policy, now);
    record('authenticTimestamp', passed, message);
  }

  if (policy.actions.revocation !== 'skip') {
    const checker = options.revocation ?? defaultRevocationChecker();
    const outcome = await checker.check(chain, now);
    record('revocation', outcome.passed, outcome.message);
  }

  return finish({ ...context, ...(certificateChain !== undefined ? { certificateChain } : {}) });
}

/**
 * The authentic-timestamp rules. Under `notary.x509.signingAuthority` the authentic signing
 * time must lie in every certificate's validity. Under `notary.x509` with a `tsa` store (and,
 * for `afterCertExpiry`, once a chain certificate has expired) the timestamp token must
 * verify and its time range lie in every certificate's validity; otherwise the chain must be
 * valid at verification time.
 */
function authenticTimestamp(
  envelope: NotationEnvelope,
  policy: EvaluationPolicy,
  now: Date,
): [boolean, string | undefined] {
  const chain = envelope.certificateChain;
  if (envelope.signingScheme === 'notary.x509.signingAuthority') {
    const t = envelope.authenticSigningTime!;
    const problem = validityProblem(chain, t, t, 'authentic signing time is');
    return problem === undefined ? [true, undefined] : [false, problem];
  }
  let useTimestamp = policy.anchors.tsa.length > 0;
  if (useTimestamp && policy.verifyTimestamp === 'afterCertExpiry') {
    useTimestamp = chain.some((c) => now > c.notAfter);
  }
  if (!useTimestamp) {
    const problem = validityProblem(chain, now, now, 'verification time is');
    return problem === undefined ? [true, undefined] : [false, problem];
  }
  if (envelope.timestampToken === undefined) {
    return [false, 'no timestamp countersignature was found in the signature envelope'];
  }
  let range: { earliest: Date; latest: Date; genTime: Date };
  try {
    range = verifyTimestampToken(envelope.timestampToken, envelope.signature, policy.anchors.tsa);
  } catch (err) {
    return [false, `failed to verify the timestamp countersignature: ${messageOf(err)}`];
  }
  const problem = validityProblem(chain, range.earliest, range.latest, 'timestamp can be');
  return problem === undefined
    ? [true, `timestamped at ${range.genTime.toISOString()}`]
    : [false, problem];
}
