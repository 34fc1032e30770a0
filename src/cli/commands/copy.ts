import type { Command } from 'commander';
import { type CopyProgressEvent, copy } from '../../content/index.js';
import { print } from '../output.js';
import { type RemoteFlags, addRemoteOptions, requireReference, withTargets } from '../target.js';

interface CopyFlags extends RemoteFlags {
  referrers: boolean;
}

function progress(event: CopyProgressEvent): void {
  process.stderr.write(
    `${event.type === 'copied' ? 'copied ' : 'exists '} ${event.kind.padEnd(8)} ${event.descriptor.digest} (${event.descriptor.size} bytes)\n`,
  );
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
    .action(async (source: string, destination: string, flags: CopyFlags) => {
      await withTargets(flags, async (opener) => {
        const src = await opener.open(source);
        const dst = await opener.open(destination, { create: true });
        const result = await copy(src.target, requireReference(src), dst.target, dst.reference, {
          referrers: flags.referrers,
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
  addRemoteOptions(command);
}
