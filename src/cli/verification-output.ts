/**
 * How `verify` and `pull` show a verification: JSON (`--output json`, one shape for every
 * mode) and the text on standard error (the summary, `--explain`). Renderers only: they
 * decide nothing.
 */
import { type Descriptor, MediaTypes } from '../oci/index.js';
import type { PolicyVerification, SignatureOutcome } from '../verification/index.js';
import type { SignatureEvaluation } from '../trust/index.js';

/** One evaluated signature as JSON. */
function evaluationJson(e: SignatureEvaluation): Record<string, unknown> {
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
    ...(e.algorithm !== undefined ? { algorithm: e.algorithm } : {}),
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
    ...(e.references !== undefined ? { references: e.references } : {}),
    signingTime: e.signingTime?.toISOString(),
    // An nv2 signature's `iat`, under the name its JSON has always had.
    ...(e.format === 'nv2' ? { issuedAt: e.signingTime?.toISOString() } : {}),
    notBefore: e.notBefore?.toISOString(),
    expiresAt: e.expiresAt?.toISOString(),
    checks: e.checks,
  };
}

/**
 * One signature found, as JSON. `signer` and `checks` repeat the evaluation's at the top
 * level, where verification by the trust policy has always put them.
 */
function signatureJson(s: SignatureOutcome): unknown {
  const e = s.evaluation;
  return {
    signatureManifest: s.manifest.digest,
    envelopeMediaType: s.envelopeMediaType,
    // Unevaluated (unreadable): the format its manifest's artifactType names, if nv2's.
    format:
      e?.format ?? (s.manifest.artifactType === MediaTypes.nv2ArtifactType ? 'nv2' : undefined),
    verified: e?.verified === true,
    ...(e?.signer !== undefined
      ? { signer: { subject: e.signer.subject, sha256Fingerprint: e.signer.fingerprintSha256 } }
      : {}),
    ...(e !== undefined ? { checks: e.checks, result: evaluationJson(e) } : {}),
    ...(s.error !== undefined ? { error: { code: s.error.code, message: s.error.message } } : {}),
  };
}

/**
 * What was found and what verified, for standard error: under the trust policy with the
 * statement that decided; under certificates (-c/--ca-cert) with every signature's verdict.
 */
export function summary(result: PolicyVerification): string {
  const n = result.signatures.length;
  const found = `${n} signature${n === 1 ? '' : 's'} found, ${result.verifiedSignatures.length} verified`;
  if (result.trustSource === 'certificates') {
    const lines = [found];
    for (const s of result.signatures) {
      const e = s.evaluation;
      if (e?.verified === true) {
        // nv2 signatures are the -c path's own; other formats are named.
        const format = e.format === 'nv2' ? '' : ` (${e.format})`;
        lines.push(
          `  ${s.manifest.digest}: verified${format}, signed by ${e.signer?.subject ?? '?'}`,
        );
      } else {
        lines.push(
          `  ${s.manifest.digest}: not verified: ${s.error?.code ?? ''}: ${s.error?.message ?? ''}`,
        );
      }
    }
    return `${lines.join('\n')}\n`;
  }
  const lines = [`${found} under the trust policy "${result.statement.name}" (${result.level})`];
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

function explainSignature(s: SignatureOutcome): string[] {
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
      `    ${c.type.padEnd(18)} ${c.action.padEnd(7)} ${checkMark(c.passed)}${c.message !== undefined ? `: ${c.message}` : ''}${c.code !== undefined ? ` (${c.code})` : ''}`,
    );
  }
  lines.push(`    verdict: ${e.verified ? 'verified' : 'not verified'}`);
  return lines;
}

/** The decision in words, for --explain. */
export function explain(r: PolicyVerification): string {
  const lines = [
    `reference:  ${r.reference}`,
    `repository: ${r.repository ?? '*'}`,
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

/**
 * A signature file (`-f`) verified against a manifest: no listing, one evaluation, trust from
 * certificates (-c/--ca-cert).
 */
export interface FileVerification {
  readonly subject: Descriptor;
  readonly evaluation: SignatureEvaluation;
}

/**
 * A verification as JSON (`--output json`): the one shape of every mode. The subject
 * (`digest`, `mediaType`, `size`), `trustSource`, `level`, `passed` and `warnings` are
 * always there; a verification of stored signatures adds the statement, hints and every
 * signature (`signatures`, `signaturesFound`); a signature file (`-f`) has no signature
 * manifest, and its evaluation's fields stand at the top level instead.
 */
export function verificationJson(r: PolicyVerification | FileVerification): unknown {
  const common = {
    digest: r.subject.digest,
    mediaType: r.subject.mediaType,
    size: r.subject.size,
  };
  if (!('signatures' in r)) {
    return {
      ...common,
      trustSource: 'certificates',
      level: 'strict',
      passed: r.evaluation.verified,
      warnings: [],
      ...evaluationJson(r.evaluation),
    };
  }
  return {
    reference: r.reference,
    repository: r.repository,
    trustSource: r.trustSource,
    statement: r.statement.name,
    scope: r.scope,
    level: r.level,
    ...common,
    passed: r.passed,
    warnings: r.warnings,
    hints: r.hints,
    issuerSources: r.issuerSources,
    signaturesFound: r.signaturesFound,
    signatures: r.signatures.map(signatureJson),
  };
}
