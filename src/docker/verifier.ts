import type { ReadOnlyTarget, ReferrerLister } from '../content/index.js';
import { InvalidInputError } from '../errors.js';
import { type SignatureOutcome, verifyWithPolicy } from '../verification/index.js';
import {
  type PolicyConfig,
  certificatePolicyConfig,
  configDirectory,
  loadPolicyConfig,
  verificationPluginSettings,
} from '../policy/index.js';
import type { Descriptor } from '../oci/index.js';
import {
  TrustSet,
  type VerificationPluginSettings,
  describeFailedCheck,
  enforcedFailures,
} from '../trust/index.js';
import { type Certificate, loadCertificates } from '../x509/index.js';
import { readBoundedFile } from '../content/index.js';
import { type PluginConfig, pluginConfigPath } from './config.js';

/** The verdict on one signature of an image, as the plugin reports it. */
export interface SignatureReport {
  /** The signature manifest's digest. */
  readonly manifest: string;
  readonly verified: boolean;
  /** The signer's subject, when it verified. */
  readonly signer?: string;
  /** The names the signature says the image was published under, when it verified. */
  readonly references: readonly string[];
  /** Why it did not verify. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** What verifying an image established: pull by `subject.digest`. */
export interface PullVerification {
  readonly subject: Descriptor;
  /** Every signature found, each with its verdict; at least one verified (unless a policy's level lets unverified content through). */
  readonly signatures: readonly SignatureReport[];
  /** What the trust policy's level logged rather than enforced (audit, permissive). */
  readonly warnings?: readonly string[];
}

/**
 * Decides whether an image may be pulled. Implementations throw `VerificationFailedError`
 * (no signature, none trusted) or `VerificationInconclusiveError` (the registry could not
 * be read) rather than return an unverified result.
 */
export interface PullVerifier {
  /** Where the trust comes from, for the hint shown when verification fails. */
  readonly trustSource: string;
  /** Verifies what `reference` (a tag or digest) names in `repository`; `image` is its full name. */
  verify(
    repository: ReadOnlyTarget & ReferrerLister,
    reference: string,
    image: string,
  ): Promise<PullVerification>;
}

/** Options of the verifiers. */
export interface VerifierOptions {
  /** Verification time; default now. */
  readonly now?: Date;
  /** The most signatures of one image evaluated; default `DEFAULT_MAX_SIGNATURES` (100). */
  readonly maxSignatures?: number;
}

/** Options of the trust policy verifier. */
export interface PolicyVerifierOptions extends VerifierOptions {
  /** Where verification plugins named by a signature are found; without, such signatures fail. */
  readonly verificationPlugins?: VerificationPluginSettings;
}

/** The most bytes of one certificate file read. */
const MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024;

/** One signature's outcome as the plugin reports it (both verifiers). */
function reportOf(s: SignatureOutcome): SignatureReport {
  const evaluation = s.evaluation;
  const verified = evaluation?.verified === true;
  const signer = evaluation?.signer?.subject;
  const failed =
    evaluation !== undefined
      ? (enforcedFailures(evaluation.checks)[0] ??
        evaluation.checks.find((c) => c.passed === false))
      : undefined;
  const error =
    s.error !== undefined
      ? { code: s.error.code, message: s.error.message }
      : failed !== undefined
        ? {
            code: failed.code ?? 'NV2_ERR_NO_VALID_SIGNATURE',
            message: describeFailedCheck(failed),
          }
        : undefined;
  return {
    manifest: s.manifest.digest,
    verified,
    ...(verified && signer !== undefined ? { signer } : {}),
    references: verified ? (evaluation?.references ?? []) : [],
    ...(!verified && error !== undefined ? { error } : {}),
  };
}

/**
 * Verifies against fixed certificates (`verificationCerts`): CA certificates are trusted as
 * roots, the others as signing certificates trusted as they are; nv2 signatures only. The
 * certificates become a policy (`certificatePolicyConfig`) verified as any other.
 */
export function certificateVerifier(
  certificates: readonly Certificate[],
  options: VerifierOptions & { readonly trustSource?: string } = {},
): PullVerifier {
  const config = certificatePolicyConfig({
    certificates,
    trustSet: new TrustSet({
      certificates: certificates.filter((c) => !c.isCA),
      roots: certificates.filter((c) => c.isCA),
    }),
    nv2Only: true,
  });
  return {
    trustSource: options.trustSource ?? 'the given certificates',
    async verify(repository, reference) {
      const outcome = await verifyWithPolicy(repository, reference, config, {
        ...(options.now !== undefined ? { now: options.now } : {}),
        ...(options.maxSignatures !== undefined ? { maxSignatures: options.maxSignatures } : {}),
      });
      return {
        subject: outcome.subject,
        signatures: outcome.signatures.map(reportOf),
        ...(outcome.warnings.length > 0 ? { warnings: outcome.warnings } : {}),
      };
    },
  };
}

/**
 * Verifies under nv2's trust policy (`trustPolicy: true`): the statement of the image's
 * registry scope decides, exactly as `nv2 verify IMAGE` does.
 */
export function policyVerifier(
  config: PolicyConfig,
  options: PolicyVerifierOptions = {},
): PullVerifier {
  return {
    trustSource: `the trust stores of the trust policy in ${config.directory} (nv2 trust add)`,
    async verify(repository, _reference, image) {
      const result = await verifyWithPolicy(repository, image, config, {
        ...(options.now !== undefined ? { now: options.now } : {}),
        ...(options.maxSignatures !== undefined ? { maxSignatures: options.maxSignatures } : {}),
        ...(options.verificationPlugins !== undefined
          ? { verificationPlugins: options.verificationPlugins }
          : {}),
      });
      return {
        subject: result.subject,
        warnings: result.warnings,
        signatures: result.signatures.map(reportOf),
      };
    },
  };
}

/**
 * The verifier the plugin's configuration asks for. This is the one place a trust-policy
 * based verifier plugs in (`trustPolicy: true`).
 *
 * @throws InvalidInputError NV2_ERR_DOCKER_PLUGIN_CONFIG when verification is enabled with no
 *   trust configured; NV2_ERR_TRUST_POLICY_NOT_FOUND / _INVALID for `trustPolicy: true`
 *   without a usable policy in $NV2_CONFIG_DIR
 */
export async function verifierFor(
  config: PluginConfig,
  configDir: string,
  options: { readonly now?: Date; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<PullVerifier> {
  const path = pluginConfigPath(configDir);
  if (config.trustPolicy) {
    const { env = {}, ...rest } = options;
    return policyVerifier(await loadPolicyConfig(configDirectory(env)), {
      ...rest,
      ...(config.maxSignatures !== undefined ? { maxSignatures: config.maxSignatures } : {}),
      verificationPlugins: verificationPluginSettings(env, {
        ...(config.pluginDirectories !== undefined
          ? { directories: config.pluginDirectories }
          : {}),
        ...(config.pluginConfig !== undefined ? { pluginConfig: config.pluginConfig } : {}),
        ...(config.pluginTimeoutSeconds !== undefined
          ? { timeoutMs: config.pluginTimeoutSeconds * 1000 }
          : {}),
      }),
    });
  }
  if (config.verificationCerts.length === 0) {
    throw new InvalidInputError(
      'NV2_ERR_DOCKER_PLUGIN_CONFIG',
      `${path}: verification is enabled but verificationCerts is empty: add the PEM files of the certificates to trust`,
    );
  }
  const certificates: Certificate[] = [];
  for (const file of config.verificationCerts) {
    certificates.push(
      ...loadCertificates(
        await readBoundedFile(file, MAX_CERTIFICATE_FILE_BYTES, 'verification certificate'),
        file,
      ),
    );
  }
  return certificateVerifier(certificates, {
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(config.maxSignatures !== undefined ? { maxSignatures: config.maxSignatures } : {}),
    trustSource: `verificationCerts in ${path}`,
  });
}
