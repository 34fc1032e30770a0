import type { Command } from 'commander';
import { pushSignature } from '../../notary/index.js';
import { MAX_SIGNATURE_BYTES, parseSignature } from '../../signature/index.js';
import { readInput } from '../input.js';
import { print, warn } from '../output.js';
import {
  type RemoteFlags,
  addRemoteOptions,
  addSignatureRepositoryOption,
  openSignatureRepository,
  requireReference,
  withTargets,
} from '../target.js';

interface PushFlags extends RemoteFlags {
  file: string;
}

/** `nv2 push -f SIG REF`: store a signature made offline beside the artifact it signs. */
export function registerPush(program: Command): void {
  const command = program
    .command('push')
    .description('push a signature file beside the artifact; prints the signature manifest digest')
    .argument('<target>', 'REF, docker://REF, oci://REF or oci-layout:DIR:TAG|@DIGEST')
    .requiredOption('-f, --file <file>', 'signature file (JWS compact serialization)')
    .action(async (target: string, flags: PushFlags) => {
      const jws = await readInput(flags.file, MAX_SIGNATURE_BYTES, 'signature');
      const parsed = parseSignature(jws);
      await withTargets(flags, async (opener) => {
        const opened = await opener.open(target);
        const subject = await opened.target.resolve(requireReference(opened));
        if (parsed.claims.digest !== subject.digest) {
          warn(
            `the signature is for ${parsed.claims.digest}, not ${subject.digest}; it will not verify`,
          );
        }
        const signatures = await openSignatureRepository(opener, flags, { create: true });
        print((await pushSignature(signatures?.target ?? opened.target, subject, jws)).digest);
      });
    });
  addSignatureRepositoryOption(command, 'push the signature into this repository');
  addRemoteOptions(command);
}
