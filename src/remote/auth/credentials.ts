import { InvalidInputError } from '../../errors.js';
import { dockerConfigCredential } from './docker-config.js';
import type { DockerConfigOptions } from './docker-config.js';
import type { CredentialProvider, Env } from './credential.js';

/**
 * Where registry credentials come from: a chain of providers, asked in order, the first answer
 * wins. The default chain is what the CLI offers: `-u/-p`, then `NV2_USERNAME`/`NV2_PASSWORD`,
 * then docker's config (`docker login` and credential helpers).
 *
 * Library code never reads `process.env`: faces pass the environment in (`env: process.env`),
 * so tests and embedders decide what it holds.
 */

function requirePair(
  username: string | undefined,
  password: string | undefined,
  what: string,
): { username: string; password: string } | undefined {
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || username === '' || password === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${what}: give both a username and a password, or neither`,
    );
  }
  return { username, password };
}

/**
 * The same username and password for every registry, or only for `registries` when given
 * (as `-u/-p` apply to the registry of the reference on the command line).
 *
 * @example staticCredentials('alice', secret, ['registry.example.com'])
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT for an empty username
 */
export function staticCredentials(
  username: string,
  password: string,
  registries?: readonly string[],
): CredentialProvider {
  const pair = requirePair(username, password, 'credentials')!;
  return (registry) =>
    Promise.resolve(
      registries === undefined || registries.includes(registry) ? { ...pair } : undefined,
    );
}

/**
 * `NV2_USERNAME` and `NV2_PASSWORD` from `env`, for every registry (CI systems pass secrets
 * this way).
 *
 * @example envCredentials(process.env)
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT when only one of the two is set
 */
export function envCredentials(env: Env): CredentialProvider {
  const pair = requirePair(env['NV2_USERNAME'], env['NV2_PASSWORD'], 'NV2_USERNAME/NV2_PASSWORD');
  return () => Promise.resolve(pair !== undefined ? { ...pair } : undefined);
}

/**
 * Docker's credentials: `credHelpers`, `credsStore` or `auths` of
 * `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), read at each call.
 *
 * @example dockerConfigCredentials({ env: process.env })
 */
export function dockerConfigCredentials(options: DockerConfigOptions): CredentialProvider {
  return (registry) => dockerConfigCredential(registry, options);
}

/** Asks each provider in turn; the first that has credentials wins. */
export function chainCredentials(...providers: readonly CredentialProvider[]): CredentialProvider {
  return async (registry) => {
    for (const provider of providers) {
      const credential = await provider(registry);
      if (credential !== undefined) return credential;
    }
    return undefined;
  };
}

/** Options of `defaultCredentials`. */
export interface DefaultCredentialsOptions extends DockerConfigOptions {
  /** `-u`: with `password`, used before anything else. */
  readonly username?: string | undefined;
  /** `-p`. */
  readonly password?: string | undefined;
  /** Registries `username`/`password` apply to; all when not given. */
  readonly registries?: readonly string[];
}

/**
 * The CLI's chain: explicit username/password, then `NV2_USERNAME`/`NV2_PASSWORD` from `env`,
 * then docker's config.
 *
 * @example
 * const credentials = defaultCredentials({ username: flags.username, password: flags.password, env: process.env });
 * const client = createRegistryClient({ credentials });
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT when only a username or only a password is given
 */
export function defaultCredentials(options: DefaultCredentialsOptions): CredentialProvider {
  const providers: CredentialProvider[] = [];
  const pair = requirePair(options.username, options.password, 'credentials (-u/-p)');
  if (pair !== undefined) {
    providers.push(staticCredentials(pair.username, pair.password, options.registries));
  }
  providers.push(envCredentials(options.env), dockerConfigCredentials(options));
  return chainCredentials(...providers);
}
