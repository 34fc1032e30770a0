import { join } from 'node:path';
import { InvalidInputError, type Nv2ErrorCode, VerificationFailedError } from '../errors.js';
import {
  type SignatureOutcome,
  type PolicyVerification,
  PolicyVerificationError,
  verifyWithPolicy,
} from '../verification/index.js';
import { type Digest, type Reference, formatReference } from '../oci/index.js';
import {
  type PolicyConfig,
  type VerificationLevel,
  TRUST_POLICY_FILE,
  loadPolicyConfig,
  parseTrustStoreRef,
} from '../policy/index.js';
import {
  CHECK_FAILURE_CODES,
  type ValidationType,
  type VerificationPluginSettings,
  enforcedFailures,
} from '../trust/index.js';
import type { RegistryAccess } from './registry-access.js';

/** A reference pinned to a digest: what a verifier is asked about. */
export type PinnedReference = Reference & { readonly digest: Digest };

/** What a verifier established about an image. */
export interface ImageVerification {
  /** The digest verified: the image runs by this. */
  readonly digest: Digest;
  /** The subject of the certificate whose signature verified. */
  readonly signer?: string;
  /** Things an operator should know that do not refuse the image (audit, permissive). */
  readonly warnings: readonly string[];
  /** The name of the trust policy statement that decided. */
  readonly policy?: string;
  /** Its verification level. */
  readonly level?: VerificationLevel;
}

/**
 * Verifies one image, named by digest. Implementations throw `VerificationFailedError` when
 * the image must be refused (the message says why, for people), and
 * `VerificationInconclusiveError` when no verdict could be reached (registry unreachable).
 * `signal` aborts when the admission deadline passes.
 */
export interface ImageVerifier {
  verify(image: PinnedReference, signal: AbortSignal): Promise<ImageVerification>;
}

/** How a refused signature is described, most telling first. */
const FAILURE_KINDS = ['untrusted signer', 'expired', 'invalid signature', 'unreadable'] as const;
type FailureKind = (typeof FAILURE_KINDS)[number];

const KIND_OF_CHECK: Readonly<Record<ValidationType, FailureKind>> = {
  integrity: 'invalid signature',
  authenticity: 'untrusted signer',
  authenticTimestamp: 'expired',
  expiry: 'expired',
  revocation: 'untrusted signer',
};

interface SignatureFailure {
  readonly kind: FailureKind;
  readonly code: Nv2ErrorCode;
  readonly message: string;
  readonly signer?: string;
}

function failureOf(s: SignatureOutcome): SignatureFailure {
  const evaluation = s.evaluation;
  if (evaluation === undefined) {
    return {
      kind: 'unreadable',
      code: s.error?.code ?? 'NV2_ERR_SIGNATURE_MALFORMED',
      message: s.error?.message ?? `signature ${s.manifest.digest} could not be evaluated`,
    };
  }
  const failed = enforcedFailures(evaluation.checks)[0];
  return {
    kind: failed !== undefined ? KIND_OF_CHECK[failed.type] : 'invalid signature',
    code: failed?.code ?? CHECK_FAILURE_CODES.integrity,
    message: failed?.message ?? 'failed',
    ...(evaluation.signer !== undefined ? { signer: evaluation.signer.subject } : {}),
  };
}

/**
 * What to do about an untrusted signer: which stores the statement trusts, where they live in
 * the mounted configuration, and where the signer's issuers publish their certificates.
 */
function trustHints(result: PolicyVerification): string[] {
  const stores = (result.statement.trustStores ?? []).map((v) => parseTrustStoreRef(v));
  const where = stores
    .filter((r) => r.type === 'ca' || r.type === 'signingAuthority')
    .map((r) => `truststore/x509/${r.type}/${r.name}/`);
  const hints = [
    `to trust this signer, add its root CA certificate to ${where.length > 0 ? where.join(' or ') : 'a trust store the statement names'} in the webhook's trust ConfigMap (or name another store in the statement's trustStores); the webhook reloads when the mounted files change`,
  ];
  for (const source of result.issuerSources) {
    hints.push(`the issuer of "${source.signer}" publishes its certificate at ${source.url}`);
  }
  return hints;
}

/**
 * The refusal of an image whose signatures the trust policy did not accept, for people: the
 * statement that applied, the most telling failure (an untrusted signer, then expiry, then an
 * invalid signature), every signer's name, and how to acquire missing trust.
 */
function refusal(result: PolicyVerification): VerificationFailedError {
  const policy = `trust policy "${result.statement.name}" (scope ${result.scope}, ${result.level})`;
  if (result.signatures.length === 0) {
    return new VerificationFailedError(
      'NV2_ERR_NO_SIGNATURE',
      `unsigned: it has no signature, and the ${policy} requires a trusted one`,
    );
  }
  const failures = result.signatures.map(failureOf);
  const pick = FAILURE_KINDS.map((kind) => failures.find((f) => f.kind === kind)).find(
    (f) => f !== undefined,
  )!;
  const by = pick.signer !== undefined ? ` "${pick.signer}"` : '';
  const signers = [
    ...new Set(failures.flatMap((f) => (f.signer !== undefined ? [`"${f.signer}"`] : []))),
  ];
  const others =
    failures.length > 1
      ? ` (${failures.length} signatures, none trusted${signers.length > 0 ? `; signed by ${signers.join(', ')}` : ''})`
      : '';
  const hints = pick.kind === 'untrusted signer' ? `; ${trustHints(result).join('; ')}` : '';
  return new VerificationFailedError(
    pick.code,
    `${pick.kind}${by} under the ${policy}: ${pick.message}${others}${hints}`,
  );
}

/**
 * What the level let through, one short line each: Kubernetes shows 256 characters of a
 * warning, so the check, the signer and the statement come first and the detail last.
 */
function policyWarnings(result: PolicyVerification): string[] {
  if (result.level === 'skip') return [];
  const policy = `${result.level} policy "${result.statement.name}"`;
  const out: string[] = [];
  if (result.level === 'audit' && result.verifiedSignatures.length === 0) {
    out.push(
      result.signatures.length === 0
        ? `unsigned; the ${policy} lets it through`
        : `none of its ${result.signatures.length} signatures verified; the ${policy} lets it through`,
    );
  }
  for (const s of result.level === 'audit' ? result.signatures : result.verifiedSignatures) {
    if (s.evaluation === undefined) {
      out.push(
        `signature ${s.manifest.digest} not evaluated (${policy}): ${s.error?.code ?? 'NV2_ERR_INTERNAL'}: ${s.error?.message ?? 'no verdict'}`,
      );
      continue;
    }
    const signer = s.evaluation.signer !== undefined ? ` for "${s.evaluation.signer.subject}"` : '';
    for (const c of s.evaluation.checks) {
      if (c.passed !== false) continue;
      const how = c.action === 'log' ? `logged, not enforced: ${policy}` : policy;
      out.push(`${c.type} check failed${signer} (${how}): ${c.code}: ${c.message ?? 'failed'}`);
    }
  }
  return out;
}

/**
 * Verifies images under the trust policy: the statement whose registry scope covers the
 * image's name decides (its level, trust stores and trusted identities), exactly as
 * `nv2 verify IMAGE` does. The name is the image's own (`docker.io/library/nginx`), also when
 * its bytes come from a mirror. Audit and permissive findings become warnings; level skip
 * admits without looking for signatures.
 */
export class PolicyImageVerifier implements ImageVerifier {
  readonly config: PolicyConfig;
  readonly #registries: RegistryAccess;
  readonly #now: () => Date;
  readonly #maxSignatures: number | undefined;
  readonly #verificationPlugins: VerificationPluginSettings | undefined;

  constructor(
    config: PolicyConfig,
    registries: RegistryAccess,
    options: {
      readonly now?: () => Date;
      readonly maxSignatures?: number;
      readonly verificationPlugins?: VerificationPluginSettings;
    } = {},
  ) {
    this.config = config;
    this.#registries = registries;
    this.#now = options.now ?? (() => new Date());
    this.#maxSignatures = options.maxSignatures;
    this.#verificationPlugins = options.verificationPlugins;
  }

  async verify(image: PinnedReference, signal: AbortSignal): Promise<ImageVerification> {
    signal.throwIfAborted();
    const name = formatReference({
      registry: image.registry,
      repository: image.repository,
      digest: image.digest,
    });
    let result: PolicyVerification;
    try {
      result = await verifyWithPolicy(this.#registries.repository(image), name, this.config, {
        now: this.#now(),
        ...(this.#maxSignatures !== undefined ? { maxSignatures: this.#maxSignatures } : {}),
        ...(this.#verificationPlugins !== undefined
          ? { verificationPlugins: this.#verificationPlugins }
          : {}),
      });
    } catch (err) {
      if (err instanceof PolicyVerificationError) throw refusal(err.result);
      throw err;
    }
    const signer = result.verifiedSignatures[0]?.evaluation?.signer?.subject;
    return {
      digest: result.digest,
      ...(signer !== undefined ? { signer } : {}),
      warnings: policyWarnings(result),
      policy: result.statement.name,
      level: result.level,
    };
  }
}

/**
 * Loads the configuration directory's trust policy and checks, before any review, that every
 * trust store it names exists and that each statement that verifies has a certificate:
 * a misconfigured ConfigMap is found at start-up, not by refusing every Pod.
 *
 * @throws InvalidInputError NV2_ERR_TRUST_POLICY_NOT_FOUND, NV2_ERR_TRUST_POLICY_INVALID,
 *   NV2_ERR_TRUST_STORE_NOT_FOUND, NV2_ERR_INVALID_CERTIFICATE, NV2_ERR_INVALID_ARGUMENT (a
 *   statement whose stores hold no certificate)
 */
export async function loadAdmissionPolicy(configDir: string): Promise<PolicyConfig> {
  let config: PolicyConfig;
  try {
    config = await loadPolicyConfig(configDir);
  } catch (err) {
    if (err instanceof InvalidInputError && err.code === 'NV2_ERR_TRUST_POLICY_NOT_FOUND') {
      throw new InvalidInputError(
        err.code,
        `there is no trust policy at ${join(configDir, TRUST_POLICY_FILE)}: the webhook verifies every image by the statement of its registry scope; put trustpolicy.json in the trust ConfigMap (see deploy/trust.yaml)`,
      );
    }
    throw err;
  }
  for (const statement of config.document.trustPolicies) {
    if (statement.signatureVerification.level === 'skip') continue;
    let certificates = 0;
    for (const value of statement.trustStores ?? []) {
      const ref = parseTrustStoreRef(value);
      try {
        certificates += (await config.trustStore.certificates(ref.type, ref.name)).length;
      } catch (err) {
        if (err instanceof InvalidInputError && err.code === 'NV2_ERR_TRUST_STORE_NOT_FOUND') {
          throw new InvalidInputError(
            err.code,
            `the trust policy statement "${statement.name}" names the trust store ${value}, which does not exist under ${join(configDir, 'truststore/x509', ref.type, ref.name)}/`,
          );
        }
        throw err;
      }
    }
    if (certificates === 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `the trust stores of the trust policy statement "${statement.name}" (${(statement.trustStores ?? []).join(', ') || 'none'}) hold no certificate: no image of its scopes could ever verify`,
      );
    }
  }
  return config;
}

/** What `createImageVerifier` builds a verifier from. */
export interface ImageVerifierOptions {
  /** The configuration directory: `trustpolicy.json` and `truststore/`, as mounted. */
  readonly configDir: string;
  readonly registries: RegistryAccess;
  readonly now?: () => Date;
  /** The most signatures of one image evaluated; default `DEFAULT_MAX_SIGNATURES`. */
  readonly maxSignatures?: number;
  /**
   * Where verification plugins named by a signature are found and what they are told;
   * without, signatures naming one fail (plugin not found).
   */
  readonly verificationPlugins?: VerificationPluginSettings;
}

/**
 * The one place the admission server's verifier is made: from the configuration directory's
 * trust policy and trust store (see `loadAdmissionPolicy` for what is checked up front).
 */
export async function createImageVerifier(
  options: ImageVerifierOptions,
): Promise<PolicyImageVerifier> {
  const config = await loadAdmissionPolicy(options.configDir);
  return new PolicyImageVerifier(config, options.registries, {
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.maxSignatures !== undefined ? { maxSignatures: options.maxSignatures } : {}),
    ...(options.verificationPlugins !== undefined
      ? { verificationPlugins: options.verificationPlugins }
      : {}),
  });
}
