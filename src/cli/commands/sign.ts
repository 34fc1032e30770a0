import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  loadManifest,
  parseManifestLocator,
  parseOciLayoutLocator,
  writeFileAtomic,
} from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import type { EnvelopeFormat, SignatureTimestamper } from '../../notation/index.js';
import { signArtifact, signNotationArtifact } from '../../notary/index.js';
import { type Descriptor, type Digest, digestHex, isTag, parseReference } from '../../oci/index.js';
import {
  ALGORITHMS,
  type Algorithm,
  type SigningKey,
  fileSigningKey,
  isAlgorithm,
  signWithKey,
} from '../../signature/index.js';
import { signingCertificateProblems } from '../../trust/index.js';
import {
  Certificate,
  keysMatch,
  loadCertificates,
  loadPrivateKey,
  orderCertificateChain,
} from '../../x509/index.js';
import { parseDuration } from '../duration.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { keyOpenOptions, pluginConfigOf } from './key.js';
import { print, warn } from '../output.js';
import {
  type OpenedTarget,
  type RemoteFlags,
  type TargetOpener,
  SIGNATURE_REPOSITORY_ENV,
  addRemoteOptions,
  registryReference,
  requireReference,
  signatureRepositoryOf,
  withTargets,
} from '../target.js';
import { collect } from './options.js';
import { parseUserMetadata } from '../user-metadata.js';

interface SignFlags extends RemoteFlags {
  signatureOnly?: boolean;
  pushReference?: string;
  recursive?: boolean;
  method: string;
  signatureFormat: string;
  userMetadata: string[];
  key?: string;
  cert?: string;
  signingKeys?: string;
  timestampUrl?: string;
  timestampRootCert?: string;
  plugin?: string;
  pluginTimeout?: string;
  id?: string;
  pluginConfig: string[];
  reference: string[];
  expiry?: string;
  output?: string;
  mediaType?: string;
  alg?: string;
}

function isOffline(target: string): boolean {
  return target === '-' || target.startsWith('file:');
}

/**
 * `nv2 sign`: sign a manifest. A file: target: write the signature file, print the manifest
 * digest. A registry or oci-layout target: push the signature artifact beside it, print the
 * signed digest and the signature manifest digest.
 */
export function registerSign(program: Command): void {
  const command = program
    .command('sign')
    .description(
      'sign a manifest; prints its digest, and pushes the signature beside it (registry, oci-layout) or writes it to a file (file:)',
    )
    .argument(
      '<target>',
      'manifest to sign: REF, docker://REF, oci://REF, oci-layout:DIR:TAG|@DIGEST, file:PATH, or - / file:- for standard input',
    )
    .option(
      '--signature-format <format>',
      "nv2 (the project's JWS), jws (Notary Project JWS JSON) or cose (Notary Project COSE_Sign1)",
      'nv2',
    )
    .option(
      '-m, --user-metadata <KEY=VALUE>',
      'user metadata to sign with a jws or cose signature (repeatable); -m x509 (no =) still names the signing method',
      collect,
      [],
    )
    .option('--method <method>', 'signing method (only x509)', 'x509')
    .option(
      '-k, --key <key>',
      'signing key: a private key file (PEM: PKCS#8, PKCS#1 or SEC1), a pkcs11: URI (RFC 7512), or the name of a key from nv2 key list; default: the default key',
    )
    .option(
      '-c, --cert <file>',
      "signing certificate, optionally followed by its chain in any order (PEM); puts x5c (in issuing order, repeats dropped) in the header, else kid; jws and cose need the whole chain to the root; default: the named key's, or the token's",
    )
    .option(
      '--signing-keys <file>',
      "the signingkeys.json that names keys (default $NV2_SIGNING_KEYS, else $NV2_CONFIG_DIR/signingkeys.json); point it at notation's to sign with notation's keys",
    )
    .option(
      '-r, --reference <reference>',
      'name the manifest is published under (repeatable)',
      collect,
      [],
    )
    .option(
      '-e, --expiry <duration>',
      'validity of the signature, e.g. 24h or 90d (nv2: sets nbf and exp; jws, cose: the signed expiry)',
    )
    .option(
      '-o, --output <file>',
      'signature file to write (default: <digest hex>.jwt); for a registry target, write it instead of pushing',
    )
    .option(
      '--signature-only',
      'registry or oci-layout target: write the signature file, push nothing',
    )
    .option(
      '--push-reference <ref>',
      `store the signature artifact in this repository instead (tagged when REF has a tag); else $${SIGNATURE_REPOSITORY_ENV}`,
    )
    .option(
      '--plugin <name>',
      'sign with a key behind this Notary Project plugin (with --id; jws and cose)',
    )
    .option('--id <keyId>', "the plugin key's id")
    .option(
      '--plugin-timeout <duration>',
      'how long one plugin command may take before it is stopped (default 60s)',
    )
    .option('--plugin-config <KEY=VALUE>', 'plugin configuration (repeatable)', collect, [])
    .option(
      '--timestamp-url <url>',
      'jws and cose: countersign the signature with an RFC 3161 timestamp from this TSA, so that it verifies after the certificate expires',
    )
    .option(
      '--timestamp-root-cert <file>',
      "the TSA's root certificate (PEM): the timestamp is checked against it before the signature is stored",
    )
    .option('--recursive', 'also sign each manifest of an index (each platform)')
    .option(
      '--media-type <type>',
      "manifest media type (default: the manifest's mediaType field, else Docker schema 2)",
    )
    .option(
      '--alg <alg>',
      `signature algorithm, if not the key's default (${ALGORITHMS.join(', ')})`,
    )
    .action(async (target: string, flags: SignFlags) => {
      // `-m x509` named the signing method before -m meant user metadata: a value without
      // `=` still does.
      const legacyMethod = flags.userMetadata.filter((v) => !v.includes('='));
      if (legacyMethod.length > 0) {
        flags.method = legacyMethod[legacyMethod.length - 1]!;
        flags.userMetadata = flags.userMetadata.filter((v) => v.includes('='));
      }
      if (flags.method !== 'x509') {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `unknown signing method ${JSON.stringify(flags.method)}: only x509 is supported`,
        );
      }
      let algorithm: Algorithm | undefined;
      if (flags.alg !== undefined) {
        if (!isAlgorithm(flags.alg)) {
          throw new InvalidInputError(
            'NV2_ERR_UNSUPPORTED_ALGORITHM',
            `unknown algorithm ${JSON.stringify(flags.alg)}: use one of ${ALGORITHMS.join(', ')}`,
          );
        }
        algorithm = flags.alg;
      }
      const expiresIn = flags.expiry !== undefined ? parseDuration(flags.expiry) : undefined;
      const format = signatureFormatOf(flags.signatureFormat);
      if (format !== 'nv2') {
        await signNotationFormat(target, format, flags, expiresIn, program.version() ?? '');
        return;
      }
      if (flags.userMetadata.length > 0) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'user metadata (-m KEY=VALUE) is signed by the Notary Project formats only: add --signature-format jws or cose',
        );
      }
      if (flags.timestampUrl !== undefined || flags.timestampRootCert !== undefined) {
        // A compact JWS has no unprotected header: a countersignature made after signing
        // has nowhere to go without invalidating the signature.
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'the nv2 format cannot carry a timestamp (a compact JWS has no unprotected header): add --signature-format jws or cose',
        );
      }
      if (!isOffline(target)) {
        await signRemote(target, flags, algorithm, expiresIn);
        return;
      }
      const locator = parseManifestLocator(target);
      if (flags.key === '-' && locator.kind === 'stdin') {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'the key and the manifest cannot both come from standard input',
        );
      }
      await withSigningKey(flags, true, async (signingKey, chain) => {
        const manifest = await loadManifest(locator, {
          mediaType: flags.mediaType,
          stdin: process.stdin,
        });
        const now = new Date();
        const jws = await signWithKey(manifest.descriptor, signingKey, {
          references: flags.reference,
          now,
          ...(algorithm !== undefined ? { algorithm } : {}),
          ...(expiresIn !== undefined ? { expiresIn } : {}),
        });
        warnAboutCertificate(chain, flags.reference, now);
        const out = flags.output ?? join('.', `${digestHex(manifest.descriptor.digest)}.jwt`);
        await writeFileAtomic(out, jws);
        print(manifest.descriptor.digest);
      });
    });
  addRemoteOptions(command);
}

function warnAboutCertificate(
  chain: readonly Certificate[],
  references: string[],
  now: Date,
): void {
  if (chain.length > 0) {
    for (const problem of signingCertificateProblems(chain[0]!, references, now)) {
      warn(`${problem}; the signature will not verify`);
    }
  }
}

/**
 * Opens the signing key `-k`/`-c` name (a file, standard input, a pkcs11: URI, a named key,
 * or the default key), runs `use` with it and its parsed chain, and closes it (a token
 * session) whatever happens.
 */
async function withSigningKey(
  flags: SignFlags,
  nv2Format: boolean,
  use: (signingKey: SigningKey, chain: Certificate[]) => Promise<void>,
): Promise<void> {
  let signingKey: SigningKey;
  if (flags.key === '-') {
    const key = loadPrivateKey(await readInput('-', MAX_PEM_BYTES, 'key'), 'standard input');
    const chain =
      flags.cert !== undefined
        ? orderCertificateChain(
            loadCertificates(await readInput(flags.cert, MAX_PEM_BYTES, 'certificate'), flags.cert),
          )
        : [];
    if (chain.length > 0 && !keysMatch(key, chain[0]!.publicKey)) {
      throw new InvalidInputError(
        'NV2_ERR_KEY_CERT_MISMATCH',
        `the key on standard input does not belong to the first certificate in ${flags.cert}`,
      );
    }
    signingKey = fileSigningKey(
      key,
      chain.map((c) => c.der),
      'the key on standard input',
    );
  } else if (flags.plugin !== undefined || flags.id !== undefined) {
    if (flags.plugin === undefined || flags.id === undefined || flags.key !== undefined) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'a plugin key is --plugin NAME --id KEYID, without -k',
      );
    }
    const { openEntry } = await import('../../keys/index.js');
    signingKey = await openEntry(
      {
        name: flags.id,
        id: flags.id,
        pluginName: flags.plugin,
        pluginConfig: pluginConfigOf(flags.pluginConfig),
      },
      keyOpenOptions(flags),
    );
  } else {
    const { openSigningKey } = await import('../../keys/index.js');
    ({ signingKey } = await openSigningKey(flags.key, flags.cert, keyOpenOptions(flags)));
  }
  if (nv2Format && signingKey.certificateChain === undefined) {
    await signingKey.close?.();
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${signingKey.name} is a plugin key, which signs the Notary Project formats: add --signature-format jws or cose`,
    );
  }
  try {
    const chain = (signingKey.certificateChain ?? []).map((der) => new Certificate(der));
    await use(signingKey, chain);
  } finally {
    await signingKey.close?.();
  }
}

/** Whether a --push-reference names a tag itself (a bare repository is not tagged `latest`). */
function namesTag(argument: string): boolean {
  if (argument.startsWith('oci-layout:'))
    return parseOciLayoutLocator(argument).reference !== undefined;
  return parseReference(registryReference(argument)).tag !== undefined;
}

/**
 * What a registry or oci-layout signing works on: the target and the tag or digest it names,
 * and where the signature goes: `--push-reference`, else the signature repository of the
 * environment (never tagged), else beside the artifact (`undefined`); nothing when offline.
 */
async function openSigningTargets(
  opener: TargetOpener,
  target: string,
  flags: SignFlags,
  offline: boolean,
): Promise<{ source: OpenedTarget; reference: string; destination: OpenedTarget | undefined }> {
  const source = await opener.open(target);
  const reference = requireReference(source);
  const pushReference = flags.pushReference ?? signatureRepositoryOf({});
  const destination =
    pushReference !== undefined && !offline
      ? await opener.open(pushReference, { create: true })
      : undefined;
  return { source, reference, destination };
}

/** Signs what a registry reference or oci-layout locator names, and pushes the signature. */
async function signRemote(
  target: string,
  flags: SignFlags,
  algorithm: Algorithm | undefined,
  expiresIn: number | undefined,
): Promise<void> {
  await withSigningKey(flags, true, async (signingKey, chain) => {
    const now = new Date();
    warnAboutCertificate(chain, flags.reference, now);
    await signRemoteWith(target, flags, signingKey, now, algorithm, expiresIn);
  });
}

async function signRemoteWith(
  target: string,
  flags: SignFlags,
  signingKey: SigningKey,
  now: Date,
  algorithm: Algorithm | undefined,
  expiresIn: number | undefined,
): Promise<void> {
  const offline = flags.signatureOnly === true || flags.output !== undefined;
  await withTargets(flags, async (opener) => {
    const { source, reference, destination } = await openSigningTargets(
      opener,
      target,
      flags,
      offline,
    );
    const signed = await signArtifact(source.target, reference, signingKey, {
      references: flags.reference,
      now,
      push: !offline,
      recursive: flags.recursive === true,
      ...(algorithm !== undefined ? { algorithm } : {}),
      ...(expiresIn !== undefined ? { expiresIn } : {}),
      ...(destination !== undefined ? { signatureTarget: destination.target } : {}),
    });
    await finishSigning(signed, flags, destination, offline, (one) => ({
      name: `${digestHex(one.subject.digest)}.jwt`,
      content: one.jws,
    }));
  });
}

const SIGNATURE_FORMATS = ['nv2', 'jws', 'cose'] as const;
type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];

function signatureFormatOf(value: string): SignatureFormat {
  if (!(SIGNATURE_FORMATS as readonly string[]).includes(value)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `unknown signature format ${JSON.stringify(value)}: use ${SIGNATURE_FORMATS.join(', ')}`,
    );
  }
  return value as SignatureFormat;
}

/** The file a Notary Project envelope is written to by default: `<digest hex>.jws.json` or `.cose`. */
export function envelopeFileName(digest: Digest, format: EnvelopeFormat): string {
  return `${digestHex(digest)}${format === 'jws' ? '.jws.json' : '.cose'}`;
}

/**
 * Signs in a Notary Project envelope (`--signature-format jws|cose`): a file: target writes
 * the envelope; a registry or oci-layout target pushes the signature manifest notation
 * pushes (or writes the envelope with -o / --signature-only).
 */
async function signNotationFormat(
  target: string,
  format: EnvelopeFormat,
  flags: SignFlags,
  expiresIn: number | undefined,
  version: string,
): Promise<void> {
  for (const [given, flag] of [
    [flags.alg !== undefined, '--alg (the algorithm follows from the key)'],
    [flags.reference.length > 0, '-r/--reference (an nv2 claim)'],
  ] as const) {
    if (given) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `${flag} does not apply to --signature-format ${format}`,
      );
    }
  }
  const userMetadata = parseUserMetadata(flags.userMetadata);
  await withSigningKey(flags, false, async (signingKey) => {
    if (signingKey.certificateChain !== undefined && signingKey.certificateChain.length === 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `--signature-format ${format} needs the signing certificate and its chain: -c CERT`,
      );
    }
    await signNotationWith(target, format, flags, signingKey, userMetadata, expiresIn, version);
  });
}

async function signNotationWith(
  target: string,
  format: EnvelopeFormat,
  flags: SignFlags,
  signingKey: SigningKey,
  userMetadata: Record<string, string>,
  expiresIn: number | undefined,
  version: string,
): Promise<void> {
  const now = new Date();
  const timestamper = await timestamperOf(flags, now);
  const options = {
    format,
    signingKey,
    now,
    ...(timestamper !== undefined ? { timestamper } : {}),
    signingAgent: `nv2/${version}`,
    ...(Object.keys(userMetadata).length > 0 ? { userMetadata } : {}),
    ...(expiresIn !== undefined ? { expiry: new Date(now.getTime() + expiresIn * 1000) } : {}),
  };
  if (isOffline(target)) {
    const locator = parseManifestLocator(target);
    if (flags.key === '-' && locator.kind === 'stdin') {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'the key and the manifest cannot both come from standard input',
      );
    }
    const manifest = await loadManifest(locator, {
      mediaType: flags.mediaType,
      stdin: process.stdin,
    });
    const { signNotationWithKey } = await import('../../notation/index.js');
    const signature = await signNotationWithKey({
      ...options,
      signingTime: now,
      descriptor: manifest.descriptor,
    });
    const out = flags.output ?? join('.', envelopeFileName(manifest.descriptor.digest, format));
    await writeFileAtomic(out, signature.envelope);
    print(manifest.descriptor.digest);
    return;
  }
  const offline = flags.signatureOnly === true || flags.output !== undefined;
  await withTargets(flags, async (opener) => {
    const { source, reference, destination } = await openSigningTargets(
      opener,
      target,
      flags,
      offline,
    );
    const signed = await signNotationArtifact(source.target, reference, {
      ...options,
      push: !offline,
      recursive: flags.recursive === true,
      ...(destination !== undefined ? { signatureTarget: destination.target } : {}),
    });
    await finishSigning(signed, flags, destination, offline, (one) => ({
      name: envelopeFileName(one.subject.digest, format),
      content: one.envelope,
    }));
  });
}

/**
 * The timestamper `--timestamp-url` and `--timestamp-root-cert` ask for: each token is checked
 * (nonce, imprint, EKU, chain to the root, revocation of the TSA's chain) before the
 * signature is stored.
 */
async function timestamperOf(
  flags: SignFlags,
  now: Date,
): Promise<SignatureTimestamper | undefined> {
  if (flags.timestampUrl === undefined && flags.timestampRootCert === undefined) return undefined;
  if (flags.timestampUrl === undefined || flags.timestampRootCert === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--timestamp-url and --timestamp-root-cert go together: the timestamp is checked against the root',
    );
  }
  const url = flags.timestampUrl;
  const roots = loadCertificates(
    await readInput(flags.timestampRootCert, MAX_PEM_BYTES, 'certificate'),
    flags.timestampRootCert,
  );
  const { requestTimestamp, defaultRevocationChecker } = await import('../../notation/index.js');
  const { createHttpTransport, proxyFromEnv } = await import('../../http/index.js');
  const revocation = defaultRevocationChecker();
  // One connection per request (nothing left open), through HTTPS_PROXY as notation's.
  const { fetch } = createHttpTransport({ keepAlive: false, proxy: proxyFromEnv(process.env) });
  return async (signature) =>
    (await requestTimestamp(url, signature, { roots, revocation, now, fetch })).token;
}

/** What both signature formats report of one signed manifest. */
interface SignedOne {
  readonly subject: Descriptor;
  readonly signatureManifest?: Descriptor;
}

/**
 * The end of a registry or oci-layout signing: offline, write each signature file (the
 * artifact's to `-o` when given, the children's beside it) and print each signed digest;
 * else tag the signature manifest when `--push-reference` names a tag, and print each signed
 * digest with its signature manifest's.
 */
async function finishSigning<T extends SignedOne>(
  signed: T & { readonly children: readonly T[] },
  flags: SignFlags,
  destination: OpenedTarget | undefined,
  offline: boolean,
  file: (one: T) => { name: string; content: string | Uint8Array },
): Promise<void> {
  const all: T[] = [signed, ...signed.children];
  if (offline) {
    for (const one of all) {
      const { name, content } = file(one);
      const out =
        one === signed && flags.output !== undefined
          ? flags.output
          : join(flags.output !== undefined ? dirname(flags.output) : '.', name);
      await writeFileAtomic(out, content);
      print(one.subject.digest);
    }
    return;
  }
  if (
    flags.pushReference !== undefined &&
    namesTag(flags.pushReference) &&
    destination?.reference !== undefined &&
    signed.signatureManifest !== undefined &&
    isTag(destination.reference)
  ) {
    await destination.target.tag(signed.signatureManifest, destination.reference);
  }
  for (const one of all) {
    print(one.subject.digest);
    print(one.signatureManifest?.digest ?? '');
  }
}
