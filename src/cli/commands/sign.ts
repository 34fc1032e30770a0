import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  loadManifest,
  parseManifestLocator,
  parseOciLayoutLocator,
  writeFileAtomic,
} from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { signArtifact } from '../../notary/index.js';
import { digestHex, isTag, parseReference } from '../../oci/index.js';
import {
  ALGORITHMS,
  type Algorithm,
  type Signer,
  isAlgorithm,
  sign,
} from '../../signature/index.js';
import { signingCertificateProblems } from '../../trust/index.js';
import { type Certificate, keysMatch, loadCertificates, loadPrivateKey } from '../../x509/index.js';
import { parseDuration } from '../duration.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { print, warn } from '../output.js';
import {
  type RemoteFlags,
  SIGNATURE_REPOSITORY_ENV,
  addRemoteOptions,
  registryReference,
  requireReference,
  signatureRepositoryOf,
  withTargets,
} from '../target.js';
import { collect } from './options.js';

interface SignFlags extends RemoteFlags {
  signatureOnly?: boolean;
  pushReference?: string;
  recursive?: boolean;
  method: string;
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
    .option('-m, --method <method>', 'signing method (only x509)', 'x509')
    .requiredOption('-k, --key <file>', 'private key (PEM: PKCS#8, PKCS#1 or SEC1)')
    .option(
      '-c, --cert <file>',
      'signing certificate, optionally followed by its chain (PEM); puts x5c in the header, else kid',
    )
    .option(
      '-r, --reference <reference>',
      'name the manifest is published under (repeatable)',
      collect,
      [],
    )
    .option(
      '-e, --expiry <duration>',
      'validity of the signature, e.g. 24h or 90d (sets nbf and exp)',
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
  const chain =
    flags.cert !== undefined
      ? loadCertificates(await readInput(flags.cert, MAX_PEM_BYTES, 'certificate'), flags.cert)
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
    const source = await opener.open(target);
    const reference = requireReference(source);
    // --push-reference, else the signature repository of the environment (never tagged).
    const pushReference = flags.pushReference ?? signatureRepositoryOf({});
    const destination =
      pushReference !== undefined && !offline
        ? await opener.open(pushReference, { create: true })
        : undefined;
    const signed = await signArtifact(source.target, reference, signer, {
      references: flags.reference,
      now,
      push: !offline,
      recursive: flags.recursive === true,
      ...(algorithm !== undefined ? { algorithm } : {}),
      ...(expiresIn !== undefined ? { expiresIn } : {}),
      ...(destination !== undefined ? { signatureTarget: destination.target } : {}),
    });
    const all = [signed, ...signed.children];
    if (offline) {
      for (const one of all) {
        const out =
          one === signed && flags.output !== undefined
            ? flags.output
            : join(
                flags.output !== undefined ? dirname(flags.output) : '.',
                `${digestHex(one.subject.digest)}.jwt`,
              );
        await writeFileAtomic(out, one.jws);
        print(one.subject.digest);
      }
      return;
    }
    if (
      flags.pushReference !== undefined &&
      namesTag(flags.pushReference) &&
      destination?.reference !== undefined &&
      signed.signatureManifest !== undefined
    ) {
      if (isTag(destination.reference)) {
        await destination.target.tag(signed.signatureManifest, destination.reference);
      }
    }
    for (const one of all) {
      print(one.subject.digest);
      print(one.signatureManifest?.digest ?? '');
    }
  });
}
