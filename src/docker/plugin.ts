import type { Writable } from 'node:stream';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { readBoundedFile } from '../content/index.js';
import {
  InvalidInputError,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../errors.js';
import { pushSignature } from '../notary/index.js';
import { PolicyVerificationError } from '../verification/index.js';
import {
  type Descriptor,
  type Digest,
  type Reference,
  formatReference,
  parseReference,
  registryHostname,
} from '../oci/index.js';
import {
  Repository,
  createRegistryClient,
  defaultCredentials,
  proxyFromEnv,
} from '../remote/index.js';
import type { RegistryClient } from '../remote/index.js';
import { type Algorithm, isAlgorithm, sign } from '../signature/index.js';
import { signingCertificateProblems } from '../trust/index.js';
import { keysMatch, loadCertificates, loadPrivateKey } from '../x509/index.js';
import { manifestFromDockerSave } from './archive.js';
import {
  type PluginConfig,
  dockerConfigDir,
  loadPluginConfig,
  savePluginConfig,
} from './config.js';
import { type DockerCommand, createDockerCommand } from './docker-command.js';
import { parseRunArguments, withImage } from './run-args.js';
import { allKeptSignatures, keepSignature, keptSignatures } from './keeper.js';
import { METADATA_COMMAND, PLUGIN_NAME, pluginMetadata } from './metadata.js';
import { type PullVerification, type PullVerifier, verifierFor } from './verifier.js';

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

const MAX_PEM_BYTES = 1024 * 1024;

const USAGE = `Usage: docker nv2 COMMAND

Notary v2 for docker: verify signatures before pull, run and create; carry them along on push.

Commands:
  pull IMAGE               verify IMAGE's signatures (when enabled), then pull it by the verified digest
  push IMAGE               docker push, then push the signatures kept for the pushed digest
  run, create IMAGE        verify IMAGE as pull does, then run or create the container from the
                           verified digest (also docker container run/create)
  notary sign IMAGE        sign IMAGE's manifest and keep the signature until push, or with
                           --remote sign what the registry holds and push the signature there
                           (see docker nv2 notary sign --help)
  notary --enabled[=true|false]
                           switch verification before pull, run and create on or off
  notary                   show the configuration

Every other command goes to docker unchanged, so alias docker="docker nv2" is safe.
Configuration: $DOCKER_CONFIG/nv2.json (default ~/.docker/nv2.json).
`;

const SIGN_USAGE = `Usage: docker nv2 notary sign [OPTIONS] IMAGE

Sign IMAGE's manifest. Without --remote, the manifest is the one docker save describes, and the
signature is kept until docker nv2 push; with --remote, the manifest is what the registry holds
under IMAGE, and the signature is pushed there at once.

Options:
  -k, --key FILE           the signing key (default signingKey in nv2.json)
  -c, --cert FILE          its certificate, chain allowed (default signingCert in nv2.json)
      --remote             sign what the registry holds and push the signature there
  -r, --reference NAME     a name the signature says the image is published under; repeatable
                           (default IMAGE)
  -e, --expiry SECONDS     the signature expires this many seconds after signing
      --alg ALG            the signature algorithm (default from the key)
  -h, --help               show this help
`;

/** A docker push / pull flag that takes a value (everything else is a switch). */
const VALUE_FLAGS = new Set(['--platform']);

/** Splits docker pull/push arguments into flags (kept in order) and the one image named. */
function splitImageArgs(
  command: string,
  args: readonly string[],
): { flags: string[]; image: string } {
  const flags: string[] = [];
  const images: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('-')) {
      flags.push(arg);
      if (VALUE_FLAGS.has(arg) && i + 1 < args.length) flags.push(args[++i]!);
    } else {
      images.push(arg);
    }
  }
  if (images.length !== 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `docker nv2 ${command} needs exactly one image, got ${images.length}`,
    );
  }
  return { flags, image: images[0]! };
}

/** `parseArgs`, its usage errors reported as nv2's (exit 2), not as internal errors. */
function parseFlags<T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `docker nv2 ${command}: ${(err as Error).message}`,
    );
  }
}

function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

function repositoryName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function registryClient(config: PluginConfig, env: PluginContext['env']): RegistryClient {
  return createRegistryClient({
    credentials: defaultCredentials({ env }),
    proxy: proxyFromEnv(env),
    // As docker: the registries listed as insecure, and loopback ones, speak plain HTTP.
    plainHttp: (registry) =>
      config.insecureRegistries.includes(registry) ||
      LOOPBACK.has(registryHostname(registry).toLowerCase()),
  });
}

async function withRepository<T>(
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

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Adds what to do next to a refusal, keeping the error's code and class. */
function refusal(
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
function report(out: Writable, image: string, verification: PullVerification): void {
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
async function verifyInRegistry(
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

async function signImage(
  args: readonly string[],
  context: Required<PluginContext>,
  configDir: string,
): Promise<number> {
  const { values, positionals } = parseFlags('notary sign', {
    args: [...args],
    allowPositionals: true,
    options: {
      key: { type: 'string', short: 'k' },
      cert: { type: 'string', short: 'c' },
      remote: { type: 'boolean' },
      reference: { type: 'string', short: 'r', multiple: true },
      expiry: { type: 'string', short: 'e' },
      alg: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    context.stdout.write(SIGN_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'docker nv2 notary sign needs one image',
    );
  }
  const image = positionals[0]!;
  const config = await loadPluginConfig(configDir);
  const keyPath = values.key ?? config.signingKey;
  const certPath = values.cert ?? config.signingCert;
  if (keyPath === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'docker nv2 notary sign needs the signing key: --key FILE (or signingKey in nv2.json)',
    );
  }
  let algorithm: Algorithm | undefined;
  if (values.alg !== undefined) {
    if (!isAlgorithm(values.alg)) {
      throw new InvalidInputError(
        'NV2_ERR_UNSUPPORTED_ALGORITHM',
        `unknown algorithm ${JSON.stringify(values.alg)}`,
      );
    }
    algorithm = values.alg;
  }
  let expiresIn: number | undefined;
  if (values.expiry !== undefined) {
    expiresIn = Number(values.expiry);
    if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `--expiry wants a number of seconds, got ${JSON.stringify(values.expiry)}`,
      );
    }
  }
  const key = loadPrivateKey(await readBoundedFile(keyPath, MAX_PEM_BYTES, 'key'), keyPath);
  const chain =
    certPath !== undefined
      ? loadCertificates(await readBoundedFile(certPath, MAX_PEM_BYTES, 'certificate'), certPath)
      : [];
  if (chain.length > 0 && !keysMatch(key, chain[0]!.publicKey)) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_CERT_MISMATCH',
      `the key ${keyPath} does not belong to the first certificate in ${certPath ?? ''}`,
    );
  }
  const ref = parseReference(image);
  const named =
    ref.tag === undefined && ref.digest === undefined
      ? formatReference({ ...ref, tag: 'latest' })
      : formatReference(ref);
  const references = values.reference ?? [named];
  const now = new Date();
  let subject: Descriptor;
  if (values.remote === true) {
    subject = await withRepository(config, context.env, ref, async (repository) => {
      const d = await repository.resolve(ref.digest ?? ref.tag ?? 'latest');
      return { mediaType: d.mediaType, digest: d.digest, size: d.size };
    });
  } else {
    const generated = await manifestFromDockerSave(context.docker, image, {
      hint: '; to sign what the registry holds, add --remote',
    });
    subject = generated.descriptor;
    if (generated.uncompressedLayers > 0) {
      context.stderr.write(
        `nv2: warning: ${plural(generated.uncompressedLayers, 'layer')} of ${image} ${generated.uncompressedLayers === 1 ? 'is' : 'are'} stored uncompressed; docker push compresses them, so the pushed manifest will not be ${subject.digest} and this signature will not apply to it: after docker push, sign with docker nv2 notary sign --remote ${image}, or push an OCI layout with nv2 copy to keep digests (see "Using nv2 with docker" in the README)\n`,
      );
    }
  }
  for (const problem of chain.length > 0
    ? signingCertificateProblems(chain[0]!, references, now)
    : []) {
    context.stderr.write(`nv2: warning: ${problem}; the signature will not verify\n`);
  }
  const jws = sign(
    subject,
    { key, certificateChain: chain.map((c) => c.der) },
    {
      references,
      now,
      ...(algorithm !== undefined ? { algorithm } : {}),
      ...(expiresIn !== undefined ? { expiresIn } : {}),
    },
  );
  if (values.remote === true) {
    // The image is in the registry already: its signature goes there now.
    const manifest = await withRepository(config, context.env, ref, (repository) =>
      pushSignature(repository, subject, jws, { now }),
    );
    context.stderr.write(
      `nv2: signed ${image} (${subject.digest}); pushed signature ${manifest.digest} to ${repositoryName(ref)}\n`,
    );
  } else {
    const path = await keepSignature(configDir, subject, jws, { references, now });
    context.stderr.write(
      `nv2: signed ${image} (${subject.digest}); kept in ${path} until docker nv2 push\n`,
    );
  }
  context.stdout.write(`${subject.digest}\n`);
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
