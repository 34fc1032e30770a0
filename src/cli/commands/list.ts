import type { Command } from 'commander';
import type { parsePayload } from '../../notation/index.js';
import {
  type NotationSignatureEntry,
  type SignatureEntry,
  listNotationSignatures,
  listSignatures,
} from '../../notary/index.js';
import { Certificate } from '../../x509/index.js';
import { type OutputFormat, print, printJson } from '../output.js';
import {
  type RemoteFlags,
  addRemoteOptions,
  addSignatureRepositoryOption,
  openSignatureRepository,
  requireReference,
  withTargets,
} from '../target.js';
import { outputFormat } from './options.js';

interface ListFlags extends RemoteFlags {
  output: OutputFormat;
}

/** What `nv2 list` shows of one signature. */
interface Row {
  readonly digest: string;
  /** `nv2`, `jws` or `cose`. */
  readonly format: string;
  readonly signer?: string;
  readonly signedAt?: string;
  readonly algorithm?: string;
  readonly references: readonly string[];
  /** Notary Project signatures: the signed expiry and user metadata. */
  readonly expiresAt?: string;
  readonly userMetadata?: Readonly<Record<string, string>>;
  readonly error?: { code: string; message: string };
}

function rowOf(entry: SignatureEntry): Row {
  const sig = entry.signature;
  let signer: string | undefined;
  if (sig !== undefined) {
    const first = sig.x5cDer[0];
    if (first !== undefined) {
      try {
        signer = new Certificate(first).subject;
      } catch {
        signer = undefined;
      }
    } else if (sig.header.kid !== undefined) signer = `kid ${sig.header.kid}`;
  }
  const iat = sig?.claims.iat;
  return {
    digest: entry.manifest.digest,
    format: 'nv2',
    ...(signer !== undefined ? { signer } : {}),
    ...(iat !== undefined ? { signedAt: new Date(iat * 1000).toISOString() } : {}),
    ...(sig !== undefined ? { algorithm: sig.header.alg } : {}),
    references: sig?.claims.references ?? [],
    ...(entry.error !== undefined
      ? { error: { code: entry.error.code, message: entry.error.message } }
      : {}),
  };
}

/** Rows of the Notary Project signatures; their module loads only when there are some. */
async function notationRows(...args: Parameters<typeof listNotationSignatures>): Promise<Row[]> {
  const entries = await listNotationSignatures(...args);
  if (entries.length === 0) return [];
  const { parsePayload: parse } = await import('../../notation/index.js');
  return entries.map((e) => notationRowOf(e, parse));
}

function notationRowOf(entry: NotationSignatureEntry, parse: typeof parsePayload): Row {
  const parsed = entry.parsed;
  const signingTime = parsed?.authenticSigningTime ?? parsed?.signingTime;
  let userMetadata: Record<string, string> | undefined;
  if (parsed !== undefined) {
    try {
      userMetadata = parse(parsed.payload).annotations;
    } catch {
      userMetadata = undefined;
    }
  }
  return {
    digest: entry.manifest.digest,
    format: entry.format ?? entry.envelopeMediaType ?? 'unknown',
    ...(parsed?.certificateChain[0] !== undefined
      ? { signer: parsed.certificateChain[0].subject }
      : {}),
    ...(signingTime !== undefined ? { signedAt: signingTime.toISOString() } : {}),
    ...(parsed !== undefined ? { algorithm: parsed.algorithm } : {}),
    references: [],
    ...(parsed?.expiry !== undefined ? { expiresAt: parsed.expiry.toISOString() } : {}),
    ...(userMetadata !== undefined ? { userMetadata } : {}),
    ...(entry.error !== undefined
      ? { error: { code: entry.error.code, message: entry.error.message } }
      : {}),
  };
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** `nv2 list`: the signatures stored for an artifact. */
export function registerList(program: Command): void {
  const command = program
    .command('list')
    .description(
      'list the signatures of an artifact in a registry or OCI layout (nv2, Notary Project jws and cose)',
    )
    .argument('<target>', 'REF, docker://REF, oci://REF or oci-layout:DIR:TAG|@DIGEST')
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (target: string, flags: ListFlags) => {
      await withTargets(flags, async (opener) => {
        const opened = await opener.open(target);
        const subject = await opened.target.resolve(requireReference(opened));
        const signatures = await openSignatureRepository(opener, flags);
        const options = signatures !== undefined ? { signatureTarget: signatures.target } : {};
        const rows = [
          ...(await listSignatures(opened.target, subject, options)).map(rowOf),
          ...(await notationRows(opened.target, subject, options)),
        ];
        if (flags.output === 'json') {
          printJson({ digest: subject.digest, signatures: rows });
          return;
        }
        process.stderr.write(
          `${subject.digest}: ${rows.length} signature${rows.length === 1 ? '' : 's'}\n`,
        );
        if (rows.length === 0) return;
        const lines = table([
          ['DIGEST', 'FORMAT', 'SIGNER', 'SIGNED AT', 'ALG', 'REFERENCES'],
          ...rows.map((r) => [
            r.digest,
            r.format,
            r.signer ?? (r.error !== undefined ? `(${r.error.code})` : '-'),
            r.signedAt ?? '-',
            r.algorithm ?? '-',
            r.references.join(',') || '-',
          ]),
        ]);
        for (const line of lines) print(line);
      });
    });
  addSignatureRepositoryOption(command);
  addRemoteOptions(command);
}
