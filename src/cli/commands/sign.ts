import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  loadManifest,
  parseManifestLocator,
  parseOciLayoutLocator,
  writeFileAtomic,
} from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import type { EnvelopeFormat } from '../../notation/index.js';
import { signArtifact, signNotationArtifact } from '../../notary/index.js';
import { type Descriptor, type Digest, digestHex, isTag, parseReference } from '../../oci/index.js';
import {
  ALGORITHMS,
  type Algorithm,
  type Signer,
  isAlgorithm,
  sign,
} from '../../signature/index.js';
import { signingCertificateProblems } from '../../trust/index.js';
import {
  type Certificate,
  keysMatch,
  loadCertificates,
  loadPrivateKey,
  orderCertificateChain,
} from '../../x509/index.js';
import { parseDuration } from '../duration.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
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
import { parseUserMetadata } from './verify.js';

interface SignFlags extends RemoteFlags {
  signatureOnly?: boolean;
  pushReference?: string;
  recursive?: boolean;
  method: string;
  signatureFormat: string;
  userMetadata: string[];
  key: string;
  cert?: string;
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
    .requiredOption('-k, --key <file>', 'private key (PEM: PKCS#8, PKCS#1 or SEC1)')
    .option(
      '-c, --cert <file>',
      'signing certificate, optionally followed by its chain in any order (PEM); puts x5c (in issuing order, repeats dropped) in the header, else kid; jws and cose need the whole chain to the root',
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
      const { signer, chain } = await loadSigner(flags);
      const manifest = await loadManifest(locator, {
        mediaType: flags.mediaType,
        stdin: process.stdin,
      });
      const now = new Date();
      const jws = sign(manifest.descriptor, signer, {
        references: flags.reference,
        now,
        ...(algorithm !== undefined ? { algorithm } : {}),
        ...(expiresIn !== undefined ? { expiresIn } : {}),
      });
      if (chain.length > 0) {
        for (const problem of signingCertificateProblems(chain[0]!, flags.reference, now)) {
          warn(`${problem}; the signature will not verify`);
        }
      }
      const out = flags.output ?? join('.', `${digestHex(manifest.descriptor.digest)}.jwt`);
      await writeFileAtomic(out, jws);
      print(manifest.descriptor.digest);
    });
  addRemoteOptions(command);
}

async function loadSigner(flags: SignFlags): Promise<{ signer: Signer; chain: Certificate[] }> {
  const key = loadPrivateKey(await readInput(flags.key, MAX_PEM_BYTES, 'key'), flags.key);
  // x5c in the order RFC 7515 §4.1.6 requires, whatever order the chain file has.
  const chain =
    flags.cert !== undefined
      ? orderCertificateChain(
          loadCertificates(await readInput(flags.cert, MAX_PEM_BYTES, 'certificate'), flags.cert),
        )
      : [];
  if (chain.length > 0 && !keysMatch(key, chain[0]!.publicKey)) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_CERT_MISMATCH',
      `the key ${flags.key} does not belong to the first certificate in ${flags.cert}`,
    );
  }
  return { signer: { key, certificateChain: chain.map((c) => c.der) }, chain };
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
  const { signer, chain } = await loadSigner(flags);
  const now = new Date();
  if (chain.length > 0) {
    for (const problem of signingCertificateProblems(chain[0]!, flags.reference, now)) {
      warn(`${problem}; the signature will not verify`);
    }
  }
  const offline = flags.signatureOnly === true || flags.output !== undefined;
  await withTargets(flags, async (opener) => {
    const { source, reference, destination } = await openSigningTargets(
      opener,
      target,
      flags,
      offline,
    );
    const signed = await signArtifact(source.target, reference, signer, {
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
  if (flags.cert === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `--signature-format ${format} needs the signing certificate and its chain: -c CERT`,
    );
  }
  const userMetadata = parseUserMetadata(flags.userMetadata);
  const key = loadPrivateKey(await readInput(flags.key, MAX_PEM_BYTES, 'key'), flags.key);
  const certificateChain = loadCertificates(
    await readInput(flags.cert, MAX_PEM_BYTES, 'certificate'),
    flags.cert,
  );
  const now = new Date();
  const options = {
    format,
    key,
    certificateChain,
    now,
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
    const { signNotation } = await import('../../notation/index.js');
    const signature = signNotation({ ...options, descriptor: manifest.descriptor });
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
