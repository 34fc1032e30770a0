import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../content/index.js';
import { listSignatures } from '../../notary/index.js';
import { digestHex, digestOf } from '../../oci/index.js';
import { print, warn } from '../output.js';
import { type RemoteFlags, addRemoteOptions, requireReference, withTargets } from '../target.js';

interface PullFlags extends RemoteFlags {
  output: string;
}

/** `nv2 pull REF`: download every signature of an artifact as `<digest hex>.jwt` files. */
export function registerPull(program: Command): void {
  const command = program
    .command('pull')
    .description(
      'download the signatures of an artifact into DIR as <digest hex>.jwt (the digest of each file); prints each path',
    )
    .argument('<target>', 'REF, docker://REF, oci://REF or oci-layout:DIR:TAG|@DIGEST')
    .option('-o, --output <dir>', 'directory to write into', '.')
    .action(async (target: string, flags: PullFlags) => {
      await withTargets(flags, async (opener) => {
        const opened = await opener.open(target);
        const subject = await opened.target.resolve(requireReference(opened));
        for (const entry of await listSignatures(opened.target, subject)) {
          if (entry.jws === undefined) {
            warn(
              `signature manifest ${entry.manifest.digest} skipped: ${entry.error?.code ?? ''}: ${entry.error?.message ?? ''}`,
            );
            continue;
          }
          const path = join(flags.output, `${digestHex(digestOf(entry.jws))}.jwt`);
          await writeFileAtomic(path, entry.jws);
          print(path);
        }
      });
    });
  addRemoteOptions(command);
}
