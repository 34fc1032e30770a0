/**
 * Notary Project signatures (JWS and COSE envelopes) as signature entities: the envelope
 * parsed and its signature value verified here, with the rules where the Notary Project's
 * differ from nv2's (the trusted path as "the carried chain contains a certificate of the
 * scheme's store", RFC 3161 timestamps, OCSP/CRL revocation, verification plugins) as hooks,
 * in notation's words. The checks are the one evaluator's (`verification/`).
 */
import { VerificationFailedError } from '../errors.js';
import { sniffEnvelopeMediaType } from '../signature/index.js';
import type { Descriptor } from '../oci/index.js';
import type {
  CheckProblem,
  EntityRules,
  EnvelopeReading,
  EvaluationPolicy,
  NotRunNote,
  PluginCheck,
  PluginVerifier,
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
  TRUSTED_IDENTITY,
  type VerifierCapability,
  prepareVerificationPlugin,
  runVerificationPlugin,
} from './verification-plugin.js';

/** How a Notary Project envelope is read. */
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

/** The Notary Project's words for checks not run (notation's). */
const NOT_RUN: NotRunNote = (action) =>
  action === 'skip' ? 'skipped by policy' : 'not run: integrity failed';

/**
 * Reads a Notary Project envelope (JWS or COSE) as a signature entity: parsed, its
 * signature value verified under the carried signing certificate, its payload read. Any
 * failure there is integrity's, in notation's words.
 *
 * @example
 * const reading = readNotationEntity(bytes, { mediaType: NotationMediaTypes.cose });
 * if ('rejected' in reading) console.log(reading.rejected.message);
 */
export function readNotationEntity(
  envelopeBytes: Uint8Array,
  options: NotationEvaluationOptions = {},
): EnvelopeReading {
  const mediaType = options.mediaType ?? sniffEnvelopeMediaType(envelopeBytes) ?? 'unknown';
  const format = mediaType === NotationMediaTypes.cose ? 'cose' : 'jws';
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
    return {
      format,
      rejected: { message: `signature is invalid: ${messageOf(err)}` },
      notRunNote: NOT_RUN,
    };
  }
  const checker = options.revocation ?? defaultRevocationChecker();
  return {
    format,
    envelopeMediaType: mediaType,
    signedDescriptor: signed,
    userMetadata: signed.annotations ?? {},
    signer: envelope.certificateChain[0]!,
    certificates: envelope.certificateChain,
    algorithm: envelope.algorithm,
    ...(envelope.signingTime !== undefined ? { signingTime: envelope.signingTime } : {}),
    ...(envelope.authenticSigningTime !== undefined
      ? { authenticSigningTime: envelope.authenticSigningTime }
      : {}),
    ...(envelope.expiry !== undefined ? { expiresAt: envelope.expiry } : {}),
    signingScheme: envelope.signingScheme,
    ...(envelope.timestampToken !== undefined ? { timestampToken: envelope.timestampToken } : {}),
    ...(envelope.verificationPlugin !== undefined
      ? { verificationPlugin: envelope.verificationPlugin }
      : {}),
    rules: notationRules(envelope, signed, checker),
  };
}

function notationRules(
  envelope: NotationEnvelope,
  signed: Descriptor,
  checker: ChainRevocationChecker,
): EntityRules {
  const chain = envelope.certificateChain;
  return {
    notRunNote: NOT_RUN,
    judgedWholeForOtherSubject: false,
    chainOnlyWhenAuthentic: true,
    subjectProblem: (subject) =>
      signed.mediaType !== subject.mediaType ||
      signed.digest !== subject.digest ||
      signed.size !== subject.size
        ? {
            message: `signature is for ${signed.mediaType} ${signed.digest} (${signed.size} bytes), not for ${subject.mediaType} ${subject.digest} (${subject.size} bytes)`,
          }
        : undefined,
    // A certificate of the carried chain is in the stores of the signing scheme.
    trustedPath: (policy) => {
      const storeType = envelope.signingScheme === 'notary.x509' ? 'ca' : 'signingAuthority';
      const store = policy.anchors[storeType];
      if (store.length === 0) {
        return {
          message: `no trusted certificates in "${storeType}" trust stores for signing scheme ${envelope.signingScheme}`,
        };
      }
      const trusted = new Set(store.map((c) => c.fingerprintSha256));
      const index = chain.findIndex((c) => trusted.has(c.fingerprintSha256));
      if (index < 0) {
        return {
          message: "the signature's certificate chain does not contain any trusted certificate",
        };
      }
      return { paths: [chain.slice(0, index + 1)] };
    },
    untrustedIdentity: () =>
      'signing certificate from the digital signature does not match the X.509 trusted identities',
    authenticTimestamp: async (policy, now) => {
      const [passed, message] = await authenticTimestamp(envelope, policy, now, checker);
      return { passed, ...(message !== undefined ? { message } : {}) };
    },
    expiryProblem: (now) =>
      envelope.expiry !== undefined && now > envelope.expiry
        ? { message: `digital signature has expired on "${goTime(envelope.expiry)}"` }
        : undefined,
    revocation: (carried, now) => checker.check(carried, now),
    ...(envelope.verificationPlugin !== undefined
      ? { preparePlugin: (policy) => pluginVerifier(envelope, policy) }
      : {}),
  };
}

/** The capability a plugin announces for each check it can answer. */
const CAPABILITY_OF: Readonly<Record<PluginCheck, VerifierCapability>> = {
  authenticity: TRUSTED_IDENTITY,
  revocation: REVOCATION_CHECK,
};

/** The verification plugin the envelope names, found, checked and ready to be asked. */
async function pluginVerifier(
  envelope: NotationEnvelope,
  policy: EvaluationPolicy,
): Promise<PluginVerifier | CheckProblem> {
  const ready = await prepareVerificationPlugin(envelope, policy.verificationPlugins);
  if (ready instanceof PluginProblem) return { message: ready.message, code: ready.code };
  const checkOf = (c: VerifierCapability): PluginCheck =>
    c === TRUSTED_IDENTITY ? 'authenticity' : 'revocation';
  return {
    name: ready.plugin.name,
    answers: ready.capabilities.map(checkOf),
    run: async (checks, asked) => {
      const verdict = await runVerificationPlugin(
        ready,
        envelope,
        checks.map((c) => CAPABILITY_OF[c]),
        asked,
      );
      if (verdict instanceof PluginProblem) return { message: verdict.message, code: verdict.code };
      return new Map([...verdict.results].map(([c, result]) => [checkOf(c), result]));
    },
  };
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
