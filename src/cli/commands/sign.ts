import { join } from 'node:path';
import type { Command } from 'commander';
import { loadManifest, parseManifestLocator, writeFileAtomic } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { digestHex } from '../../oci/index.js';
import { ALGORITHMS, type Algorithm, isAlgorithm, sign } from '../../signature/index.js';
import { signingCertificateProblems } from '../../trust/index.js';
import { keysMatch, loadCertificates, loadPrivateKey } from '../../x509/index.js';
import { parseDuration } from '../duration.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { print, warn } from '../output.js';
import { collect } from './options.js';

interface SignFlags {
  method: string;
  key: string;
  cert?: string;
  reference: string[];
  expiry?: string;
  output?: string;
  mediaType?: string;
  alg?: string;
}

/** `nv2 sign`: sign a manifest, write the signature file, print the manifest digest. */
export function registerSign(program: Command): void {
  program
    .command('sign')
    .description('sign a manifest; prints its digest and writes the signature (a JWS) to a file')
    .argument('<target>', 'manifest to sign: file:PATH, or - / file:- for standard input')
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
    .option('-o, --output <file>', 'signature file to write (default: <digest hex>.jwt)')
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
      const locator = parseManifestLocator(target);
      if (flags.key === '-' && locator.kind === 'stdin') {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'the key and the manifest cannot both come from standard input',
        );
      }
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
      const manifest = await loadManifest(locator, {
        mediaType: flags.mediaType,
        stdin: process.stdin,
      });
      const now = new Date();
      const jws = sign(
        manifest.descriptor,
        { key, certificateChain: chain.map((c) => c.der) },
        {
          references: flags.reference,
          now,
          ...(algorithm !== undefined ? { algorithm } : {}),
          ...(expiresIn !== undefined ? { expiresIn } : {}),
        },
      );
      if (chain.length > 0) {
        for (const problem of signingCertificateProblems(chain[0]!, flags.reference, now)) {
          warn(`${problem}; the signature will not verify`);
        }
      }
      const out = flags.output ?? join('.', `${digestHex(manifest.descriptor.digest)}.jwt`);
      await writeFileAtomic(out, jws);
      print(manifest.descriptor.digest);
    });
}
