import {
  InvalidInputError,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../errors.js';
import { pushSignature } from '../notary/index.js';
import { type Descriptor, type Digest, type Reference, parseReference } from '../oci/index.js';
import {
  type PluginConfig,
  dockerConfigDir,
  loadPluginConfig,
  savePluginConfig,
} from './config.js';
import { type DockerCommand, createDockerCommand } from './docker-command.js';
import { parseRunArguments, withImage } from './run-args.js';
import { allKeptSignatures, keptSignatures } from './keeper.js';
import { METADATA_COMMAND, PLUGIN_NAME, pluginMetadata } from './metadata.js';
import { type PullVerification, type PullVerifier, verifierFor } from './verifier.js';
import { USAGE, parseFlags, splitImageArgs, wantsHelp } from './plugin-args.js';
import type { PluginContext } from './plugin-registry.js';
import { report, repositoryName, verifyInRegistry, withRepository } from './plugin-registry.js';
import { signImage } from './plugin-sign.js';

/**
 * The `docker nv2` commands: pull, run and create, push and notary, and everything else passed
 * to docker unchanged. Their arguments are read in plugin-args.ts, registries reached and
 * verifications reported in plugin-registry.ts, images signed in plugin-sign.ts.
 */

async function pull(
  args: readonly string[],
  context: Required<PluginContext>,
  configDir: string,
): Promise<number> {
  const config = await loadPluginConfig(configDir);
  if (!config.enabled || wantsHelp(args)) return context.docker.run(['pull', ...args]);
  const { flags, image } = splitImageArgs('pull', args);
  if (flags.some((f) => f === '-a' || f === '--all-tags' || f.startsWith('--all-tags='))) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'docker nv2 pull verifies one image: name each tag instead of --all-tags',
    );
  }
  const ref = parseReference(image);
  const verifier = await context.verifier(config, configDir);
  const verification = await verifyInRegistry(ref, image, 'pull', config, context, verifier);
  report(context.stderr, image, verification);
  const pinned = `${repositoryName(ref)}@${verification.subject.digest}`;
  context.stderr.write(`nv2: pulling ${pinned}\n`);
  const code = await context.docker.run(['pull', ...flags, pinned]);
  if (code !== 0 || ref.digest !== undefined) return code;
  return context.docker.run(['tag', pinned, image]);
}

/**
 * The registry digests docker knows for the local image `image` in `ref`'s repository
 * (`docker image inspect` RepoDigests), or undefined when docker has no such image.
 */
async function localRepoDigests(
  docker: DockerCommand,
  image: string,
  ref: Reference,
): Promise<Digest[] | undefined> {
  const inspected = await docker.capture([
    'image',
    'inspect',
    '--format',
    '{{json .RepoDigests}}',
    image,
  ]);
  if (inspected.code !== 0) return undefined;
  let listed: unknown;
  try {
    listed = JSON.parse(inspected.stdout.trim() || 'null');
  } catch {
    throw new VerificationInconclusiveError(
      'NV2_ERR_DOCKER_COMMAND',
      `docker image inspect ${image} printed no JSON list of repository digests`,
    );
  }
  const digests: Digest[] = [];
  for (const entry of Array.isArray(listed) ? listed : []) {
    if (typeof entry !== 'string') continue;
    let named: Reference;
    try {
      named = parseReference(entry);
    } catch {
      continue;
    }
    if (
      named.digest !== undefined &&
      named.registry === ref.registry &&
      named.repository === ref.repository &&
      !digests.includes(named.digest)
    ) {
      digests.push(named.digest);
    }
  }
  return digests;
}

/**
 * Verifies a local image by the registry digests docker recorded for it: the first that
 * verifies is what runs. An image with none (built or loaded here) cannot be verified.
 */
async function verifyLocal(
  ref: Reference,
  image: string,
  action: string,
  digests: readonly Digest[],
  config: PluginConfig,
  context: Required<PluginContext>,
  verifier: PullVerifier,
): Promise<PullVerification> {
  if (digests.length === 0) {
    throw new VerificationFailedError(
      'NV2_ERR_NO_SIGNATURE',
      `refusing to ${action} ${image}: the local image has no digest from ${repositoryName(ref)} (it was built or loaded here, never pulled or pushed), so it has no signatures to verify; push and sign it, or switch verification off with docker nv2 notary --enabled=false`,
    );
  }
  const { tag: _tag, ...repository } = ref;
  let first: unknown;
  for (const digest of digests) {
    try {
      const pinned = { ...repository, digest };
      return await verifyInRegistry(pinned, image, action, config, context, verifier);
    } catch (err) {
      first ??= err;
    }
  }
  throw first;
}

/**
 * `docker run` / `docker create`: verifies the image the container is made from (the local
 * one by its registry digest, unless `--pull=always`; else what the registry holds), then
 * hands docker the verified `NAME@DIGEST` in place of the image argument.
 */
async function runContainer(
  command: 'run' | 'create',
  prefix: readonly string[],
  args: readonly string[],
  context: Required<PluginContext>,
  configDir: string,
): Promise<number> {
  const config = await loadPluginConfig(configDir);
  if (!config.enabled) return context.docker.run([...prefix, ...args]);
  const parsed = parseRunArguments(command, args);
  if (parsed.help) return context.docker.run([...prefix, ...args]);
  const { image } = parsed;
  const ref = parseReference(image);
  const verifier = await context.verifier(config, configDir);
  const local =
    parsed.pull === 'always' ? undefined : await localRepoDigests(context.docker, image, ref);
  // Not here and not to be pulled: docker says so, and runs nothing.
  if (local === undefined && parsed.pull === 'never') {
    return context.docker.run([...prefix, ...args]);
  }
  const verification =
    local !== undefined
      ? await verifyLocal(ref, image, command, local, config, context, verifier)
      : await verifyInRegistry(ref, image, command, config, context, verifier);
  report(context.stderr, image, verification);
  const pinned = `${repositoryName(ref)}@${verification.subject.digest}`;
  context.stderr.write(`nv2: ${command === 'run' ? 'running' : 'creating'} ${pinned}\n`);
  return context.docker.run([...prefix, ...withImage(parsed, pinned)]);
}

/** `<tag>: digest: sha256:… size: N`, the line docker push ends with, one per tag pushed. */
const PUSHED = /^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)\s*$/gm;

async function push(
  args: readonly string[],
  context: Required<PluginContext>,
  configDir: string,
): Promise<number> {
  if (wantsHelp(args)) return context.docker.run(['push', ...args]);
  const { image } = splitImageArgs('push', args);
  const ref = parseReference(image);
  const result = await context.docker.runCapturing(['push', ...args], context.stdout);
  if (result.code !== 0) return result.code;
  const pushed = [...result.stdout.matchAll(PUSHED)].map((m) => ({
    tag: m[1]!,
    digest: m[2]! as Digest,
    size: Number(m[3]),
  }));
  if (pushed.length === 0) {
    throw new VerificationInconclusiveError(
      'NV2_ERR_DOCKER_COMMAND',
      `docker push ${image} succeeded but printed no "digest: sha256:… size: N" line; no signatures were pushed (push them with docker nv2 push without --quiet)`,
    );
  }
  const config = await loadPluginConfig(configDir);
  const out = context.stderr;
  for (const { tag, digest, size } of pushed) {
    const kept = (await keptSignatures(configDir, digest)).filter((s) => s.subject.size === size);
    if (kept.length === 0) {
      out.write(
        `nv2: no signatures kept for ${repositoryName(ref)}:${tag} (${digest}): pushed without signatures\n`,
      );
      const elsewhere = (await allKeptSignatures(configDir)).filter(
        (s) =>
          s.subject.digest !== digest && s.references.includes(`${repositoryName(ref)}:${tag}`),
      );
      for (const digestKept of new Set(elsewhere.map((s) => s.subject.digest))) {
        out.write(
          `nv2: signatures were kept for ${digestKept}, the local manifest; docker compressed its layers on push, so the registry holds ${digest}: sign it there with docker nv2 notary sign --remote ${image}, or push an OCI layout with nv2 copy to keep digests\n`,
        );
      }
      continue;
    }
    await withRepository(config, context.env, ref, async (repository) => {
      for (const signature of kept) {
        const subject: Descriptor = signature.subject;
        const manifest = await pushSignature(repository, subject, signature.jws, {
          now: signature.created,
        });
        out.write(`nv2: pushed signature ${manifest.digest} of ${digest}\n`);
      }
    });
    context.stdout.write(`${digest}\n`);
  }
  return 0;
}

async function notary(
  args: readonly string[],
  context: Required<PluginContext>,
  configDir: string,
): Promise<number> {
  if (args[0] === 'sign') return signImage(args.slice(1), context, configDir);
  const { values, positionals } = parseFlags('notary', {
    args: [...args],
    allowPositionals: true,
    options: { enabled: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    // `--enabled` alone means true: parseArgs wants a value for a string option, so it is
    // rewritten below before parsing.
  });
  if (values.help === true || positionals.length > 0) {
    if (positionals.length > 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `unknown notary command ${JSON.stringify(positionals[0])}: use sign, or --enabled[=true|false]`,
      );
    }
    context.stdout.write(USAGE);
    return 0;
  }
  const config = await loadPluginConfig(configDir);
  if (values.enabled !== undefined) {
    if (values.enabled !== 'true' && values.enabled !== 'false') {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `--enabled wants true or false, got ${JSON.stringify(values.enabled)}`,
      );
    }
    const enabled = values.enabled === 'true';
    await savePluginConfig(configDir, { ...config, enabled });
    context.stdout.write(
      `verification before pull, run and create ${enabled ? 'enabled' : 'disabled'}\n`,
    );
    if (enabled && config.verificationCerts.length === 0 && !config.trustPolicy) {
      context.stderr.write(
        'nv2: warning: verificationCerts in nv2.json is empty: every pull will be refused until certificates are listed\n',
      );
    }
    return 0;
  }
  context.stdout.write(
    `${JSON.stringify({ enabled: config.enabled, verificationCerts: config.verificationCerts, insecureRegistries: config.insecureRegistries, trustPolicy: config.trustPolicy }, null, 2)}\n`,
  );
  return 0;
}

/** `docker container run|create` and `docker image pull`: the same commands by their long names. */
function group(
  args: readonly string[],
  context: Required<PluginContext>,
  configDir: string,
): Promise<number> {
  const [noun, verb] = args;
  if (noun === 'container' && (verb === 'run' || verb === 'create')) {
    return runContainer(verb, [noun, verb], args.slice(2), context, configDir);
  }
  if (noun === 'image' && verb === 'pull') return pull(args.slice(2), context, configDir);
  return context.docker.run(args);
}

/**
 * Runs the `docker-nv2` plugin with its arguments (as docker passes them: `nv2 COMMAND …`, or
 * `docker-cli-plugin-metadata`) and returns the exit code. Commands it does not handle go to
 * docker unchanged, exit code included. Errors are thrown for the caller to report.
 */
export async function runPlugin(argv: readonly string[], context: PluginContext): Promise<number> {
  const full: Required<PluginContext> = {
    ...context,
    docker: context.docker ?? createDockerCommand(context.env),
    verifier: context.verifier ?? ((config, dir) => verifierFor(config, dir, { env: context.env })),
  };
  if (argv[0] === METADATA_COMMAND) {
    full.stdout.write(`${JSON.stringify(pluginMetadata(context.version), null, 2)}\n`);
    return 0;
  }
  const args = argv[0] === PLUGIN_NAME ? argv.slice(1) : argv;
  const configDir = dockerConfigDir(context.env);
  switch (args[0]) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      full.stdout.write(USAGE);
      return 0;
    case 'pull':
      return pull(args.slice(1), full, configDir);
    case 'run':
    case 'create':
      return runContainer(args[0], [args[0]], args.slice(1), full, configDir);
    case 'container':
    case 'image':
      return group(args, full, configDir);
    case 'push':
      return push(args.slice(1), full, configDir);
    case 'notary':
      return notary(
        args.slice(1).map((a) => (a === '--enabled' ? '--enabled=true' : a)),
        full,
        configDir,
      );
    default:
      return full.docker.run(args);
  }
}
