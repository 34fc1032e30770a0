import { type Nv2ErrorCode, VerificationFailedError } from '../errors.js';
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
import { type ChainRevocationChecker, defaultRevocationChecker } from './revocation.js';
import { type VerifiedTimestamp, verifyTimestampToken } from './timestamp.js';
import {
  PluginProblem,
  REVOCATION_CHECK,
  type ReadyVerificationPlugin,
  TRUSTED_IDENTITY,
  prepareVerificationPlugin,
  runVerificationPlugin,
} from './verification-plugin.js';

export interface NotationEvaluationOptions {
  /** The envelope's media type (the signature manifest's layer media type); sniffed when absent. */
  readonly mediaType?: string;
  /**
   * Revocation checking (OCSP, then CRL) of the signing chain and of a timestamp's TSA chain;
   * a shared checker with a CRL cache by default.
   */
  readonly revocation?: ChainRevocationChecker;
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
  const record = (
    type: ValidationType,
    passed: boolean | undefined,
    message?: string,
    code?: Nv2ErrorCode,
  ): void => {
    results.set(
      type,
      passed === false
        ? failedCheck(type, policy.actions[type], message ?? 'failed', code)
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
    algorithm: envelope.algorithm,
    ...((envelope.signingTime ?? envelope.authenticSigningTime)
      ? { signingTime: (envelope.authenticSigningTime ?? envelope.signingTime)! }
      : {}),
    ...(envelope.expiry !== undefined ? { expiresAt: envelope.expiry } : {}),
  };
  const integrityProblem = ((): string | undefined => {
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
  // A signature naming a verification plugin cannot be verified without it (notation: the
  // verification is inconclusive), whatever the level: integrity is always enforced.
  let verifier: ReadyVerificationPlugin | undefined;
  if (envelope.verificationPlugin !== undefined) {
    const ready = await prepareVerificationPlugin(envelope, policy.verificationPlugins);
    if (ready instanceof PluginProblem) {
      record('integrity', false, ready.message, ready.code);
      return finish(context);
    }
    verifier = ready;
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
    } else if (
      verifier?.capabilities.includes(TRUSTED_IDENTITY) !== true &&
      !policy.trustedIdentity(chain[0]!)
    ) {
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

  const checker = options.revocation ?? defaultRevocationChecker();
  if (policy.actions.authenticTimestamp !== 'skip') {
    const [passed, message] = await authenticTimestamp(envelope, policy, now, checker);
    record('authenticTimestamp', passed, message);
  }

  if (
    policy.actions.revocation !== 'skip' &&
    verifier?.capabilities.includes(REVOCATION_CHECK) !== true
  ) {
    const outcome = await checker.check(chain, now);
    record('revocation', outcome.passed, outcome.message);
  }

  if (verifier !== undefined) {
    // The plugin answers, in nv2's place, for the checks the policy does not skip.
    const typeOf = (c: string): ValidationType =>
      c === TRUSTED_IDENTITY ? 'authenticity' : 'revocation';
    const asked = verifier.capabilities.filter((c) => policy.actions[typeOf(c)] !== 'skip');
    const name = verifier.plugin.name;
    const verdict =
      asked.length === 0
        ? undefined
        : await runVerificationPlugin(verifier, envelope, asked, policy);
    if (verdict instanceof PluginProblem) {
      record('integrity', false, verdict.message, verdict.code);
    } else if (verdict !== undefined) {
      for (const [capability, result] of verdict.results) {
        const type = typeOf(capability);
        const what = type === 'authenticity' ? 'trusted identity verification' : 'revocation check';
        if (!result.success) {
          record(
            type,
            false,
            `${what} by verification plugin ${name} failed: ${result.reason ?? 'no reason given'}`,
            'NV2_ERR_PLUGIN_VERIFICATION_FAILED',
          );
        } else if (type === 'revocation') {
          record(type, true, `checked by verification plugin ${name}`);
        } else if (results.get(type)?.passed === true) {
          record(type, true, `trusted identity verified by verification plugin ${name}`);
        }
      }
    }
  }

  return finish({ ...context, ...(certificateChain !== undefined ? { certificateChain } : {}) });
}

/**
 * The authentic-timestamp rules. Under `notary.x509.signingAuthority` the authentic signing
 * time must lie in every certificate's validity. Under `notary.x509` with a `tsa` store (and,
 * for `afterCertExpiry`, once a chain certificate has expired) the timestamp token must
 * verify, its time range lie in every certificate's validity, and no certificate of the TSA's
 * chain be revoked or of unknown status (notation's rule: the timestamp is only as good as
 * its TSA, whatever the policy says of the signing chain's revocation); otherwise the chain
 * must be valid at verification time.
 */
async function authenticTimestamp(
  envelope: NotationEnvelope,
  policy: EvaluationPolicy,
  now: Date,
  revocation: ChainRevocationChecker,
): Promise<[boolean, string | undefined]> {
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
  let range: VerifiedTimestamp;
  try {
    range = verifyTimestampToken(envelope.timestampToken, envelope.signature, policy.anchors.tsa);
  } catch (err) {
    return [false, `failed to verify the timestamp countersignature: ${messageOf(err)}`];
  }
  const problem = validityProblem(chain, range.earliest, range.latest, 'timestamp can be');
  if (problem !== undefined) return [false, problem];
  const revoked = await revocation.check(range.tsaChain, now);
  if (!revoked.passed) {
    return [
      false,
      `timestamping certificate chain: ${revoked.message ?? 'revocation check failed'}`,
    ];
  }
  return [true, `timestamped at ${range.genTime.toISOString()}`];
}
