import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { copy, openOciLayout, writeFileAtomic } from '../../content/index.js';
import { InvalidInputError, VerificationInconclusiveError } from '../../errors.js';
import { listNotationSignatures, listSignatures } from '../../notary/index.js';
import { digestHex, digestOf, parseReference } from '../../oci/index.js';
import { parseTime } from '../duration.js';
import { print, warn } from '../output.js';
import {
  type OpenedTarget,
  type RemoteFlags,
  addRemoteOptions,
  addSignatureRepositoryOption,
  openSignatureRepository,
  requireReference,
  withTargets,
} from '../target.js';
import { collect, maxSignatures } from './options.js';
import { envelopeFileName } from './sign-notation.js';
import { verifyByPolicy } from '../verify-policy.js';

interface PullFlags extends RemoteFlags {
  output?: string;
  signatures?: boolean;
  at?: string;
  explain?: boolean;
  scope?: string;
  maxSignatures?: number;
  userMetadata: string[];
}

/** Creates `dir` and its parents when missing, as `oras pull -o` does. */
async function createOutputDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${dir} is not a directory`, {
        cause: err,
      });
    }
    throw new VerificationInconclusiveError(
      'NV2_ERR_IO',
      `cannot create ${dir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * `nv2 pull --signatures REF -o DIR`: every signature of an artifact, named by the digest of
 * its bytes: nv2 signatures as `<hex>.jwt`, Notary Project envelopes as `<hex>.jws.json`
 * (JWS JSON) and `<hex>.cose` (COSE_Sign1).
 */
async function pullSignatures(
  opened: OpenedTarget,
  dir: string,
  signatures: OpenedTarget | undefined,
): Promise<void> {
  const subject = await opened.target.resolve(requireReference(opened));
  await createOutputDirectory(dir);
  const options = signatures !== undefined ? { signatureTarget: signatures.target } : {};
  const entries = await listSignatures(opened.target, subject, options);
  for (const entry of entries) {
    if (entry.jws === undefined) {
      warn(
        `signature manifest ${entry.manifest.digest} skipped: ${entry.error?.code ?? ''}: ${entry.error?.message ?? ''}`,
      );
      continue;
    }
    const path = join(dir, `${digestHex(digestOf(entry.jws))}.jwt`);
    await writeFileAtomic(path, entry.jws);
    print(path);
  }
  for (const entry of await listNotationSignatures(opened.target, subject, options)) {
    if (entry.envelope === undefined || entry.format === undefined) {
      warn(
        `signature manifest ${entry.manifest.digest} skipped: ${entry.error?.code ?? ''}: ${entry.error?.message ?? ''}`,
      );
      continue;
    }
    const path = join(dir, envelopeFileName(digestOf(entry.envelope), entry.format));
    await writeFileAtomic(path, entry.envelope);
    print(path);
  }
}

/**
 * `nv2 pull REF [--output DIR]`: verify REF under the trust policy, then copy the image by
 * its verified digest (with its referrers) into an OCI layout, or print the pinned
 * `name@digest` for another tool to pull.
 */
export function registerPull(program: Command): void {
  const command = program
    .command('pull')
    .description(
      'verify an image under the trust policy, then copy it by digest into an OCI layout (-o DIR), or print the pinned name@digest; with --signatures, download its signatures instead',
    )
    .argument('<target>', 'REF, docker://REF, oci://REF or oci-layout:DIR:TAG|@DIGEST')
    .option(
      '-o, --output <dir>',
      'OCI layout directory to copy the verified image into; with --signatures, the directory for the signature files (either created when missing)',
    )
    .option(
      '--signatures',
      'download the signatures of the artifact (no verification): <digest hex>.jwt (nv2), .jws.json (jws), .cose (cose)',
    )
    .option('--at <time>', 'verify as of this time (RFC 3339 or Unix seconds) instead of now')
    .option('--explain', 'print how the trust policy decided')
    .option('--max-signatures <n>', 'the most signatures evaluated (default 100)', maxSignatures)
    .option(
      '-m, --user-metadata <KEY=VALUE>',
      'user metadata a Notary Project signature must carry (repeatable)',
      collect,
      [],
    )
    .option(
      '--scope <repository>',
      'for oci-layout sources: the registry/repository whose trust policy applies',
    )
    .action(async (target: string, flags: PullFlags) => {
      if (flags.at !== undefined) parseTime(flags.at);
      await withTargets(flags, async (opener) => {
        const opened = await opener.open(target);
        const signatures = await openSignatureRepository(opener, flags);
        if (flags.signatures === true) {
          await pullSignatures(opened, flags.output ?? '.', signatures);
          return;
        }
        const result = await verifyByPolicy(
          opened,
          {
            ...(flags.at !== undefined ? { at: flags.at } : {}),
            ...(flags.explain === true ? { explain: true } : {}),
            ...(flags.scope !== undefined ? { scope: flags.scope } : {}),
            ...(flags.maxSignatures !== undefined ? { maxSignatures: flags.maxSignatures } : {}),
            userMetadata: flags.userMetadata,
          },
          signatures?.target,
        );
        if (flags.output === undefined) {
          if (!opened.remote) {
            throw new InvalidInputError(
              'NV2_ERR_INVALID_ARGUMENT',
              'pulling from an OCI layout needs --output DIR',
            );
          }
          print(`${repositoryName(opened)}@${result.digest}`);
          return;
        }
        const layout = await openOciLayout(flags.output, { create: true });
        const reference = requireReference(opened);
        const tag = reference.includes(':') ? undefined : reference;
        await copy(opened.target, result.digest, layout, tag, {
          referrers: true,
          ...(signatures !== undefined ? { referrersSource: signatures.target } : {}),
        });
        print(`${opened.remote ? repositoryName(opened) : opened.name}@${result.digest}`);
      });
    });
  addSignatureRepositoryOption(command);
  addRemoteOptions(command);
}

/** `registry/repository` of a registry target. */
function repositoryName(opened: OpenedTarget): string {
  const ref = parseReference(opened.name);
  return `${ref.registry}/${ref.repository}`;
}
