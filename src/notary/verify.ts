import { type ReadOnlyTarget, type ReferrerLister, readBoundedStream } from '../content/index.js';
import {
  InvalidInputError,
  Nv2Error,
  type Nv2ErrorCode,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../errors.js';
import {
  type Descriptor,
  type Digest,
  MAX_ENVELOPE_BYTES,
  MediaTypes,
  isDescriptor,
  parseReference,
} from '../oci/index.js';
import {
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
  type PolicyConfig,
  SIGNATURE_ARTIFACT_TYPES,
  type TrustPolicyStatement,
  evaluatorFor,
  parseTrustStoreRef,
  repositoryScope,
} from '../policy/index.js';
import { MAX_SIGNATURE_BYTES } from '../signature/index.js';
import {
  type EvaluationPolicy,
  type SignatureEvaluation,
  type TrustSet,
  type ValidationType,
  type VerificationLevel,
  type VerificationPluginSettings,
  type VerificationResult,
  verify,
} from '../trust/index.js';
import { type SignatureEntry, listSignatures, requireReferrers } from './list.js';
import { fetchManifestJson, plain } from './manifest.js';

/** Options of `verifyArtifact`. */
export interface VerifyArtifactOptions {
  /** Verification time; default now. */
  readonly now?: Date;
  /**
   * Where the signatures are stored, when not beside the artifact (signed with
   * `--push-reference`, or `NV2_SIGNATURE_REPOSITORY`); default `target`.
   */
  readonly signatureTarget?: ReadOnlyTarget & ReferrerLister;
  /**
   * Notary Project signatures (JWS and COSE envelopes) are judged under this policy too (the
   * `-c`/`--ca-cert` path builds one: every check enforced, the given certificates as `ca`
   * anchors, any identity); without it only nv2 signatures are looked for.
   */
  readonly notationPolicy?: EvaluationPolicy;
}

/** The verdict on one signature artifact. */
export interface SignatureVerdict {
  /** The signature manifest. */
  readonly manifest: Descriptor;
  /** What the signature establishes, when it verified (nv2 signatures). */
  readonly result?: VerificationResult;
  /** Every check of a Notary Project signature, when its envelope could be read. */
  readonly evaluation?: SignatureEvaluation;
  /** Why it did not verify (a `VerificationFailedError`), or why no verdict was reached. */
  readonly error?: Nv2Error;
}

/** What `verifyArtifact` found. */
export interface ArtifactVerification {
  /** The resolved artifact: go on by this digest. */
  readonly subject: Descriptor;
  /** Every signature found, in listing order, each with its verdict. */
  readonly signatures: readonly SignatureVerdict[];
  /** The signatures that verified (at least one). */
  readonly verified: readonly SignatureVerdict[];
}

async function judge(
  entry: SignatureEntry,
  subject: Descriptor,
  trust: TrustSet,
  now: Date,
): Promise<SignatureVerdict> {
  if (entry.error !== undefined || entry.jws === undefined) {
    return {
      manifest: entry.manifest,
      ...(entry.error !== undefined ? { error: entry.error } : {}),
    };
  }
  try {
    return { manifest: entry.manifest, result: await verify(entry.jws, subject, trust, { now }) };
  } catch (err) {
    if (err instanceof Nv2Error) return { manifest: entry.manifest, error: err };
    throw err;
  }
}

/** The error code a Notary Project signature's first enforced failed check stands for. */
const CHECK_CODES: Readonly<Record<ValidationType, Nv2ErrorCode>> = {
  integrity: 'NV2_ERR_SIGNATURE_INVALID',
  authenticity: 'NV2_ERR_CERT_UNTRUSTED',
  authenticTimestamp: 'NV2_ERR_CERT_EXPIRED',
  expiry: 'NV2_ERR_SIGNATURE_EXPIRED',
  revocation: 'NV2_ERR_CERT_UNTRUSTED',
};

/** Notary Project signatures of `subject`, each evaluated under `policy`. */
async function judgeNotation(
  store: ReadOnlyTarget & ReferrerLister,
  subject: Descriptor,
  policy: EvaluationPolicy,
): Promise<SignatureVerdict[]> {
  const referrers = await requireReferrers(store).referrers(subject, {
    artifactType: NOTATION_SIGNATURE_ARTIFACT_TYPE,
  });
  const manifests = referrers.filter((r) => r.artifactType === NOTATION_SIGNATURE_ARTIFACT_TYPE);
  return Promise.all(
    manifests.map(async (manifest): Promise<SignatureVerdict> => {
      const evaluated = await evaluateEntry(store, manifest, subject, policy);
      const evaluation = evaluated.evaluation;
      if (evaluation === undefined) {
        return { manifest, ...(evaluated.error !== undefined ? { error: evaluated.error } : {}) };
      }
      if (evaluation.verified) return { manifest, evaluation };
      const failed = evaluation.checks.filter((c) => c.action === 'enforce' && c.passed === false);
      return {
        manifest,
        evaluation,
        error: new VerificationFailedError(
          CHECK_CODES[failed[0]?.type ?? 'integrity'],
          failed.map((c) => `${c.type}: ${c.message ?? 'failed'}`).join('; '),
        ),
      };
    }),
  );
}

function reasons(verdicts: readonly SignatureVerdict[]): string {
  return verdicts
    .map(
      (v) =>
        `${v.manifest.digest}: ${v.error?.code ?? 'NV2_ERR_INTERNAL'}: ${v.error?.message ?? 'no verdict'}`,
    )
    .join('; ');
}

/**
 * Verifies what `reference` names in `target` (artifact-layout.md, "Verification by a
 * client"): resolves it once, lists its nv2 signatures, verifies each against the resolved
 * descriptor under `trust`, and succeeds when at least one verifies. The trust material is a
 * parameter so that a trust policy can choose it per reference.
 *
 * @throws VerificationFailedError NV2_ERR_NO_SIGNATURE when there are none,
 *   NV2_ERR_NO_VALID_SIGNATURE when none verified (the message says why each failed)
 * @throws VerificationInconclusiveError when none verified and some could not be read (a
 *   registry or I/O failure decides nothing)
 * @example
 * const { subject, verified } = await verifyArtifact(repo, 'v1', trust);
 */
export async function verifyArtifact(
  target: ReadOnlyTarget & ReferrerLister,
  reference: string,
  trust: TrustSet,
  options: VerifyArtifactOptions = {},
): Promise<ArtifactVerification> {
  const now = options.now ?? new Date();
  const subject = plain(await target.resolve(reference));
  const entries = await listSignatures(
    target,
    subject,
    options.signatureTarget !== undefined ? { signatureTarget: options.signatureTarget } : {},
  );
  const notationVerdicts =
    options.notationPolicy !== undefined
      ? await judgeNotation(
          options.signatureTarget ?? target,
          subject,
          options.notationPolicy.now !== undefined
            ? options.notationPolicy
            : { ...options.notationPolicy, now },
        )
      : [];
  if (entries.length === 0 && notationVerdicts.length === 0) {
    throw new VerificationFailedError(
      'NV2_ERR_NO_SIGNATURE',
      `${reference} (${subject.digest}) has no ${options.notationPolicy !== undefined ? '' : 'nv2 '}signatures`,
    );
  }
  const signatures = [
    ...(await Promise.all(entries.map((e) => judge(e, subject, trust, now)))),
    ...notationVerdicts,
  ];
  const verified = signatures.filter(
    (s) => s.result !== undefined || s.evaluation?.verified === true,
  );
  if (verified.length > 0) return { subject, signatures, verified };
  const inconclusive = signatures.filter(
    (s) => s.error !== undefined && !(s.error instanceof VerificationFailedError),
  );
  if (inconclusive.length > 0) {
    throw new VerificationInconclusiveError(
      inconclusive[0]!.error!.code,
      `none of the ${signatures.length} signatures of ${subject.digest} verified, and ${inconclusive.length} could not be read: ${reasons(signatures)}`,
      { cause: inconclusive[0]!.error },
    );
  }
  throw new VerificationFailedError(
    'NV2_ERR_NO_VALID_SIGNATURE',
    `none of the ${signatures.length} signatures of ${subject.digest} verified: ${reasons(signatures)}`,
  );
}

/** Options of `verifyWithPolicy`. */
export interface VerifyWithPolicyOptions {
  /** Verification time; default now. */
  readonly now?: Date;
  /** Where the signatures are stored, when not beside the artifact; default `target`. */
  readonly signatureTarget?: ReadOnlyTarget & ReferrerLister;
  /**
   * The repository whose policy applies (`registry/repository`), when the reference does not
   * name it: an OCI layout holding a copy of a registry's image.
   */
  readonly scope?: string;
  /**
   * User metadata the signature must carry with equal values (`--user-metadata KEY=VALUE`,
   * notation's `-m`): Notary Project signatures carry it signed; a signature without it
   * fails integrity.
   */
  readonly userMetadata?: Readonly<Record<string, string>>;
  /** Where verification plugins are found and their pluginConfig; without, such signatures fail. */
  readonly verificationPlugins?: VerificationPluginSettings;
}

/** One signature found, with its evaluation or why it has none. */
export interface EvaluatedSignature {
  /** The signature manifest. */
  readonly manifest: Descriptor;
  /** The envelope's media type (the signature manifest's layer). */
  readonly envelopeMediaType?: string;
  /** Every check's outcome, when the envelope could be read and its format is supported. */
  readonly evaluation?: SignatureEvaluation;
  /** Why it was not evaluated (unreadable, unsupported format, registry failure). */
  readonly error?: Nv2Error;
}

/** How a reference was judged under the trust policy: everything `--explain` prints. */
export interface PolicyVerification {
  /** The reference as given. */
  readonly reference: string;
  /** The repository whose policy applied (`registry/repository`). */
  readonly repository: string;
  readonly statement: TrustPolicyStatement;
  /** The registry scope of the statement that matched. */
  readonly scope: string;
  readonly level: VerificationLevel;
  /** The resolved artifact: go on by its digest, never by the tag again. */
  readonly subject: Descriptor;
  /** The verified digest (the subject's). */
  readonly digest: Digest;
  /** Every signature found, in listing order (empty for level skip: none were looked for). */
  readonly signatures: readonly EvaluatedSignature[];
  /** The signatures that verified under the level. */
  readonly verifiedSignatures: readonly EvaluatedSignature[];
  /** Whether the artifact passes (skip always passes, audit unless a signature fails integrity). */
  readonly passed: boolean;
  /** Failures the level logs rather than enforces, and audit's findings. */
  readonly warnings: readonly string[];
  /** What to do about missing trust: where the signers' issuers publish their certificates. */
  readonly hints: readonly string[];
}

/**
 * Verification under the trust policy failed: carries the whole result, so that a face can
 * explain it (`--explain`), and `hints` on how to acquire the missing trust.
 */
export class PolicyVerificationError extends VerificationFailedError {
  readonly result: PolicyVerification;
  constructor(code: Nv2ErrorCode, message: string, result: PolicyVerification) {
    super(code, message);
    this.result = result;
  }
}

async function readEnvelope(
  target: ReadOnlyTarget,
  manifest: Descriptor,
): Promise<{ mediaType: string; bytes: Buffer }> {
  const json = await fetchManifestJson(target, manifest);
  const layers = Array.isArray(json['layers']) ? (json['layers'] as unknown[]) : [];
  const descriptors = layers.filter(isDescriptor);
  const layer = descriptors.find((l) => evaluatorFor(l.mediaType) !== undefined);
  if (layer === undefined) {
    throw new VerificationFailedError(
      'NV2_ERR_UNSUPPORTED_SIGNATURE_FORMAT',
      `signature manifest ${manifest.digest} has no envelope nv2 can evaluate (layers: ${descriptors.map((l) => l.mediaType).join(', ') || 'none'})`,
    );
  }
  const limit =
    layer.mediaType === MediaTypes.nv2Signature ? MAX_SIGNATURE_BYTES : MAX_ENVELOPE_BYTES;
  if (layer.size > limit) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_TOO_LARGE',
      `signature manifest ${manifest.digest}: its envelope is ${layer.size} bytes, more than the ${limit} allowed`,
    );
  }
  const bytes = await readBoundedStream(
    await target.fetch(layer),
    limit,
    `signature ${layer.digest}`,
  );
  return { mediaType: layer.mediaType, bytes };
}

async function evaluateEntry(
  target: ReadOnlyTarget,
  manifest: Descriptor,
  subject: Descriptor,
  policy: NonNullable<Awaited<ReturnType<PolicyConfig['policyFor']>>['evaluation']>,
): Promise<EvaluatedSignature> {
  let envelopeMediaType: string | undefined;
  try {
    const envelope = await readEnvelope(target, manifest);
    envelopeMediaType = envelope.mediaType;
    const evaluation = await evaluatorFor(envelope.mediaType)!(envelope.bytes, subject, policy);
    return { manifest, envelopeMediaType, evaluation };
  } catch (err) {
    if (err instanceof Nv2Error)
      return {
        manifest,
        ...(envelopeMediaType !== undefined ? { envelopeMediaType } : {}),
        error: err,
      };
    throw err;
  }
}

function failedChecks(evaluation: SignatureEvaluation, action: 'enforce' | 'log'): string[] {
  return evaluation.checks
    .filter((c) => c.action === action && c.passed === false)
    .map((c) => `${c.type}: ${c.message ?? 'failed'}`);
}

function signerText(s: EvaluatedSignature): string {
  const signer = s.evaluation?.signer;
  return signer === undefined
    ? ''
    : ` signed by "${signer.subject}" (SHA-256 fingerprint ${signer.fingerprintSha256})`;
}

function describeFailure(s: EvaluatedSignature): string {
  if (s.evaluation === undefined)
    return `${s.manifest.digest}: ${s.error?.code ?? 'NV2_ERR_INTERNAL'}: ${s.error?.message ?? 'not evaluated'}`;
  return `${s.manifest.digest}${signerText(s)}: ${failedChecks(s.evaluation, 'enforce').join('; ')}`;
}

/** Where the issuers of untrusted signers publish their certificates, as `trust add` hints. */
function acquisitionHints(
  signatures: readonly EvaluatedSignature[],
  statement: TrustPolicyStatement,
): string[] {
  const store =
    (statement.trustStores ?? [])
      .map((v) => parseTrustStoreRef(v))
      .find((r) => r.type === 'ca' || r.type === 'signingAuthority') ?? undefined;
  const hints: string[] = [];
  const seen = new Set<string>();
  for (const s of signatures) {
    const evaluation = s.evaluation;
    if (evaluation?.signer === undefined) continue;
    const authenticity = evaluation.checks.find((c) => c.type === 'authenticity');
    if (authenticity?.passed !== false) continue;
    const certs = [evaluation.signer, ...(evaluation.certificateChain ?? []).slice(1)];
    for (const url of certs.flatMap((c) => c.caIssuersUrls)) {
      if (seen.has(url)) continue;
      seen.add(url);
      const flags =
        store !== undefined
          ? `${store.type === 'ca' ? '' : ` --type ${store.type}`} --store ${store.name}`
          : '';
      hints.push(
        `the issuing certificate of "${evaluation.signer.subject}" is published at ${url}; after checking it, add it with: nv2 trust add --url ${url}${flags}`,
      );
    }
  }
  return hints;
}

/**
 * Verifies what `reference` names in `target` under the trust policy of its repository
 * (artifact-layout.md, "Verification by a client"): finds the statement whose registry scope
 * covers the reference (exact repository, then the longest `/*` prefix, then `*`), resolves
 * the reference once, lists its signatures (nv2 and Notary Project signature manifests),
 * evaluates each with the evaluator of its envelope format, and applies the level:
 *
 * - `strict`, `permissive` (trust required): passes when at least one signature verifies;
 *   no signature, or none verified, throws `PolicyVerificationError` naming each signer
 *   (subject, fingerprint) and, where the signing certificate carries an AIA caIssuers
 *   URL, how to acquire its issuer (`result.hints`);
 * - `audit`: integrity is enforced, the other checks become `warnings`; unsigned content
 *   passes with a warning (where notation refuses it: the deliberate difference);
 * - `skip`: resolves the reference and verifies nothing.
 *
 * @throws PolicyVerificationError (VerificationFailedError) NV2_ERR_NO_SIGNATURE, NV2_ERR_NO_VALID_SIGNATURE
 * @throws VerificationFailedError NV2_ERR_NO_APPLICABLE_POLICY
 * @throws VerificationInconclusiveError when none verified and some could not be read
 * @throws InvalidInputError NV2_ERR_TRUST_STORE_NOT_FOUND, NV2_ERR_INVALID_REFERENCE
 * @example
 * const config = await loadPolicyConfig(configDirectory(process.env));
 * const result = await verifyWithPolicy(repo, 'registry.example.com/app:v1', config);
 * for (const warning of result.warnings) console.warn(warning);
 * console.log(result.digest);
 */
export async function verifyWithPolicy(
  target: ReadOnlyTarget & ReferrerLister,
  reference: string,
  config: PolicyConfig,
  options: VerifyWithPolicyOptions = {},
): Promise<PolicyVerification> {
  const now = options.now ?? new Date();
  const parsed = parseReference(reference);
  const repository =
    options.scope !== undefined ? repositoryScope(options.scope) : repositoryScope(reference);
  const applicable = await config.policyFor(repository, now);
  const subject = plain(await target.resolve(parsed.digest ?? parsed.tag ?? 'latest'));
  const base = {
    reference,
    repository,
    statement: applicable.statement,
    scope: applicable.scope,
    level: applicable.level,
    subject,
    digest: subject.digest,
  };
  if (applicable.evaluation === undefined) {
    return {
      ...base,
      signatures: [],
      verifiedSignatures: [],
      passed: true,
      warnings: [],
      hints: [],
    };
  }
  const withMetadata =
    options.userMetadata !== undefined && Object.keys(options.userMetadata).length > 0
      ? {
          ...applicable.evaluation,
          userMetadata: { ...applicable.evaluation.userMetadata, ...options.userMetadata },
        }
      : applicable.evaluation;
  const policy =
    options.verificationPlugins !== undefined
      ? { ...withMetadata, verificationPlugins: options.verificationPlugins }
      : withMetadata;
  const signatureStore = options.signatureTarget ?? target;
  const referrers = await requireReferrers(signatureStore).referrers(subject);
  const manifests = referrers.filter(
    (r) => r.artifactType !== undefined && SIGNATURE_ARTIFACT_TYPES.includes(r.artifactType),
  );
  const signatures = await Promise.all(
    manifests.map((m) => evaluateEntry(signatureStore, m, subject, policy)),
  );
  const verifiedSignatures = signatures.filter((s) => s.evaluation?.verified === true);
  const warnings: string[] = [];
  for (const s of applicable.level === 'audit' ? signatures : verifiedSignatures) {
    if (s.evaluation === undefined) {
      warnings.push(`signature ${describeFailure(s)}`);
      continue;
    }
    for (const failure of failedChecks(s.evaluation, 'log'))
      warnings.push(
        `signature ${s.manifest.digest}${signerText(s)}: ${failure} (logged, not enforced)`,
      );
    for (const failure of failedChecks(s.evaluation, 'enforce'))
      warnings.push(`signature ${s.manifest.digest}${signerText(s)}: ${failure}`);
  }
  const hints = acquisitionHints(signatures, applicable.statement);
  const result = (passed: boolean, extra: readonly string[] = []): PolicyVerification => ({
    ...base,
    signatures,
    verifiedSignatures,
    passed,
    warnings: [...extra, ...warnings],
    hints,
  });
  // Audit enforces integrity (a signature that does not verify as a signature, or signs
  // something else, fails as under notation); what audit lets through is unsigned content.
  if (applicable.level === 'audit' && signatures.length === 0) {
    return result(true, [
      `${reference} (${subject.digest}) has no signatures; level audit lets it through`,
    ]);
  }
  if (verifiedSignatures.length > 0) return result(true);
  const failed = result(false);
  if (signatures.length === 0) {
    throw new PolicyVerificationError(
      'NV2_ERR_NO_SIGNATURE',
      `${reference} (${subject.digest}) has no signatures, and the trust policy "${applicable.statement.name}" (${applicable.level}) requires a trusted one`,
      failed,
    );
  }
  const inconclusive = signatures.filter(
    (s) =>
      s.error !== undefined &&
      !(s.error instanceof VerificationFailedError) &&
      !(s.error instanceof InvalidInputError),
  );
  if (inconclusive.length > 0) {
    throw new VerificationInconclusiveError(
      inconclusive[0]!.error!.code,
      `none of the ${signatures.length} signatures of ${subject.digest} verified, and ${inconclusive.length} could not be read: ${signatures.map(describeFailure).join('; ')}`,
      { cause: inconclusive[0]!.error },
    );
  }
  const hintText = hints.length > 0 ? `; ${hints.join('; ')}` : '';
  throw new PolicyVerificationError(
    'NV2_ERR_NO_VALID_SIGNATURE',
    `none of the ${signatures.length} signatures of ${reference} (${subject.digest}) is trusted under the trust policy "${applicable.statement.name}" (${applicable.level}): ${signatures.map(describeFailure).join('; ')}${hintText}`,
    failed,
  );
}
