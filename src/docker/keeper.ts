import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../content/index.js';
import { VerificationInconclusiveError } from '../errors.js';
import {
  type Descriptor,
  type Digest,
  digestAlgorithm,
  digestHex,
  isDescriptor,
  parseRfc3339,
} from '../oci/index.js';

/** A signature kept on this machine until the image it signs is pushed. */
export interface KeptSignature {
  /** What the signature signs. */
  readonly subject: Descriptor;
  /** The signature (JWS compact serialization). */
  readonly jws: string;
  /** When it was kept: the created time of its signature manifest once pushed. */
  readonly created: Date;
  /** The image names it was made for. */
  readonly references: readonly string[];
}

/** Where signatures are kept: `<docker config>/nv2/<algorithm>/<hex>/<signature hash>.json`. */
export function signatureStoreDir(configDir: string): string {
  return join(configDir, 'nv2');
}

function subjectDir(configDir: string, digest: Digest): string {
  return join(signatureStoreDir(configDir), digestAlgorithm(digest), digestHex(digest));
}

function ioError(path: string, err: unknown): VerificationInconclusiveError {
  return new VerificationInconclusiveError(
    'NV2_ERR_IO',
    `cannot read ${path}: ${(err as Error).message}`,
    { cause: err },
  );
}

/**
 * Keeps a signature of `subject` until push. Keeping the same signature twice keeps one.
 * Returns the file written.
 */
export async function keepSignature(
  configDir: string,
  subject: Descriptor,
  jws: string,
  options: { readonly references?: readonly string[]; readonly now?: Date } = {},
): Promise<string> {
  const dir = subjectDir(configDir, subject.digest);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${createHash('sha256').update(jws).digest('hex')}.json`);
  const record = {
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    jws,
    created: (options.now ?? new Date()).toISOString(),
    references: options.references ?? [],
  };
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  return path;
}

function parseRecord(text: string): KeptSignature | undefined {
  try {
    const r = JSON.parse(text) as Record<string, unknown>;
    const created = parseRfc3339(r.created);
    if (!isDescriptor(r.subject) || typeof r.jws !== 'string' || created === undefined) {
      return undefined;
    }
    const references = Array.isArray(r.references)
      ? r.references.filter((x): x is string => typeof x === 'string')
      : [];
    return { subject: r.subject, jws: r.jws, created, references };
  } catch {
    return undefined;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(path, err);
  }
}

async function readDir(dir: string): Promise<KeptSignature[]> {
  const out: KeptSignature[] = [];
  for (const name of await listDir(dir)) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw ioError(path, err);
    }
    // A damaged record is not a signature; pushing what cannot be read would help no one.
    const record = parseRecord(text);
    if (record !== undefined) out.push(record);
  }
  return out;
}

/** The signatures kept for the manifest `digest`. */
export async function keptSignatures(configDir: string, digest: Digest): Promise<KeptSignature[]> {
  return (await readDir(subjectDir(configDir, digest))).filter((s) => s.subject.digest === digest);
}

/** Every kept signature, of any manifest. */
export async function allKeptSignatures(configDir: string): Promise<KeptSignature[]> {
  const root = signatureStoreDir(configDir);
  const out: KeptSignature[] = [];
  for (const algorithm of await listDir(root)) {
    if (algorithm.endsWith('.json')) continue;
    for (const hex of await listDir(join(root, algorithm))) {
      out.push(...(await readDir(join(root, algorithm, hex))));
    }
  }
  return out;
}
