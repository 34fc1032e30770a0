import type { Command } from 'commander';
import { loadManifest, parseManifestLocator } from '../../content/index.js';
import { InvalidInputError, VerificationFailedError } from '../../errors.js';
import { type SignatureVerdict, verifyArtifact } from '../../notary/index.js';
import { MAX_SIGNATURE_BYTES } from '../../signature/index.js';
import { TrustSet, type VerificationResult, verify } from '../../trust/index.js';
import { type Certificate, loadCertificates } from '../../x509/index.js';
import { parseTime } from '../duration.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { type OutputFormat, print, printJson } from '../output.js';
import { type RemoteFlags, addRemoteOptions, requireReference, withTargets } from '../target.js';
import { collect, outputFormat } from './options.js';

interface VerifyFlags extends RemoteFlags {
  file?: string;
  cert: string[];
  caCert: string[];
  mediaType?: string;
  at?: string;
  output: OutputFormat;
}

async function loadAll(paths: readonly string[], what: string): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const path of paths)
    out.push(...loadCertificates(await readInput(path, MAX_PEM_BYTES, what), path));
  return out;
}

/** Reads a signature file; one too large to be a signature fails verification like any malformed one. */
async function readSignature(path: string): Promise<Buffer> {
  try {
    return await readInput(path, MAX_SIGNATURE_BYTES, 'signature');
  } catch (err) {
    if (err instanceof InvalidInputError && err.code === 'NV2_ERR_FILE_TOO_LARGE') {
      throw new VerificationFailedError('NV2_ERR_SIGNATURE_TOO_LARGE', err.message);
    }
    throw err;
  }
}

function resultJson(result: VerificationResult): unknown {
  return {
    digest: result.digest,
    mediaType: result.mediaType,
    size: result.size,
    algorithm: result.algorithm,
    signer: { subject: result.signer.subject, sha256Fingerprint: result.signer.fingerprintSha256 },
    certificateChain: result.certificateChain.map((c) => ({
      subject: c.subject,
      sha256Fingerprint: c.fingerprintSha256,
    })),
    references: result.references,
    issuedAt: result.issuedAt?.toISOString(),
    notBefore: result.notBefore?.toISOString(),
    expiresAt: result.expiresAt?.toISOString(),
  };
}

function verdictJson(verdict: SignatureVerdict): unknown {
  return {
    signatureManifest: verdict.manifest.digest,
    verified: verdict.result !== undefined,
    ...(verdict.result !== undefined ? { result: resultJson(verdict.result) } : {}),
    ...(verdict.error !== undefined
      ? { error: { code: verdict.error.code, message: verdict.error.message } }
      : {}),
  };
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
      'signature file (JWS compact serialization); required for file: targets, else the stored signatures are verified',
    )
    .option(
      '-c, --cert <file>',
      'certificate trusted as it is, and where a kid is looked up (repeatable)',
      collect,
      [],
    )
    .option('--ca-cert <file>', 'root CA certificate to trust (repeatable)', collect, [])
    .option(
      '--media-type <type>',
      "manifest media type (default: the manifest's mediaType field, else Docker schema 2)",
    )
    .option('--at <time>', 'verify as of this time (RFC 3339 or Unix seconds) instead of now')
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
      const trust = new TrustSet({
        certificates: await loadAll(flags.cert, 'certificate'),
        roots: await loadAll(flags.caCert, 'CA certificate'),
      });
      const signature = await readSignature(flags.file);
      const manifest = await loadManifest(locator, {
        mediaType: flags.mediaType,
        stdin: process.stdin,
      });
      const result = await verify(
        signature,
        { mediaType: manifest.descriptor.mediaType, content: manifest.content },
        trust,
        { now },
      );
      if (flags.output === 'json') printJson(resultJson(result));
      else print(result.digest);
    });
  addRemoteOptions(command);
}

async function verifyRemote(target: string, flags: VerifyFlags): Promise<void> {
  const now = flags.at !== undefined ? parseTime(flags.at) : new Date();
  const trust = new TrustSet({
    certificates: await loadAll(flags.cert, 'certificate'),
    roots: await loadAll(flags.caCert, 'CA certificate'),
  });
  await withTargets(flags, async (opener) => {
    const opened = await opener.open(target);
    const reference = requireReference(opened);
    if (flags.file !== undefined) {
      const signature = await readSignature(flags.file);
      const subject = await opened.target.resolve(reference);
      const result = await verify(
        signature,
        { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        trust,
        { now },
      );
      if (flags.output === 'json') printJson(resultJson(result));
      else print(result.digest);
      return;
    }
    const outcome = await verifyArtifact(opened.target, reference, trust, { now });
    if (flags.output === 'json') {
      printJson({
        digest: outcome.subject.digest,
        mediaType: outcome.subject.mediaType,
        size: outcome.subject.size,
        signatures: outcome.signatures.map(verdictJson),
      });
      return;
    }
    const n = outcome.signatures.length;
    process.stderr.write(
      `${n} signature${n === 1 ? '' : 's'} found, ${outcome.verified.length} verified\n`,
    );
    for (const verdict of outcome.signatures) {
      if (verdict.result !== undefined) {
        process.stderr.write(
          `  ${verdict.manifest.digest}: verified, signed by ${verdict.result.signer.subject}\n`,
        );
      } else {
        process.stderr.write(
          `  ${verdict.manifest.digest}: not verified: ${verdict.error?.code ?? ''}: ${verdict.error?.message ?? ''}\n`,
        );
      }
    }
    print(outcome.subject.digest);
  });
}
