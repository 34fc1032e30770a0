import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InvalidInputError } from '../errors.js';

/**
 * The plugin's command line (plugin.ts): its usage texts, and the parsing its commands share
 * (the one image of a pull or push, nv2's own flags, `--help`).
 */

export const USAGE = `Usage: docker nv2 COMMAND

Notary v2 for docker: verify signatures before pull, run and create; carry them along on push.

Commands:
  pull IMAGE               verify IMAGE's signatures (when enabled), then pull it by the verified digest
  push IMAGE               docker push, then push the signatures kept for the pushed digest
  run, create IMAGE        verify IMAGE as pull does, then run or create the container from the
                           verified digest (also docker container run/create)
  notary sign IMAGE        sign IMAGE's manifest and keep the signature until push, or with
                           --remote sign what the registry holds and push the signature there
                           (see docker nv2 notary sign --help)
  notary --enabled[=true|false]
                           switch verification before pull, run and create on or off
  notary                   show the configuration

Every other command goes to docker unchanged, so alias docker="docker nv2" is safe.
Configuration: $DOCKER_CONFIG/nv2.json (default ~/.docker/nv2.json).
`;

export const SIGN_USAGE = `Usage: docker nv2 notary sign [OPTIONS] IMAGE

Sign IMAGE's manifest. Without --remote, the manifest is the one docker save describes, and the
signature is kept until docker nv2 push; with --remote, the manifest is what the registry holds
under IMAGE, and the signature is pushed there at once.

Options:
  -k, --key FILE           the signing key (default signingKey in nv2.json)
  -c, --cert FILE          its certificate, chain allowed (default signingCert in nv2.json)
      --remote             sign what the registry holds and push the signature there
  -r, --reference NAME     a name the signature says the image is published under; repeatable
                           (default IMAGE)
  -e, --expiry SECONDS     the signature expires this many seconds after signing
      --alg ALG            the signature algorithm (default from the key)
  -h, --help               show this help
`;

/** A docker push / pull flag that takes a value (everything else is a switch). */
export const VALUE_FLAGS = new Set(['--platform']);

/** Splits docker pull/push arguments into flags (kept in order) and the one image named. */
export function splitImageArgs(
  command: string,
  args: readonly string[],
): { flags: string[]; image: string } {
  const flags: string[] = [];
  const images: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('-')) {
      flags.push(arg);
      if (VALUE_FLAGS.has(arg) && i + 1 < args.length) flags.push(args[++i]!);
    } else {
      images.push(arg);
    }
  }
  if (images.length !== 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `docker nv2 ${command} needs exactly one image, got ${images.length}`,
    );
  }
  return { flags, image: images[0]! };
}

/** `parseArgs`, its usage errors reported as nv2's (exit 2), not as internal errors. */
export function parseFlags<T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `docker nv2 ${command}: ${(err as Error).message}`,
    );
  }
}

export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}
