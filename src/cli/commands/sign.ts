import { join } from 'node:path';
import type { Command } from 'commander';
import { loadManifest, parseManifestLocator, writeFileAtomic } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { signArtifact } from '../../notary/index.js';
import { digestHex } from '../../oci/index.js';
import {
  ALGORITHMS,
  type Algorithm,
  type SigningKey,
  isAlgorithm,
  signWithKey,
} from '../../signature/index.js';
import { parseDuration } from '../duration.js';
import { print } from '../output.js';
import { SIGNATURE_REPOSITORY_ENV, addRemoteOptions, withTargets } from '../target.js';
import { collect } from './options.js';
import type { SignFlags } from './sign-common.js';
import {
  finishSigning,
  isOffline,
  openSigningTargets,
  warnAboutCertificate,
  withSigningKey,
} from './sign-common.js';
import { signNotationFormat, signatureFormatOf } from './sign-notation.js';

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
