/**
 * Turns a command-line argument into a content Target: `oci-layout:DIR[:TAG|@DIGEST]`, or a
 * registry reference (plain, `docker://REF` or `oci://REF`). `file:` targets are offline
 * manifests, handled by `sign`/`verify` themselves. The registry client is loaded
 * only when a registry reference is opened, so that offline commands start fast.
 */
import type { Command } from 'commander';
import type { ReferrerLister, Target } from '../content/index.js';
import { openOciLayout, parseOciLayoutLocator } from '../content/index.js';
import { InvalidInputError } from '../errors.js';
import { formatReference, parseReference, withDefaultTag } from '../oci/index.js';
import type { ManifestPreference, RegistryClient } from '../remote/index.js';
import { warn } from './output.js';

/** Flags every command that talks to a registry takes. */
export interface RemoteFlags {
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
  /** Where signatures are looked up (`--signature-repository`), else NV2_SIGNATURE_REPOSITORY. */
  signatureRepository?: string;
}

/** The environment variable naming a signature repository (cosign's `COSIGN_REPOSITORY`). */
export const SIGNATURE_REPOSITORY_ENV = 'NV2_SIGNATURE_REPOSITORY';

/** Adds the registry flags (`--plain-http`, `--insecure`, `--ca-file`, `-u`, `-p`) to a command. */
export function addRemoteOptions(command: Command): Command {
  return command
    .option('--plain-http', 'use HTTP, not HTTPS (automatic for localhost and 127.0.0.1)')
    .option('--insecure', 'accept any TLS certificate from the registry (test registries only)')
    .option('--ca-file <file>', 'PEM file of CA certificates to trust for the registry')
    .option('-u, --username <user>', 'registry username (else NV2_USERNAME, else docker config)')
    .option('-p, --password <password>', 'registry password (insecure: prefer NV2_PASSWORD)');
}

/** A target opened from an argument. */
export interface OpenedTarget {
  readonly target: Target & ReferrerLister;
  /** The tag or digest the argument named, if any. */
  readonly reference: string | undefined;
  /** The argument, normalized, for messages. */
  readonly name: string;
  /** Whether it is a registry repository. */
  readonly remote: boolean;
}

/** Options of `TargetOpener.open`. */
interface OpenOptions {
  /** Create an OCI layout directory when missing (copy destinations). */
  readonly create?: boolean;
}

/** Opens targets for one command run; they share one registry client. */
export interface TargetOpener {
  open(argument: string, options?: OpenOptions): Promise<OpenedTarget>;
  /** The registry client, created on first use. */
  client(): Promise<RegistryClient>;
  close(): Promise<void>;
}

function fileTarget(argument: string): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_INVALID_TARGET',
    `${JSON.stringify(argument)} is an offline file; this command needs a registry reference or oci-layout:DIR[:TAG|@DIGEST]`,
  );
}

/** A registry reference argument without its prefix, and the manifest form the prefix prefers. */
interface RegistryArgument {
  readonly reference: string;
  /** `oci://` prefers OCI manifest media types, `docker://` Docker ones; none without a prefix. */
  readonly preference?: ManifestPreference;
}

/**
 * The registry reference an argument names: `docker://REF` and `oci://REF` (the prototype's
 * forms) ask the registry for Docker resp. OCI manifest media types first, plain `REF` for
 * either alike; a registry that holds only the other form still answers with it.
 */
function parseRegistryArgument(argument: string): RegistryArgument {
  for (const [prefix, preference] of [
    ['docker://', 'docker'],
    ['oci://', 'oci'],
  ] as const) {
    if (argument.startsWith(prefix))
      return { reference: argument.slice(prefix.length), preference };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(argument)?.[1];
  if (scheme !== undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_TARGET',
      `unsupported target ${JSON.stringify(argument)}: use REF, docker://REF, oci://REF or oci-layout:DIR[:TAG|@DIGEST]`,
    );
  }
  return { reference: argument };
}

/** The registry reference an argument names: `docker://` and `oci://` prefixes stripped. */
export function registryReference(argument: string): string {
  return parseRegistryArgument(argument).reference;
}

/** Credentials given as `USER:PASSWORD` (`--src-creds`, `--dest-creds`, as skopeo takes them). */
export interface Creds {
  readonly username: string;
  readonly password: string;
}

/** Commander parser of a `USER:PASSWORD` option. */
export function parseCreds(value: string): Creds {
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'credentials must be USER:PASSWORD, both non-empty',
    );
  }
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

/** Adds `--signature-repository` (where signatures are looked up) to a command. */
export function addSignatureRepositoryOption(
  command: Command,
  what = 'look for signatures in this repository',
): Command {
  return command.option(
    '--signature-repository <repo>',
    `${what} (REPO or oci-layout:DIR), not beside the artifact; else $${SIGNATURE_REPOSITORY_ENV}`,
  );
}

/** The signature repository a command run names: the flag, else $NV2_SIGNATURE_REPOSITORY. */
export function signatureRepositoryOf(
  flags: RemoteFlags,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const named = flags.signatureRepository ?? env[SIGNATURE_REPOSITORY_ENV];
  return named === undefined || named === '' ? undefined : named;
}

/**
 * Opens the signature repository of a command run, when one is named: a registry repository
 * (a tag or digest in the name is ignored) or an OCI layout. Undefined when none is named, so
 * signatures are looked up beside the artifact.
 *
 * @example
 * const signatures = await openSignatureRepository(opener, flags);
 * await listSignatures(opened.target, subject, signatures ? { signatureTarget: signatures.target } : {});
 */
export async function openSignatureRepository(
  opener: TargetOpener,
  flags: RemoteFlags,
  options: OpenOptions = {},
): Promise<OpenedTarget | undefined> {
  const named = signatureRepositoryOf(flags);
  return named === undefined ? undefined : opener.open(named, options);
}

/** Creates a target opener for a command's flags. */
function createTargetOpener(flags: RemoteFlags): TargetOpener {
  let client: Promise<RegistryClient> | undefined;
  let warned = false;
  // -u/-p apply to every registry the command talks to (copy: source and destination).
  const getClient = (): Promise<RegistryClient> => {
    if (flags.password !== undefined && !warned) {
      warned = true;
      warn('a password on the command line is visible to other users; prefer NV2_PASSWORD');
    }
    client ??= (async () => {
      const remote = await import('../remote/index.js');
      return remote.createRegistryClient({
        credentials: remote.defaultCredentials({
          username: flags.username,
          password: flags.password,
          env: process.env,
        }),
        ...(flags.plainHttp === true ? { plainHttp: true } : {}),
        insecure: flags.insecure === true,
        caFile: flags.caFile,
        proxy: remote.proxyFromEnv(process.env),
      });
    })();
    return client;
  };
  return {
    client: () => getClient(),
    async open(argument, options = {}) {
      if (argument === '-' || argument.startsWith('file:')) throw fileTarget(argument);
      if (argument.startsWith('oci-layout:')) {
        const locator = parseOciLayoutLocator(argument);
        const target = await openOciLayout(locator.dir, { create: options.create === true });
        return { target, reference: locator.reference, name: argument, remote: false };
      }
      const parsed = parseRegistryArgument(argument);
      const ref = withDefaultTag(parseReference(parsed.reference));
      const remote = await import('../remote/index.js');
      const target = remote.Repository.fromReference(ref, {
        client: await getClient(),
        ...(parsed.preference !== undefined ? { manifestPreference: parsed.preference } : {}),
      });
      return {
        target,
        reference: ref.digest ?? ref.tag,
        name: formatReference(ref),
        remote: true,
      };
    },
    async close() {
      if (client !== undefined) await (await client).close();
    },
  };
}

/** Requires that an opened target names a tag or digest. */
export function requireReference(opened: OpenedTarget): string {
  if (opened.reference === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_TARGET',
      `${opened.name} names no tag or digest: add :TAG or @DIGEST`,
    );
  }
  return opened.reference;
}

/** Opens targets, runs `task`, and closes the registry client whatever happens. */
export async function withTargets<T>(
  flags: RemoteFlags,
  task: (opener: TargetOpener) => Promise<T>,
): Promise<T> {
  const opener = createTargetOpener(flags);
  try {
    return await task(opener);
  } finally {
    await opener.close();
  }
}
