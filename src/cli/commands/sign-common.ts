import { dirname, join } from 'node:path';
import { parseOciLayoutLocator, writeFileAtomic } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { type Descriptor, isTag, parseReference } from '../../oci/index.js';
import { type SigningKey, fileSigningKey } from '../../signature/index.js';
import { signingCertificateProblems } from '../../trust/index.js';
import {
  Certificate,
  keysMatch,
  loadCertificates,
  loadPrivateKey,
  orderCertificateChain,
} from '../../x509/index.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { keyOpenOptions, pluginConfigOf } from './key.js';
import { print, warn } from '../output.js';
import {
  type OpenedTarget,
  type RemoteFlags,
  type TargetOpener,
  registryReference,
  requireReference,
  signatureRepositoryOf,
} from '../target.js';

/**
 * What both signature formats of `nv2 sign` share (sign.ts, sign-notation.ts): the flags, the
 * signing key and its certificate checks, the targets a signing works on, and how it ends.
 */

export interface SignFlags extends RemoteFlags {
  signatureOnly?: boolean;
  pushReference?: string;
  recursive?: boolean;
  method: string;
  signatureFormat: string;
  userMetadata: string[];
  key?: string;
  cert?: string;
  signingKeys?: string;
  timestampUrl?: string;
  timestampRootCert?: string;
  plugin?: string;
  pluginTimeout?: string;
  id?: string;
  pluginConfig: string[];
  reference: string[];
  expiry?: string;
  output?: string;
  mediaType?: string;
  alg?: string;
}

export function isOffline(target: string): boolean {
  return target === '-' || target.startsWith('file:');
}

export function warnAboutCertificate(
  chain: readonly Certificate[],
  references: string[],
  now: Date,
): void {
  if (chain.length > 0) {
    for (const problem of signingCertificateProblems(chain[0]!, references, now)) {
      warn(`${problem}; the signature will not verify`);
    }
  }
}

/**
 * Opens the signing key `-k`/`-c` name (a file, standard input, a pkcs11: URI, a named key,
 * or the default key), runs `use` with it and its parsed chain, and closes it (a token
 * session) whatever happens.
 */
export async function withSigningKey(
  flags: SignFlags,
  nv2Format: boolean,
  use: (signingKey: SigningKey, chain: Certificate[]) => Promise<void>,
): Promise<void> {
  let signingKey: SigningKey;
  if (flags.key === '-') {
    const key = loadPrivateKey(await readInput('-', MAX_PEM_BYTES, 'key'), 'standard input');
    const chain =
      flags.cert !== undefined
        ? orderCertificateChain(
            loadCertificates(await readInput(flags.cert, MAX_PEM_BYTES, 'certificate'), flags.cert),
          )
        : [];
    if (chain.length > 0 && !keysMatch(key, chain[0]!.publicKey)) {
      throw new InvalidInputError(
        'NV2_ERR_KEY_CERT_MISMATCH',
        `the key on standard input does not belong to the first certificate in ${flags.cert}`,
      );
    }
    signingKey = fileSigningKey(
      key,
      chain.map((c) => c.der),
      'the key on standard input',
    );
  } else if (flags.plugin !== undefined || flags.id !== undefined) {
    if (flags.plugin === undefined || flags.id === undefined || flags.key !== undefined) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'a plugin key is --plugin NAME --id KEYID, without -k',
      );
    }
    const { openEntry } = await import('../../keys/index.js');
    signingKey = await openEntry(
      {
        name: flags.id,
        id: flags.id,
        pluginName: flags.plugin,
        pluginConfig: pluginConfigOf(flags.pluginConfig),
      },
      keyOpenOptions(flags),
    );
  } else {
    const { openSigningKey } = await import('../../keys/index.js');
    ({ signingKey } = await openSigningKey(flags.key, flags.cert, keyOpenOptions(flags)));
  }
  if (nv2Format && signingKey.certificateChain === undefined) {
    await signingKey.close?.();
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${signingKey.name} is a plugin key, which signs the Notary Project formats: add --signature-format jws or cose`,
    );
  }
  try {
    const chain = (signingKey.certificateChain ?? []).map((der) => new Certificate(der));
    await use(signingKey, chain);
  } finally {
    await signingKey.close?.();
  }
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
export async function openSigningTargets(
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
export async function finishSigning<T extends SignedOne>(
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
