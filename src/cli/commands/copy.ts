import type { Command } from 'commander';
import { type CopyProgressEvent, copy } from '../../content/index.js';
import { print } from '../output.js';
import {
  type Creds,
  type RemoteFlags,
  addRemoteOptions,
  addSignatureRepositoryOption,
  openSignatureRepository,
  parseCreds,
  requireReference,
  withTargets,
} from '../target.js';

interface CopyFlags extends RemoteFlags {
  referrers: boolean;
  srcCreds?: Creds;
  destCreds?: Creds;
}

function progress(event: CopyProgressEvent): void {
  process.stderr.write(
    `${event.type === 'copied' ? 'copied ' : 'exists '} ${event.kind.padEnd(8)} ${event.descriptor.digest} (${event.descriptor.size} bytes)\n`,
  );
}

/** The flags of one side of a copy: its own credentials, when given, instead of -u/-p. */
function side(flags: CopyFlags, creds: Creds | undefined): RemoteFlags {
  return creds === undefined
    ? flags
    : { ...flags, username: creds.username, password: creds.password };
}

/** `nv2 copy SRC DST`: copy an artifact with its referrers (signatures travel with it). */
export function registerCopy(program: Command): void {
  const command = program
    .command('copy')
    .description(
      'copy an artifact and, recursively, its referrers (signatures, SBOMs) between registries and OCI layouts; prints the digest',
    )
    .argument('<source>', 'REF, docker://REF, oci://REF or oci-layout:DIR:TAG|@DIGEST')
    .argument(
      '<destination>',
      'REF, docker://REF, oci://REF or oci-layout:DIR[:TAG] (created when missing)',
    )
    .option('--no-referrers', 'copy the artifact only, leaving its referrers behind')
    .option(
      '--src-creds <user:password>',
      'credentials for the source registry (else -u/-p, NV2_USERNAME, docker config)',
      parseCreds,
    )
    .option(
      '--dest-creds <user:password>',
      'credentials for the destination registry (else -u/-p, NV2_USERNAME, docker config)',
      parseCreds,
    )
    .action(async (source: string, destination: string, flags: CopyFlags) => {
      // One client per side: each has its own credentials, connections and tokens, even when
      // both sides are the same registry.
      await withTargets(side(flags, flags.srcCreds), async (sourceOpener) => {
        await withTargets(side(flags, flags.destCreds), async (destinationOpener) => {
          const src = await sourceOpener.open(source);
          const signatures = await openSignatureRepository(sourceOpener, flags);
          const dst = await destinationOpener.open(destination, { create: true });
          const result = await copy(src.target, requireReference(src), dst.target, dst.reference, {
            referrers: flags.referrers,
            ...(signatures !== undefined ? { referrersSource: signatures.target } : {}),
            ...(process.stderr.isTTY ? { onProgress: progress } : {}),
          });
          if (process.stderr.isTTY) {
            process.stderr.write(
              `${result.manifestsCopied + result.blobsCopied} copied, ${result.manifestsSkipped + result.blobsSkipped} already there, ${result.referrers.length} referrers, ${result.bytesCopied} bytes\n`,
            );
          }
          print(result.descriptor.digest);
        });
      });
    });
  addSignatureRepositoryOption(
    command,
    "take the source's signatures (and other referrers) from this repository",
  );
  addRemoteOptions(command);
}
