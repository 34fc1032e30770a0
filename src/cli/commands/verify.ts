import type { Command } from 'commander';
import { loadManifest, parseManifestLocator } from '../../content/index.js';
import { InvalidInputError, VerificationFailedError } from '../../errors.js';
import {
  DEFAULT_MAX_SIGNATURES,
  evaluateNotationSignature,
  evaluateNv2Signature,
} from '../../verification/index.js';
import {
  type Descriptor,
  type DigestAlgorithm,
  MAX_ENVELOPE_BYTES,
  MediaTypes,
  digestAlgorithm,
  digestOf,
} from '../../oci/index.js';
import {
  MAX_SIGNATURE_BYTES,
  parseSignature,
  sniffEnvelopeMediaType,
} from '../../signature/index.js';
import {
  TrustSet,
  decidingFailure,
  describeFailedCheck,
  enforcedFailures,
} from '../../trust/index.js';
import {
  type CertificatePolicyConfigOptions,
  certificatePolicy,
  certificatePolicyConfig,
} from '../../policy/index.js';
import { type Certificate, loadCertificates } from '../../x509/index.js';
import { parseTime } from '../duration.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { type OutputFormat, print, printJson } from '../output.js';
import { parseUserMetadata } from '../user-metadata.js';
import { verificationJson } from '../verification-output.js';
import { verifyByPolicy } from '../verify-policy.js';
import {
  type RemoteFlags,
  addRemoteOptions,
  addSignatureRepositoryOption,
  openSignatureRepository,
  requireReference,
  withTargets,
} from '../target.js';
import { verificationPluginSettings } from './key.js';
import { collect, maxSignatures, outputFormat } from './options.js';

interface VerifyFlags extends RemoteFlags {
  file?: string;
  cert: string[];
  caCert: string[];
  tsaCert: string[];
  userMetadata: string[];
  mediaType?: string;
  at?: string;
  explain?: boolean;
  scope?: string;
  output: OutputFormat;
  maxSignatures?: number;
  pluginConfig: string[];
  pluginTimeout?: string;
}

async function loadAll(paths: readonly string[], what: string): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const path of paths)
    out.push(...loadCertificates(await readInput(path, MAX_PEM_BYTES, what), path));
  return out;
}

/**
 * Reads a signature file (an nv2 JWS, or a Notary Project JWS JSON or COSE envelope); one
 * too large to be a signature fails verification like any malformed one.
 */
async function readSignature(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readInput(path, Math.max(MAX_SIGNATURE_BYTES, MAX_ENVELOPE_BYTES), 'signature');
  } catch (err) {
    if (err instanceof InvalidInputError && err.code === 'NV2_ERR_FILE_TOO_LARGE') {
      throw new VerificationFailedError('NV2_ERR_SIGNATURE_TOO_LARGE', err.message);
    }
    throw err;
  }
  if (sniffEnvelopeMediaType(bytes) === undefined && bytes.byteLength > MAX_SIGNATURE_BYTES) {
    throw new VerificationFailedError(
      'NV2_ERR_SIGNATURE_TOO_LARGE',
      `${path} exceeds ${MAX_SIGNATURE_BYTES} bytes`,
    );
  }
  return bytes;
}

/**
 * The trust of -c/--ca-cert, --tsa-cert and -m, for `certificatePolicyConfig` (stored
 * signatures) or `certificatePolicy` (a signature file): -c certificates trusted as they are
 * (and where an nv2 kid is looked up), --ca-cert roots; both anchors of Notary Project
 * signatures.
 */
async function commandLineTrust(
  flags: VerifyFlags,
  now: Date,
): Promise<CertificatePolicyConfigOptions> {
  const certificates = await loadAll(flags.cert, 'certificate');
  const roots = await loadAll(flags.caCert, 'CA certificate');
  return {
    certificates: [...certificates, ...roots],
    trustSet: new TrustSet({ certificates, roots }),
    tsaCertificates: await loadAll(flags.tsaCert, 'TSA certificate'),
    userMetadata: parseUserMetadata(flags.userMetadata),
    verificationPlugins: verificationPluginSettings(flags),
    now,
  };
}

/**
 * Judges a Notary Project envelope given with -f against `subject` under the command-line
 * policy; prints like an nv2 signature's verification.
 *
 * @throws VerificationFailedError when an enforced check fails
 */
async function verifyEnvelopeFile(
  envelope: Buffer,
  subject: Descriptor,
  flags: VerifyFlags,
  trust: CertificatePolicyConfigOptions,
): Promise<void> {
  const mediaType = sniffEnvelopeMediaType(envelope)!;
  const evaluation = await evaluateNotationSignature(
    envelope,
    { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    certificatePolicy(trust),
    { mediaType },
  );
  if (!evaluation.verified) {
    const failed = enforcedFailures(evaluation.checks);
    // A broken signature is itself the error; a sound one not trusted is "no valid signature".
    throw new VerificationFailedError(
      failed[0]?.type === 'integrity' ? failed[0].code! : 'NV2_ERR_NO_VALID_SIGNATURE',
      `the ${mediaType === MediaTypes.notationCose ? 'COSE' : 'JWS'} signature does not verify: ${failed.map(describeFailedCheck).join('; ')}`,
    );
  }
  if (flags.output === 'json') printJson(verificationJson({ subject, evaluation }));
  else print(subject.digest);
}

/**
 * A local manifest's descriptor with the digest algorithm the nv2 signature names (sha256
 * when it cannot be read: the evaluation then reports why).
 */
function descriptorFor(signature: Buffer, mediaType: string, content: Uint8Array): Descriptor {
  let algorithm: DigestAlgorithm = 'sha256';
  try {
    algorithm = digestAlgorithm(parseSignature(signature).claims.digest);
  } catch {
    // Not an nv2 signature that parses: its integrity check says so.
  }
  return { mediaType, digest: digestOf(content, algorithm), size: content.byteLength };
}

/**
 * An nv2 signature file (`-f`) judged by the evaluation of the listing path and of a trust
 * policy, every check enforced; the first rule that failed is the error.
 */
async function verifyNv2File(
  signature: Buffer,
  subject: Descriptor,
  flags: VerifyFlags,
  trust: CertificatePolicyConfigOptions,
): Promise<void> {
  rejectUserMetadata(flags);
  const evaluation = await evaluateNv2Signature(signature, subject, {
    ...certificatePolicy(trust),
    trustSet: trust.trustSet,
  });
  const failed = decidingFailure(evaluation);
  if (failed !== undefined) {
    throw new VerificationFailedError(failed.code!, failed.message ?? 'failed');
  }
  if (flags.output === 'json') printJson(verificationJson({ subject, evaluation }));
  else print(subject.digest);
}

/**
 * `nv2 verify`: verify a manifest's signatures; prints the manifest digest on success. A
 * file: target is verified against the signature file `-f`; a registry or oci-layout target
 * against every signature stored beside it (or `-f`).
 */
export function registerVerify(program: Command): void {
  const command = program
    .command('verify')
    .description('verify a signature against a manifest; prints the manifest digest when it holds')
    .argument(
      '<target>',
      'manifest to verify: REF, docker://REF, oci://REF, oci-layout:DIR:TAG|@DIGEST, file:PATH, or - / file:- for standard input',
    )
    .option(
      '-f, --file <file>',
      'signature file (nv2 JWS, or a Notary Project JWS or COSE envelope); required for file: targets, else the stored signatures are verified',
    )
    .option(
      '-c, --cert <file>',
      'certificate trusted as it is, and where a kid is looked up (repeatable)',
      collect,
      [],
    )
    .option('--ca-cert <file>', 'root CA certificate to trust (repeatable)', collect, [])
    .option(
      '--tsa-cert <file>',
      'with -c/--ca-cert: root certificate of a timestamp authority whose timestamps on Notary Project signatures are trusted (repeatable)',
      collect,
      [],
    )
    .option(
      '-m, --user-metadata <KEY=VALUE>',
      'user metadata the signature must carry with this value (Notary Project signatures; repeatable)',
      collect,
      [],
    )
    .option(
      '--media-type <type>',
      "manifest media type (default: the manifest's mediaType field, else Docker schema 2)",
    )
    .option('--at <time>', 'verify as of this time (RFC 3339 or Unix seconds) instead of now')
    .option(
      '--explain',
      'print how the trust policy decided: scope, statement, level, each signature and each check',
    )
    .option(
      '--scope <repository>',
      'for oci-layout targets: the registry/repository whose trust policy applies',
    )
    .option(
      '--max-signatures <n>',
      `the most signatures evaluated (default ${DEFAULT_MAX_SIGNATURES})`,
      maxSignatures,
    )
    .option(
      '--plugin-config <KEY=VALUE>',
      'configuration for the verification plugin a signature names (repeatable)',
      collect,
      [],
    )
    .option(
      '--plugin-timeout <duration>',
      'how long one verification plugin command may take before it is stopped (default 60s)',
    )
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (target: string, flags: VerifyFlags) => {
      if (target !== '-' && !target.startsWith('file:')) {
        await verifyRemote(target, flags);
        return;
      }
      if (flags.file === undefined) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'verifying a file: target needs the signature file: -f FILE',
        );
      }
      const locator = parseManifestLocator(target);
      if (flags.file === '-' && locator.kind === 'stdin') {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'the signature and the manifest cannot both come from standard input',
        );
      }
      const now = flags.at !== undefined ? parseTime(flags.at) : new Date();
      const trust = await commandLineTrust(flags, now);
      const signature = await readSignature(flags.file);
      const manifest = await loadManifest(locator, {
        mediaType: flags.mediaType,
        stdin: process.stdin,
      });
      if (sniffEnvelopeMediaType(signature) !== undefined) {
        await verifyEnvelopeFile(signature, manifest.descriptor, flags, trust);
        return;
      }
      await verifyNv2File(
        signature,
        descriptorFor(signature, manifest.descriptor.mediaType, manifest.content),
        flags,
        trust,
      );
    });
  addSignatureRepositoryOption(command);
  addRemoteOptions(command);
}

async function verifyRemote(target: string, flags: VerifyFlags): Promise<void> {
  if (flags.cert.length === 0 && flags.caCert.length === 0 && flags.file === undefined) {
    await withTargets(flags, async (opener) => {
      if (flags.tsaCert.length > 0) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          '--tsa-cert goes with -c/--ca-cert; under the trust policy, timestamp roots come from its tsa: trust stores',
        );
      }
      const opened = await opener.open(target);
      const signatures = await openSignatureRepository(opener, flags);
      const result = await verifyByPolicy(opened, flags, signatures?.target);
      if (flags.output === 'json') printJson(verificationJson(result));
      else print(result.digest);
    });
    return;
  }
  if (flags.explain === true || flags.scope !== undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--explain and --scope apply to verification by the trust policy, which -c, --ca-cert and -f replace',
    );
  }
  const now = flags.at !== undefined ? parseTime(flags.at) : new Date();
  const trust = await commandLineTrust(flags, now);
  await withTargets(flags, async (opener) => {
    const opened = await opener.open(target);
    if (flags.file !== undefined) {
      const signature = await readSignature(flags.file);
      const subject = await opened.target.resolve(requireReference(opened));
      if (sniffEnvelopeMediaType(signature) !== undefined) {
        await verifyEnvelopeFile(signature, subject, flags, trust);
        return;
      }
      await verifyNv2File(
        signature,
        { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        flags,
        trust,
      );
      return;
    }
    // The certificates are a policy of one statement: the verification of the trust policy.
    const signatures = await openSignatureRepository(opener, flags);
    const result = await verifyByPolicy(
      opened,
      flags,
      signatures?.target,
      certificatePolicyConfig(trust),
    );
    if (flags.output === 'json') printJson(verificationJson(result));
    else print(result.digest);
  });
}

/** nv2 signatures carry no user metadata: requiring some of one is a mistake, said plainly. */
function rejectUserMetadata(flags: VerifyFlags): void {
  if (flags.userMetadata.length > 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--user-metadata applies to Notary Project (jws, cose) signatures; this is an nv2 signature, which carries none',
    );
  }
}
