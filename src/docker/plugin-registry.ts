import type { Writable } from 'node:stream';
import { VerificationFailedError } from '../errors.js';
import { PolicyVerificationError } from '../verification/index.js';
import { type Reference, formatReference, registryHostname } from '../oci/index.js';
import {
  Repository,
  createRegistryClient,
  defaultCredentials,
  proxyFromEnv,
} from '../remote/index.js';
import type { RegistryClient } from '../remote/index.js';
import type { PluginConfig } from './config.js';
import type { DockerCommand } from './docker-command.js';
import type { PullVerification, PullVerifier } from './verifier.js';

/**
 * What the plugin's commands share to reach registries and judge what they hold: the context
 * the plugin runs with, a registry client configured as docker's, verification by the
 * configured verifier, and its report and refusals.
 */

/** What the plugin runs with: its output streams, environment and docker. */
export interface PluginContext {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** nv2's version, for the plugin metadata. */
  readonly version: string;
  /** The docker client; default the one `createDockerCommand(env)` names. */
  readonly docker?: DockerCommand;
  /** Chooses the verifier for a configuration; default `verifierFor`. */
  readonly verifier?: (config: PluginConfig, configDir: string) => Promise<PullVerifier>;
}

export function repositoryName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

export const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export function registryClient(config: PluginConfig, env: PluginContext['env']): RegistryClient {
  return createRegistryClient({
    credentials: defaultCredentials({ env }),
    proxy: proxyFromEnv(env),
    // As docker: the registries listed as insecure, and loopback ones, speak plain HTTP.
    plainHttp: (registry) =>
      config.insecureRegistries.includes(registry) ||
      LOOPBACK.has(registryHostname(registry).toLowerCase()),
  });
}

export async function withRepository<T>(
  config: PluginConfig,
  env: PluginContext['env'],
  ref: Reference,
  task: (repository: Repository) => Promise<T>,
): Promise<T> {
  const client = registryClient(config, env);
  try {
    return await task(Repository.fromReference(ref, { client }));
  } finally {
    await client.close();
  }
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Adds what to do next to a refusal, keeping the error's code and class. */
export function refusal(
  err: VerificationFailedError,
  action: string,
  image: string,
  verifier: PullVerifier,
): Error {
  const hint =
    err.code === 'NV2_ERR_NO_SIGNATURE'
      ? '; ask its publisher for a signed image, or switch verification off with docker nv2 notary --enabled=false'
      : err instanceof PolicyVerificationError && err.result.hints.length > 0
        ? '' // The policy's error already says where the signer's issuer is published.
        : `; to trust its signer, add the signer's certificate (or its CA's) to ${verifier.trustSource}`;
  return new VerificationFailedError(
    err.code,
    `refusing to ${action} ${image}: ${err.message}${hint}`,
    { cause: err },
  );
}

/** Writes what verification found, one line per signature. */
export function report(out: Writable, image: string, verification: PullVerification): void {
  const { signatures } = verification;
  const verified = signatures.filter((s) => s.verified);
  for (const warning of verification.warnings ?? []) out.write(`nv2: warning: ${warning}\n`);
  out.write(
    `nv2: ${image}: ${plural(signatures.length, 'signature')} found, ${verified.length} verified\n`,
  );
  for (const s of signatures) {
    if (s.verified) {
      const refs = s.references.length > 0 ? s.references.join(', ') : '(none)';
      out.write(
        `nv2:   ${s.manifest}: verified, signed by ${s.signer ?? '?'}; references: ${refs}\n`,
      );
    } else {
      out.write(
        `nv2:   ${s.manifest}: not verified: ${s.error?.code ?? ''}: ${s.error?.message ?? ''}\n`,
      );
    }
  }
}

/**
 * Verifies what `ref` names in its registry (its digest, else its tag) as `docker nv2 pull`
 * does; a refusal names `action` and says what to do.
 */
export async function verifyInRegistry(
  ref: Reference,
  image: string,
  action: string,
  config: PluginConfig,
  context: Required<PluginContext>,
  verifier: PullVerifier,
): Promise<PullVerification> {
  const reference = ref.digest ?? ref.tag ?? 'latest';
  return withRepository(config, context.env, ref, async (repository) => {
    try {
      return await verifier.verify(repository, reference, formatReference(ref));
    } catch (err) {
      if (err instanceof VerificationFailedError) throw refusal(err, action, image, verifier);
      throw err;
    }
  });
}
