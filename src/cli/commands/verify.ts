import type { Command } from 'commander';
import {
  type ReadOnlyTarget,
  type ReferrerLister,
  loadManifest,
  parseManifestLocator,
} from '../../content/index.js';
import { InvalidInputError, VerificationFailedError } from '../../errors.js';
import {
  type EvaluatedSignature,
  type PolicyVerification,
  PolicyVerificationError,
  type SignatureVerdict,
  verifyArtifact,
  verifyWithPolicy,
} from '../../notary/index.js';
import { type Descriptor, MAX_ENVELOPE_BYTES, MediaTypes } from '../../oci/index.js';
import { configDirectory, loadPolicyConfig } from '../../policy/index.js';
import { MAX_SIGNATURE_BYTES, sniffEnvelopeMediaType } from '../../signature/index.js';
import {
  type EvaluationPolicy,
  LEVEL_ACTIONS,
  type SignatureEvaluation,
  TrustSet,
  type VerificationResult,
  verify,
} from '../../trust/index.js';
import { type Certificate, loadCertificates } from '../../x509/index.js';
import { parseTime } from '../duration.js';
import { MAX_PEM_BYTES, readInput } from '../input.js';
import { type OutputFormat, print, printJson, warn } from '../output.js';
import {
  type OpenedTarget,
  type RemoteFlags,
  addRemoteOptions,
  addSignatureRepositoryOption,
  openSignatureRepository,
  requireReference,
  withTargets,
} from '../target.js';
import { collect, outputFormat } from './options.js';

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
 * User metadata from repeated `KEY=VALUE` values (notation's `-m`). Keys in the
 * `io.cncf.notary` namespace are reserved for the signature specification.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseUserMetadata(values: readonly string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `user metadata ${JSON.stringify(value)} is not KEY=VALUE`,
      );
    }
    const key = value.slice(0, eq);
    if (key.startsWith('io.cncf.notary')) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `user metadata key ${JSON.stringify(key)} is reserved (the io.cncf.notary namespace belongs to the signature specification)`,
      );
    }
    if (Object.hasOwn(metadata, key)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `user metadata key ${JSON.stringify(key)} is given twice`,
      );
    }
    metadata[key] = value.slice(eq + 1);
  }
  return metadata;
}

/**
 * The policy Notary Project signatures are judged under when the trust comes from the command
 * line: every check enforced (strict), the given certificates as anchors of both signing
 * schemes, any signer identity, and the TSA roots for timestamps.
 */
async function commandLinePolicy(flags: VerifyFlags, now: Date): Promise<EvaluationPolicy> {
  const anchors = [
    ...(await loadAll(flags.cert, 'certificate')),
    ...(await loadAll(flags.caCert, 'CA certificate')),
  ];
  const userMetadata = parseUserMetadata(flags.userMetadata);
  return {
    actions: LEVEL_ACTIONS.strict,
    anchors: {
      ca: anchors,
      signingAuthority: anchors,
      tsa: await loadAll(flags.tsaCert, 'TSA certificate'),
    },
    trustedIdentity: () => true,
    trustedIdentities: ['*'],
    verificationPlugins: (await import('./key.js')).verificationPluginSettings(flags),
    ...(Object.keys(userMetadata).length > 0 ? { userMetadata } : {}),
    now,
  };
}

function evaluationJson(e: SignatureEvaluation): unknown {
  return {
    format: e.format,
    verified: e.verified,
    ...(e.signedDescriptor !== undefined
      ? {
          digest: e.signedDescriptor.digest,
          mediaType: e.signedDescriptor.mediaType,
          size: e.signedDescriptor.size,
          ...(e.signedDescriptor.annotations !== undefined
            ? { userMetadata: e.signedDescriptor.annotations }
            : {}),
        }
      : {}),
    ...(e.signer !== undefined
      ? { signer: { subject: e.signer.subject, sha256Fingerprint: e.signer.fingerprintSha256 } }
      : {}),
    ...(e.certificateChain !== undefined
      ? {
          certificateChain: e.certificateChain.map((c) => ({
            subject: c.subject,
            sha256Fingerprint: c.fingerprintSha256,
          })),
        }
      : {}),
    signingTime: e.signingTime?.toISOString(),
    expiresAt: e.expiresAt?.toISOString(),
    checks: e.checks,
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
  now: Date,
): Promise<void> {
  const mediaType = sniffEnvelopeMediaType(envelope)!;
  const { evaluateNotationSignature } = await import('../../notation/index.js');
  const evaluation = await evaluateNotationSignature(
    envelope,
    { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    await commandLinePolicy(flags, now),
    { mediaType },
  );
  if (!evaluation.verified) {
    const failed = evaluation.checks.filter((c) => c.action === 'enforce' && c.passed === false);
    throw new VerificationFailedError(
      failed[0]?.type === 'integrity' ? 'NV2_ERR_SIGNATURE_INVALID' : 'NV2_ERR_NO_VALID_SIGNATURE',
      `the ${mediaType === MediaTypes.notationCose ? 'COSE' : 'JWS'} signature does not verify: ${failed.map((c) => `${c.type}: ${c.message ?? 'failed'}`).join('; ')}`,
    );
  }
  if (flags.output === 'json') printJson(evaluationJson(evaluation));
  else print(subject.digest);
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
    format: verdict.evaluation?.format ?? 'nv2',
    verified: verdict.result !== undefined || verdict.evaluation?.verified === true,
    ...(verdict.result !== undefined ? { result: resultJson(verdict.result) } : {}),
    ...(verdict.evaluation !== undefined ? { result: evaluationJson(verdict.evaluation) } : {}),
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
      const trust = new TrustSet({
        certificates: await loadAll(flags.cert, 'certificate'),
        roots: await loadAll(flags.caCert, 'CA certificate'),
      });
      const signature = await readSignature(flags.file);
      const manifest = await loadManifest(locator, {
        mediaType: flags.mediaType,
        stdin: process.stdin,
      });
      if (sniffEnvelopeMediaType(signature) !== undefined) {
        await verifyEnvelopeFile(signature, manifest.descriptor, flags, now);
        return;
      }
      rejectUserMetadata(flags);
      const result = await verify(
        signature,
        { mediaType: manifest.descriptor.mediaType, content: manifest.content },
        trust,
        { now },
      );
      if (flags.output === 'json') printJson(resultJson(result));
      else print(result.digest);
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
      if (flags.output === 'json') printJson(policyJson(result));
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
      if (sniffEnvelopeMediaType(signature) !== undefined) {
        await verifyEnvelopeFile(signature, subject, flags, now);
        return;
      }
      rejectUserMetadata(flags);
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
    const signatures = await openSignatureRepository(opener, flags);
    const outcome = await verifyArtifact(opened.target, reference, trust, {
      now,
      notationPolicy: await commandLinePolicy(flags, now),
      ...(signatures !== undefined ? { signatureTarget: signatures.target } : {}),
    });
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
      } else if (verdict.evaluation?.verified === true) {
        process.stderr.write(
          `  ${verdict.manifest.digest}: verified (${verdict.evaluation.format}), signed by ${verdict.evaluation.signer?.subject ?? '?'}\n`,
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

/** nv2 signatures carry no user metadata: requiring some of one is a mistake, said plainly. */
function rejectUserMetadata(flags: VerifyFlags): void {
  if (flags.userMetadata.length > 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      '--user-metadata applies to Notary Project (jws, cose) signatures; this is an nv2 signature, which carries none',
    );
  }
}

/** Flags of commands that verify by the trust policy. */
export interface PolicyFlags {
  at?: string;
  /** `KEY=VALUE` user metadata the signature must carry. */
  userMetadata?: string[];
  explain?: boolean;
  scope?: string;
  output?: OutputFormat;
  /** `KEY=VALUE` configuration for verification plugins. */
  pluginConfig?: string[];
  pluginTimeout?: string;
}

/** The reference whose policy applies to an opened target: the registry name, or --scope for a layout. */
function policyReference(opened: OpenedTarget, flags: PolicyFlags): string {
  const reference = requireReference(opened);
  const pin = reference.includes(':') ? `@${reference}` : `:${reference}`;
  if (flags.scope !== undefined) {
    return `${flags.scope}${pin}`;
  }
  if (!opened.remote) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `which trust policy applies to ${opened.name}? Name its repository with --scope REGISTRY/REPOSITORY (or verify with -c/--ca-cert)`,
    );
  }
  return opened.name;
}

/**
 * Verifies an opened target under the trust policy of $NV2_CONFIG_DIR, printing warnings (and
 * with --explain the whole decision) on standard error. Shared by `verify` and `pull`.
 */
export async function verifyByPolicy(
  opened: OpenedTarget,
  flags: PolicyFlags,
  signatureTarget?: ReadOnlyTarget & ReferrerLister,
): Promise<PolicyVerification> {
  const now = flags.at !== undefined ? parseTime(flags.at) : new Date();
  const config = await loadPolicyConfig(configDirectory(process.env));
  let result: PolicyVerification;
  try {
    const userMetadata = parseUserMetadata(flags.userMetadata ?? []);
    const { verificationPluginSettings } = await import('./key.js');
    result = await verifyWithPolicy(opened.target, policyReference(opened, flags), config, {
      now,
      verificationPlugins: verificationPluginSettings(flags),
      ...(Object.keys(userMetadata).length > 0 ? { userMetadata } : {}),
      ...(signatureTarget !== undefined ? { signatureTarget } : {}),
    });
  } catch (err) {
    if (err instanceof PolicyVerificationError && flags.explain === true && flags.output !== 'json')
      process.stderr.write(explain(err.result));
    throw err;
  }
  if (flags.output !== 'json') {
    for (const warning of result.warnings) warn(warning);
    if (flags.explain === true) process.stderr.write(explain(result));
    else if (result.level !== 'skip') process.stderr.write(summary(result));
  }
  return result;
}

/** What was found and what verified, as the -c/--ca-cert path says it. */
function summary(result: PolicyVerification): string {
  const n = result.signatures.length;
  const lines = [
    `${n} signature${n === 1 ? '' : 's'} found, ${result.verifiedSignatures.length} verified under the trust policy "${result.statement.name}" (${result.level})`,
  ];
  for (const s of result.verifiedSignatures) {
    const signer = s.evaluation?.signer?.subject;
    lines.push(
      `  ${s.manifest.digest}: verified${signer !== undefined ? `, signed by ${signer}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function checkMark(passed: boolean | undefined): string {
  return passed === true ? 'passed' : passed === false ? 'FAILED' : 'not run';
}

function explainSignature(s: EvaluatedSignature): string[] {
  const lines = [
    `  signature ${s.manifest.digest}${s.envelopeMediaType ? ` (${s.envelopeMediaType})` : ''}`,
  ];
  if (s.evaluation === undefined) {
    lines.push(`    not evaluated: ${s.error?.code ?? ''}: ${s.error?.message ?? ''}`);
    return lines;
  }
  const e = s.evaluation;
  if (e.signer !== undefined) {
    lines.push(`    signer:  ${e.signer.subject}`);
    lines.push(`    sha256:  ${e.signer.fingerprintSha256}`);
  }
  if (e.certificateChain !== undefined)
    lines.push(`    chain:   ${e.certificateChain.map((c) => c.subject).join(' -> ')}`);
  for (const c of e.checks) {
    lines.push(
      `    ${c.type.padEnd(18)} ${c.action.padEnd(7)} ${checkMark(c.passed)}${c.message !== undefined ? `: ${c.message}` : ''}`,
    );
  }
  lines.push(`    verdict: ${e.verified ? 'verified' : 'not verified'}`);
  return lines;
}

/** The decision in words, for --explain. */
function explain(r: PolicyVerification): string {
  const lines = [
    `reference:  ${r.reference}`,
    `repository: ${r.repository}`,
    `statement:  "${r.statement.name}" (matched by scope ${r.scope})`,
    `level:      ${r.level}${r.level === 'skip' ? ' (nothing is verified)' : ''}`,
  ];
  if (r.statement.trustStores !== undefined)
    lines.push(`stores:     ${r.statement.trustStores.join(', ')}`);
  if (r.statement.trustedIdentities !== undefined)
    lines.push(`identities: ${r.statement.trustedIdentities.join('; ')}`);
  lines.push(`digest:     ${r.digest}`);
  if (r.level !== 'skip') {
    lines.push(`signatures: ${r.signatures.length} found, ${r.verifiedSignatures.length} verified`);
    for (const s of r.signatures) lines.push(...explainSignature(s));
  }
  for (const hint of r.hints) lines.push(`hint: ${hint}`);
  lines.push(`result:     ${r.passed ? 'passed' : 'FAILED'}`);
  return `${lines.join('\n')}\n`;
}

/** The policy decision as JSON (`--output json`). */
export function policyJson(r: PolicyVerification): unknown {
  return {
    reference: r.reference,
    repository: r.repository,
    statement: r.statement.name,
    scope: r.scope,
    level: r.level,
    digest: r.digest,
    mediaType: r.subject.mediaType,
    size: r.subject.size,
    passed: r.passed,
    warnings: r.warnings,
    hints: r.hints,
    signatures: r.signatures.map((s) => ({
      signatureManifest: s.manifest.digest,
      envelopeMediaType: s.envelopeMediaType,
      verified: s.evaluation?.verified ?? false,
      ...(s.evaluation?.signer !== undefined
        ? {
            signer: {
              subject: s.evaluation.signer.subject,
              sha256Fingerprint: s.evaluation.signer.fingerprintSha256,
            },
          }
        : {}),
      ...(s.evaluation !== undefined ? { checks: s.evaluation.checks } : {}),
      ...(s.error !== undefined ? { error: { code: s.error.code, message: s.error.message } } : {}),
    })),
  };
}
