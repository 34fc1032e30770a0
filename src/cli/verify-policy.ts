/**
 * Verification of a stored artifact for the commands that do it (`verify`, `pull`): by the
 * trust policy of $NV2_CONFIG_DIR, or by certificates made into a policy (`verify -c`); the
 * flags they share, and the call that prints warnings, the summary and `--explain`.
 */
import type { ReadOnlyTarget, ReferrerLister } from '../content/index.js';
import { InvalidInputError } from '../errors.js';
import {
  type PolicyVerification,
  PolicyVerificationError,
  verifyWithPolicy,
} from '../verification/index.js';
import { type PolicyConfig, configDirectory, loadPolicyConfig } from '../policy/index.js';
import { verificationPluginSettings } from './commands/key.js';
import { parseTime } from './duration.js';
import { type OutputFormat, warn } from './output.js';
import { type OpenedTarget, requireReference } from './target.js';
import { parseUserMetadata } from './user-metadata.js';
import { explain, summary } from './verification-output.js';

/** Flags of commands that verify by the trust policy. */
export interface PolicyFlags {
  at?: string;
  /** `KEY=VALUE` user metadata the signature must carry. */
  userMetadata?: string[];
  explain?: boolean;
  scope?: string;
  output?: OutputFormat;
  /** The most signatures evaluated (`--max-signatures`). */
  maxSignatures?: number;
  /** `KEY=VALUE` configuration for verification plugins. */
  pluginConfig?: string[];
  pluginTimeout?: string;
}

/** The reference whose policy applies to an opened target: the registry name, or --scope for a layout. */
function policyReference(opened: OpenedTarget, flags: PolicyFlags): string {
  const reference = requireReference(opened);
  const pin = reference.includes(':') ? `@${reference}` : `:${reference}`;
  if (flags.scope !== undefined) {
    return `${flags.scope}${pin}`;
  }
  if (!opened.remote) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `which trust policy applies to ${opened.name}? Name its repository with --scope REGISTRY/REPOSITORY (or verify with -c/--ca-cert)`,
    );
  }
  return opened.name;
}

/**
 * Verifies an opened target under the trust policy of $NV2_CONFIG_DIR (or `config`: the
 * certificates of `verify -c`, whose one statement takes the target's tag or digest),
 * printing warnings and the summary (with --explain the whole decision) on standard error.
 * Shared by `verify` and `pull`.
 */
export async function verifyByPolicy(
  opened: OpenedTarget,
  flags: PolicyFlags,
  signatureTarget?: ReadOnlyTarget & ReferrerLister,
  config?: PolicyConfig,
): Promise<PolicyVerification> {
  const now = flags.at !== undefined ? parseTime(flags.at) : new Date();
  const policy = config ?? (await loadPolicyConfig(configDirectory(process.env)));
  const reference =
    policy.source === 'certificates' ? requireReference(opened) : policyReference(opened, flags);
  let result: PolicyVerification;
  try {
    const userMetadata = parseUserMetadata(flags.userMetadata ?? []);
    result = await verifyWithPolicy(opened.target, reference, policy, {
      now,
      verificationPlugins: verificationPluginSettings(flags),
      ...(Object.keys(userMetadata).length > 0 ? { userMetadata } : {}),
      ...(flags.maxSignatures !== undefined ? { maxSignatures: flags.maxSignatures } : {}),
      ...(signatureTarget !== undefined ? { signatureTarget } : {}),
    });
  } catch (err) {
    if (err instanceof PolicyVerificationError && flags.explain === true && flags.output !== 'json')
      process.stderr.write(explain(err.result));
    throw err;
  }
  if (flags.output !== 'json') {
    for (const warning of result.warnings) warn(warning);
    if (flags.explain === true) process.stderr.write(explain(result));
    else if (result.level !== 'skip') process.stderr.write(summary(result));
  }
  return result;
}
