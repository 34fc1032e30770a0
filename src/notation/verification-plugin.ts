/**
 * Verification plugins (Notary Project plugin specification, `verify-signature`): a signature
 * whose signed attributes name `io.cncf.notary.verificationPlugin` is verified in part by that
 * plugin, as notation does it. The plugin must be installed, at least
 * `io.cncf.notary.verificationPluginMinVersion` (semantic versions), and have a
 * `SIGNATURE_VERIFIER.*` capability; it then answers for the trusted identity and/or the
 * revocation check in place of nv2, and must process every critical extended attribute.
 */
import { type Nv2ErrorCode, isNv2Error } from '../errors.js';
import {
  CONTRACT_VERSION,
  type Plugin,
  type PluginMetadata,
  findPlugin,
} from '../plugins/index.js';
import type { EvaluationPolicy, VerificationPluginSettings } from '../trust/index.js';
import { NOTARY_SIGNED_HEADERS } from './constants.js';
import type { NotationEnvelope } from './envelope.js';

export const TRUSTED_IDENTITY = 'SIGNATURE_VERIFIER.TRUSTED_IDENTITY';
export const REVOCATION_CHECK = 'SIGNATURE_VERIFIER.REVOCATION_CHECK';
export type VerifierCapability = typeof TRUSTED_IDENTITY | typeof REVOCATION_CHECK;

/** Why a verification plugin could not be used or run: a typed code and one line. */
export class PluginProblem {
  constructor(
    readonly code: Nv2ErrorCode,
    readonly message: string,
  ) {}
}

/** A verification plugin found, new enough, with the verifier capabilities it has. */
export interface ReadyVerificationPlugin {
  readonly plugin: Plugin;
  readonly version: string;
  readonly capabilities: readonly VerifierCapability[];
}

/** One capability's answer: `success` and, when it failed, the plugin's reason. */
export interface PluginVerificationResult {
  readonly success: boolean;
  readonly reason?: string;
}

/** What `verify-signature` answered, checked against what was asked. */
export interface PluginVerdict {
  readonly results: ReadonlyMap<VerifierCapability, PluginVerificationResult>;
}

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Whether `version` is a semantic version (2.0.0), as notation requires of plugin versions. */
export function isSemver(version: string): boolean {
  return SEMVER.test(version);
}

/** Semantic-version precedence of two valid versions: negative, zero or positive. */
export function compareSemver(a: string, b: string): number {
  const parse = (v: string): [bigint[], string[]] => {
    const m = SEMVER.exec(v)!;
    return [[BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!)], m[4]?.split('.') ?? []];
  };
  const [coreA, preA] = parse(a);
  const [coreB, preB] = parse(b);
  for (let i = 0; i < 3; i++) {
    if (coreA[i] !== coreB[i]) return coreA[i]! < coreB[i]! ? -1 : 1;
  }
  // A pre-release ranks below its release; identifiers compare numerically or in ASCII.
  if (preA.length === 0 || preB.length === 0) return preB.length - preA.length;
  for (let i = 0; i < Math.min(preA.length, preB.length); i++) {
    const x = preA[i]!;
    const y = preB[i]!;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return BigInt(x) < BigInt(y) ? -1 : 1;
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return preA.length - preB.length;
}

function problemOf(err: unknown, name: string): PluginProblem {
  if (isNv2Error(err)) return new PluginProblem(err.code, err.message);
  return new PluginProblem(
    'NV2_ERR_PLUGIN_FAILED',
    `plugin ${name}: ${err instanceof Error ? err.message : String(err)}`,
  );
}

/**
 * Finds the plugin a signature names and checks it can verify it: installed, metadata valid,
 * version a semantic version at least the signature's minimum, a verifier capability.
 */
export async function prepareVerificationPlugin(
  envelope: NotationEnvelope,
  settings: VerificationPluginSettings | undefined,
): Promise<ReadyVerificationPlugin | PluginProblem> {
  const name = envelope.verificationPlugin!;
  const minVersion = envelope.verificationPluginMinVersion;
  if (minVersion !== undefined && !isSemver(minVersion)) {
    return new PluginProblem(
      'NV2_ERR_PLUGIN_TOO_OLD',
      `signature requires verification plugin "${name}" version "${minVersion}", which is not a semantic version`,
    );
  }
  let plugin: Plugin;
  try {
    plugin = await findPlugin(name, settings?.directories ?? [], settings?.timeoutMs);
  } catch (err) {
    const found = problemOf(err, name);
    return new PluginProblem(
      found.code,
      `signature requires verification plugin "${name}", which is not installed: ${found.message}`,
    );
  }
  let metadata: PluginMetadata;
  try {
    metadata = await plugin.metadata(settings?.pluginConfig ?? {});
  } catch (err) {
    return problemOf(err, name);
  }
  if (!isSemver(metadata.version)) {
    return new PluginProblem(
      'NV2_ERR_PLUGIN_INVALID_RESPONSE',
      `plugin ${name} has version "${metadata.version}", which is not a semantic version`,
    );
  }
  if (minVersion !== undefined && compareSemver(metadata.version, minVersion) < 0) {
    return new PluginProblem(
      'NV2_ERR_PLUGIN_TOO_OLD',
      `plugin ${name} is version ${metadata.version}, but the signature requires version ${minVersion} or later`,
    );
  }
  const capabilities = metadata.capabilities.filter(
    (c): c is VerifierCapability => c === TRUSTED_IDENTITY || c === REVOCATION_CHECK,
  );
  if (capabilities.length === 0) {
    return new PluginProblem(
      'NV2_ERR_PLUGIN_CAPABILITY',
      `plugin ${name} cannot verify signatures: it has neither ${TRUSTED_IDENTITY} nor ${REVOCATION_CHECK}`,
    );
  }
  return { plugin, version: metadata.version, capabilities };
}

/** Critical signed attributes that are not the specification's own: the plugin must process them. */
export function criticalExtendedAttributes(envelope: NotationEnvelope): string[] {
  return envelope.critical.filter((name) => !NOTARY_SIGNED_HEADERS.includes(name));
}

/** The `verify-signature` request, member for member as the specification writes it. */
export function verifySignatureRequest(
  envelope: NotationEnvelope,
  capabilities: readonly VerifierCapability[],
  policy: Pick<EvaluationPolicy, 'trustedIdentities'>,
  pluginConfig: Readonly<Record<string, string>>,
): unknown {
  const unprocessed = criticalExtendedAttributes(envelope);
  return {
    contractVersion: CONTRACT_VERSION,
    signature: {
      criticalAttributes: {
        contentType: envelope.contentType,
        signingScheme: envelope.signingScheme,
        ...(envelope.expiry !== undefined ? { expiry: envelope.expiry.toISOString() } : {}),
        ...(envelope.signingScheme === 'notary.x509.signingAuthority' &&
        envelope.authenticSigningTime !== undefined
          ? { authenticSigningTime: envelope.authenticSigningTime.toISOString() }
          : {}),
        extendedAttributes: Object.fromEntries(
          unprocessed.map((name) => [name, envelope.extendedAttributes[name]]),
        ),
      },
      unprocessedAttributes: unprocessed,
      certificateChain: envelope.certificateChain.map((c) => Buffer.from(c.der).toString('base64')),
    },
    trustPolicy: {
      trustedIdentities: policy.trustedIdentities ?? [],
      signatureVerification: capabilities,
    },
    pluginConfig,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Sends `verify-signature` and checks the answer: a result for every capability asked, and
 * every critical extended attribute among `processedAttributes`.
 */
export async function runVerificationPlugin(
  ready: ReadyVerificationPlugin,
  envelope: NotationEnvelope,
  capabilities: readonly VerifierCapability[],
  policy: Pick<EvaluationPolicy, 'trustedIdentities' | 'verificationPlugins'>,
): Promise<PluginVerdict | PluginProblem> {
  const name = ready.plugin.name;
  const command = 'verify-signature';
  let response: Record<string, unknown>;
  try {
    response = await ready.plugin.run(
      command,
      verifySignatureRequest(
        envelope,
        capabilities,
        policy,
        policy.verificationPlugins?.pluginConfig ?? {},
      ),
    );
  } catch (err) {
    return problemOf(err, name);
  }
  const invalid = (what: string): PluginProblem =>
    new PluginProblem('NV2_ERR_PLUGIN_INVALID_RESPONSE', `plugin ${name}: ${command} ${what}`);
  const processed = response['processedAttributes'] ?? [];
  if (!Array.isArray(processed) || !processed.every((p) => typeof p === 'string')) {
    return invalid('response has no "processedAttributes" list of strings');
  }
  for (const attribute of criticalExtendedAttributes(envelope)) {
    if (!processed.includes(attribute)) {
      return new PluginProblem(
        'NV2_ERR_PLUGIN_UNPROCESSED_ATTRIBUTE',
        `critical attribute "${attribute}" was not processed by verification plugin ${name} (every critical extended attribute must be)`,
      );
    }
  }
  const all = response['verificationResults'];
  if (!isRecord(all)) return invalid('response has no "verificationResults" object');
  const results = new Map<VerifierCapability, PluginVerificationResult>();
  for (const capability of capabilities) {
    const result = all[capability];
    if (result === undefined) {
      return invalid(`answered no result for ${capability}, which it was asked to verify`);
    }
    if (!isRecord(result) || typeof result['success'] !== 'boolean') {
      return invalid(`result for ${capability} has no "success" boolean`);
    }
    const reason = typeof result['reason'] === 'string' ? result['reason'] : undefined;
    results.set(capability, {
      success: result['success'],
      ...(reason !== undefined ? { reason } : {}),
    });
  }
  return { results };
}
