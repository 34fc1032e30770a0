import type { ReadOnlyTarget, ReferrerLister } from '../content/index.js';
import {
  InvalidInputError,
  type Nv2ErrorCode,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../errors.js';
import {
  type Descriptor,
  type Digest,
  MediaTypes,
  isDigest,
  isTag,
  parseReference,
} from '../oci/index.js';
import { NOTATION_SIGNATURE_ARTIFACT_TYPE, SIGNATURE_ARTIFACT_TYPES } from './evaluators.js';
import {
  type PolicyConfig,
  type TrustPolicyStatement,
  type TrustSource,
  type TrustStoreRef,
  type VerificationLevel,
  parseTrustStoreRef,
  repositoryScope,
} from '../policy/index.js';
import {
  type SignatureEvaluation,
  type VerificationPluginSettings,
  describeFailedCheck,
} from '../trust/index.js';
import { type SignatureOutcome, evaluateEntry } from './evaluate-signature.js';
import { plain } from '../notary/index.js';
import { type SignatureManifests, capNote, signatureManifests } from './signature-manifests.js';

/** Options of `verifyWithPolicy`. */
export interface VerifyWithPolicyOptions {
  /** Verification time; default now. */
  readonly now?: Date;
  /** Where the signatures are stored, when not beside the artifact; default `target`. */
  readonly signatureTarget?: ReadOnlyTarget & ReferrerLister;
  /**
   * The repository whose policy applies (`registry/repository`), when the reference does not
   * name it: an OCI layout holding a copy of a registry's image. The reference may then be
   * just a tag or digest of `target`.
   */
  readonly scope?: string;
  /**
   * User metadata the signature must carry with equal values (`--user-metadata KEY=VALUE`,
   * notation's `-m`): Notary Project signatures carry it signed; a signature without it
   * fails integrity.
   */
  readonly userMetadata?: Readonly<Record<string, string>>;
  /** The most signatures evaluated (in listing order); default `DEFAULT_MAX_SIGNATURES` (100). */
  readonly maxSignatures?: number;
  /** Where verification plugins are found and their pluginConfig; without, such signatures fail. */
  readonly verificationPlugins?: VerificationPluginSettings;
}

/**
 * How a reference was judged under a policy: the one result of verification, whatever the
 * trust's source and the signatures' formats. Everything `--explain` prints; faces (CLI text
 * and JSON, docker plugin, admission webhook, registry) only render it.
 */
export interface PolicyVerification {
  /** The reference as given. */
  readonly reference: string;
  /**
   * The repository whose policy applied (`registry/repository`); undefined when a tag or
   * digest was verified under certificates, whose one statement covers every repository.
   */
  readonly repository?: string;
  /** Where the trust came from: `trustpolicy.json`, or certificates (`-c/--ca-cert`). */
  readonly trustSource: TrustSource;
  readonly statement: TrustPolicyStatement;
  /** The registry scope of the statement that matched. */
  readonly scope: string;
  readonly level: VerificationLevel;
  /** The resolved artifact: go on by its digest, never by the tag again. */
  readonly subject: Descriptor;
  /** The verified digest (the subject's). */
  readonly digest: Digest;
  /**
   * Every signature evaluated: nv2 signatures first, then the Notary Project's, each in
   * listing order (empty for level skip: none were looked for).
   */
  readonly signatures: readonly SignatureOutcome[];
  /** The signatures that verified under the level. */
  readonly verifiedSignatures: readonly SignatureOutcome[];
  /** How many signature manifests the listing held: more than `signatures` when capped. */
  readonly signaturesFound: number;
  /** Whether the artifact passes (skip always passes, audit unless a signature fails integrity). */
  readonly passed: boolean;
  /** Failures the level logs rather than enforces, and audit's findings. */
  readonly warnings: readonly string[];
  /**
   * What to do about missing trust: where the signers' issuers publish their certificates,
   * as `nv2 trust add` commands (none when the trust came from certificates).
   */
  readonly hints: readonly string[];
  /** Where the issuers of untrusted signers publish their certificates (`hints` as data). */
  readonly issuerSources: readonly IssuerSource[];
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

function failedChecks(evaluation: SignatureEvaluation, action: 'enforce' | 'log'): string[] {
  return evaluation.checks
    .filter((c) => c.action === action && c.passed === false)
    .map(describeFailedCheck);
}

function signerText(s: SignatureOutcome): string {
  const signer = s.evaluation?.signer;
  return signer === undefined
    ? ''
    : ` signed by "${signer.subject}" (SHA-256 fingerprint ${signer.fingerprintSha256})`;
}

function describeFailure(s: SignatureOutcome): string {
  if (s.evaluation === undefined)
    return `${s.manifest.digest}: ${s.error?.code ?? 'NV2_ERR_INTERNAL'}: ${s.error?.message ?? 'not evaluated'}`;
  return `${s.manifest.digest}${signerText(s)}: ${failedChecks(s.evaluation, 'enforce').join('; ')}`;
}

/**
 * Where the issuer of a signer the policy does not trust publishes its certificate (the
 * certificate's Authority Information Access caIssuers URL): the key-acquisition hint, as
 * data. Faces word it (`nv2 trust add --url`, the webhook's ConfigMap).
 */
export interface IssuerSource {
  /** The subject of the signing certificate whose authenticity failed. */
  readonly signer: string;
  readonly url: string;
  /** The store the statement would take it in: its first `ca` or `signingAuthority` store. */
  readonly store?: TrustStoreRef;
}

/** The issuer sources of the signatures whose authenticity failed, each URL once. */
function issuerSources(
  signatures: readonly SignatureOutcome[],
  statement: TrustPolicyStatement,
): IssuerSource[] {
  const store = (statement.trustStores ?? [])
    .map((v) => parseTrustStoreRef(v))
    .find((r) => r.type === 'ca' || r.type === 'signingAuthority');
  const sources: IssuerSource[] = [];
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
      sources.push({
        signer: evaluation.signer.subject,
        url,
        ...(store !== undefined ? { store } : {}),
      });
    }
  }
  return sources;
}

/** An issuer source as the `nv2 trust add` command that acquires it. */
export function trustAddHint(source: IssuerSource): string {
  const store = source.store;
  const flags =
    store !== undefined
      ? `${store.type === 'ca' ? '' : ` --type ${store.type}`} --store ${store.name}`
      : '';
  return `the issuing certificate of "${source.signer}" is published at ${source.url}; after checking it, add it with: nv2 trust add --url ${source.url}${flags}`;
}

/**
 * What `target` should resolve, and the repository whose statement applies: a reference
 * names both; with `scope` (or under certificates, whose statement covers every repository)
 * it may be just a tag or digest of `target`.
 */
function locate(
  reference: string,
  config: PolicyConfig,
  scope: string | undefined,
): { pin: string; repository?: string } {
  if (
    (scope !== undefined || config.source === 'certificates') &&
    (isTag(reference) || isDigest(reference))
  ) {
    return {
      pin: reference,
      ...(scope !== undefined ? { repository: repositoryScope(scope) } : {}),
    };
  }
  const parsed = parseReference(reference);
  return {
    pin: parsed.digest ?? parsed.tag ?? 'latest',
    repository: repositoryScope(scope ?? reference),
  };
}

/** nv2 signatures first, then the Notary Project's, each in listing order. */
function nv2First(manifests: readonly Descriptor[]): Descriptor[] {
  const isNotation = (m: Descriptor): boolean =>
    m.artifactType === NOTATION_SIGNATURE_ARTIFACT_TYPE;
  return [...manifests.filter((m) => !isNotation(m)), ...manifests.filter(isNotation)];
}

/** A signature as `-c/--ca-cert` has always named it in an error: digest, code, message. */
function codedFailure(s: SignatureOutcome): string {
  return `${s.manifest.digest}: ${s.error?.code ?? 'NV2_ERR_INTERNAL'}: ${s.error?.message ?? 'no verdict'}`;
}

/**
 * The error of a verification that did not pass, in the words of the trust's source (the
 * trust policy names its statement and how to acquire trust; certificates name each
 * signature's code, as `-c/--ca-cert` always has).
 */
function refusal(result: PolicyVerification, listed: SignatureManifests, nv2Only: boolean): Error {
  const { reference, subject, signatures, statement, level } = result;
  const byCertificates = result.trustSource === 'certificates';
  const capped = capNote(listed);
  const cappedText = capped !== undefined ? ` (${capped})` : '';
  if (signatures.length === 0) {
    return new PolicyVerificationError(
      'NV2_ERR_NO_SIGNATURE',
      byCertificates
        ? `${reference} (${subject.digest}) has no ${nv2Only ? 'nv2 ' : ''}signatures`
        : `${reference} (${subject.digest}) has no signatures, and the trust policy "${statement.name}" (${level}) requires a trusted one`,
      result,
    );
  }
  const describe = byCertificates ? codedFailure : describeFailure;
  // A registry or I/O failure decides nothing. Under the trust policy a malformed signature
  // manifest (InvalidInputError) is a failed signature; certificates never told them apart.
  const inconclusive = signatures.filter(
    (s) =>
      s.error !== undefined &&
      !(s.error instanceof VerificationFailedError) &&
      (byCertificates || !(s.error instanceof InvalidInputError)),
  );
  if (inconclusive.length > 0) {
    return new VerificationInconclusiveError(
      inconclusive[0]!.error!.code,
      `none of the ${signatures.length} signatures of ${subject.digest} verified${cappedText}, and ${inconclusive.length} could not be read: ${signatures.map(describe).join('; ')}`,
      { cause: inconclusive[0]!.error },
    );
  }
  const hintText = result.hints.length > 0 ? `; ${result.hints.join('; ')}` : '';
  return new PolicyVerificationError(
    'NV2_ERR_NO_VALID_SIGNATURE',
    byCertificates
      ? `none of the ${signatures.length} signatures of ${subject.digest} verified${cappedText}: ${signatures.map(describe).join('; ')}`
      : `none of the ${signatures.length} signatures of ${reference} (${subject.digest}) is trusted under the trust policy "${statement.name}" (${level})${cappedText}: ${signatures.map(describe).join('; ')}${hintText}`,
    result,
  );
}

/**
 * Verifies what `reference` names in `target` under a policy configuration (artifact-layout.md,
 * "Verification by a client"): the one verification of nv2, whether the trust comes from
 * `trustpolicy.json` (`loadPolicyConfig`) or from certificates (`certificatePolicyConfig`,
 * `nv2 verify -c/--ca-cert`). Finds the statement whose registry scope covers the reference
 * (exact repository, then the longest `/*` prefix, then `*`), resolves the reference once,
 * lists its signatures once (nv2 and Notary Project signature manifests, at most
 * `maxSignatures`), evaluates each with the evaluator of its envelope format (nv2 first), and
 * applies the level:
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
  const { pin, repository } = locate(reference, config, options.scope);
  const applicable = await config.policyFor(repository ?? reference, now);
  const subject = plain(await target.resolve(pin));
  const base = {
    reference,
    ...(repository !== undefined ? { repository } : {}),
    trustSource: config.source,
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
      signaturesFound: 0,
      passed: true,
      warnings: [],
      issuerSources: [],
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
  const listed = await signatureManifests(
    signatureStore,
    subject,
    config.nv2Only ? [MediaTypes.nv2ArtifactType] : SIGNATURE_ARTIFACT_TYPES,
    options.maxSignatures,
  );
  const signatures = await Promise.all(
    nv2First(listed.manifests).map((m) => evaluateEntry(signatureStore, m, subject, policy)),
  );
  const capped = capNote(listed);
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
  const sources = issuerSources(signatures, applicable.statement);
  // `nv2 trust add` acquires trust for the trust policy; certificates are given, not added.
  const hints = config.source === 'trustPolicy' ? sources.map(trustAddHint) : [];
  const result = (passed: boolean, extra: readonly string[] = []): PolicyVerification => ({
    ...base,
    signatures,
    verifiedSignatures,
    signaturesFound: listed.found,
    passed,
    warnings: [...extra, ...(capped !== undefined ? [capped] : []), ...warnings],
    issuerSources: sources,
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
  throw refusal(result(false), listed, config.nv2Only);
}
