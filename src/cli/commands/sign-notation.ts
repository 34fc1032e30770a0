import { join } from 'node:path';
import { loadManifest, parseManifestLocator, writeFileAtomic } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import type { EnvelopeFormat, SignatureTimestamper } from '../../notation/index.js';
import { signNotationArtifact } from '../../notary/index.js';
import { type Digest, digestHex } from '../../oci/index.js';
import { type SigningKey } from '../../signature/index.js';
import { loadCertificates } from '../../x509/index.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { print } from '../output.js';
import { withTargets } from '../target.js';
import { parseUserMetadata } from '../user-metadata.js';
import type { SignFlags } from './sign-common.js';
import { finishSigning, isOffline, openSigningTargets, withSigningKey } from './sign-common.js';

/**
 * `nv2 sign --signature-format jws|cose`: Notary Project envelopes, written to a file or pushed
 * as notation pushes them, with RFC 3161 timestamps when asked.
 */

const SIGNATURE_FORMATS = ['nv2', 'jws', 'cose'] as const;
type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];

export function signatureFormatOf(value: string): SignatureFormat {
  if (!(SIGNATURE_FORMATS as readonly string[]).includes(value)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `unknown signature format ${JSON.stringify(value)}: use ${SIGNATURE_FORMATS.join(', ')}`,
    );
  }
  return value as SignatureFormat;
}

/** The file a Notary Project envelope is written to by default: `<digest hex>.jws.json` or `.cose`. */
export function envelopeFileName(digest: Digest, format: EnvelopeFormat): string {
  return `${digestHex(digest)}${format === 'jws' ? '.jws.json' : '.cose'}`;
}

/**
 * Signs in a Notary Project envelope (`--signature-format jws|cose`): a file: target writes
 * the envelope; a registry or oci-layout target pushes the signature manifest notation
 * pushes (or writes the envelope with -o / --signature-only).
 */
export async function signNotationFormat(
  target: string,
  format: EnvelopeFormat,
  flags: SignFlags,
  expiresIn: number | undefined,
  version: string,
): Promise<void> {
  for (const [given, flag] of [
    [flags.alg !== undefined, '--alg (the algorithm follows from the key)'],
    [flags.reference.length > 0, '-r/--reference (an nv2 claim)'],
  ] as const) {
    if (given) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `${flag} does not apply to --signature-format ${format}`,
      );
    }
  }
  const userMetadata = parseUserMetadata(flags.userMetadata);
  await withSigningKey(flags, false, async (signingKey) => {
    if (signingKey.certificateChain !== undefined && signingKey.certificateChain.length === 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `--signature-format ${format} needs the signing certificate and its chain: -c CERT`,
      );
    }
    await signNotationWith(target, format, flags, signingKey, userMetadata, expiresIn, version);
  });
}

async function signNotationWith(
  target: string,
  format: EnvelopeFormat,
  flags: SignFlags,
  signingKey: SigningKey,
  userMetadata: Record<string, string>,
  expiresIn: number | undefined,
  version: string,
): Promise<void> {
  const now = new Date();
  const timestamper = await timestamperOf(flags, now);
  const options = {
    format,
    signingKey,
    now,
    ...(timestamper !== undefined ? { timestamper } : {}),
    signingAgent: `nv2/${version}`,
    ...(Object.keys(userMetadata).length > 0 ? { userMetadata } : {}),
    ...(expiresIn !== undefined ? { expiry: new Date(now.getTime() + expiresIn * 1000) } : {}),
  };
  if (isOffline(target)) {
    const locator = parseManifestLocator(target);
    if (flags.key === '-' && locator.kind === 'stdin') {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'the key and the manifest cannot both come from standard input',
      );
    }
    const manifest = await loadManifest(locator, {
      mediaType: flags.mediaType,
      stdin: process.stdin,
    });
    const { signNotationWithKey } = await import('../../notation/index.js');
    const signature = await signNotationWithKey({
      ...options,
      signingTime: now,
      descriptor: manifest.descriptor,
    });
    const out = flags.output ?? join('.', envelopeFileName(manifest.descriptor.digest, format));
    await writeFileAtomic(out, signature.envelope);
    print(manifest.descriptor.digest);
    return;
  }
  const offline = flags.signatureOnly === true || flags.output !== undefined;
  await withTargets(flags, async (opener) => {
    const { source, reference, destination } = await openSigningTargets(
      opener,
      target,
      flags,
      offline,
    );
    const signed = await signNotationArtifact(source.target, reference, {
      ...options,
      push: !offline,
      recursive: flags.recursive === true,
      ...(destination !== undefined ? { signatureTarget: destination.target } : {}),
    });
    await finishSigning(signed, flags, destination, offline, (one) => ({
      name: envelopeFileName(one.subject.digest, format),
      content: one.envelope,
    }));
  });
}

/**
 * The timestamper `--timestamp-url` and `--timestamp-root-cert` ask for: each token is checked
 * (nonce, imprint, EKU, chain to the root, revocation of the TSA's chain) before the
 * signature is stored.
 */
async function timestamperOf(
  flags: SignFlags,
  now: Date,
): Promise<SignatureTimestamper | undefined> {
  if (flags.timestampUrl === undefined && flags.timestampRootCert === undefined) return undefined;
  if (flags.timestampUrl === undefined || flags.timestampRootCert === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--timestamp-url and --timestamp-root-cert go together: the timestamp is checked against the root',
    );
  }
  const url = flags.timestampUrl;
  const roots = loadCertificates(
    await readInput(flags.timestampRootCert, MAX_PEM_BYTES, 'certificate'),
    flags.timestampRootCert,
  );
  const { requestTimestamp, defaultRevocationChecker } = await import('../../notation/index.js');
  const { createHttpTransport, proxyFromEnv } = await import('../../http/index.js');
  const revocation = defaultRevocationChecker();
  // One connection per request (nothing left open), through HTTPS_PROXY as notation's.
  const { fetch } = createHttpTransport({ keepAlive: false, proxy: proxyFromEnv(process.env) });
  return async (signature) =>
    (await requestTimestamp(url, signature, { roots, revocation, now, fetch })).token;
}
