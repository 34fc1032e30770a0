/**
 * The trust store: named sets of certificates on disk, laid out as the Notary Project's
 * (`truststore/x509/{ca,signingAuthority,tsa}/<name>/*.{pem,crt,cer}`, PEM or DER), so that
 * a notation configuration directory works unchanged. Each store is read and parsed once.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { MAX_TRUST_POLICY_BYTES } from './document.js';
import { InvalidInputError, StorageError } from '../errors.js';
import { readBoundedFile, writeFileAtomic } from '../content/index.js';
import { type Certificate, loadCertificates } from '../x509/index.js';
import { TRUST_STORE_NAME_PATTERN, TRUST_STORE_TYPES, type TrustStoreType } from './document.js';

/** File extensions read from a store directory; others (README, backups) are ignored. */
export const CERTIFICATE_EXTENSIONS: readonly string[] = ['.pem', '.crt', '.cer'];

/** The most bytes read from one certificate file. */
const MAX_CERTIFICATE_FILE_BYTES = MAX_TRUST_POLICY_BYTES;

/** One certificate of a store, with the file it came from. */
export interface TrustStoreCertificate {
  readonly type: TrustStoreType;
  readonly store: string;
  /** File name inside the store directory. */
  readonly file: string;
  readonly certificate: Certificate;
}

/** What `TrustStore.add` did with one certificate. */
export interface AddedCertificate {
  readonly certificate: Certificate;
  readonly file: string;
  /** False when the store already held this certificate (nothing was written). */
  readonly added: boolean;
}

function checkName(type: string, name: string): asserts type is TrustStoreType {
  if (!(TRUST_STORE_TYPES as readonly string[]).includes(type)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `unknown trust store type ${JSON.stringify(type)}: use ${TRUST_STORE_TYPES.join(', ')}`,
    );
  }
  if (!TRUST_STORE_NAME_PATTERN.test(name)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `trust store name ${JSON.stringify(name)} must match ${TRUST_STORE_NAME_PATTERN.source}`,
    );
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** A file name for a certificate: the one it was given under, else its subject's CN. */
function fileNameFor(certificate: Certificate, suggested: string | undefined): string {
  const base = (
    suggested !== undefined
      ? basename(suggested, extname(suggested))
      : (certificate.commonNames[0] ?? certificate.fingerprintSha256.slice(0, 16))
  )
    .replace(/[^a-zA-Z0-9_.-]+/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 64);
  return `${base || certificate.fingerprintSha256.slice(0, 16)}.crt`;
}

/**
 * The x509 trust store under a configuration directory. Stores are parsed on first use and
 * kept; changes made through this object update what it has cached.
 *
 * @example
 * const store = new TrustStore(configDir);
 * const roots = await store.certificates('ca', 'acme-rockets');
 */
export class TrustStore {
  /** `<configDir>/truststore/x509`. */
  readonly root: string;
  readonly #cache = new Map<string, Promise<TrustStoreCertificate[]>>();

  constructor(configDir: string) {
    this.root = join(configDir, 'truststore', 'x509');
  }

  /** The directory of one named store. */
  directory(type: TrustStoreType, name: string): string {
    checkName(type, name);
    return join(this.root, type, name);
  }

  /**
   * The certificates of one named store, parsed once.
   *
   * @throws InvalidInputError NV2_ERR_TRUST_STORE_NOT_FOUND when the store does not exist,
   *   NV2_ERR_INVALID_CERTIFICATE when a file in it is not a certificate
   */
  async certificates(type: TrustStoreType, name: string): Promise<readonly Certificate[]> {
    return (await this.entries(type, name)).map((e) => e.certificate);
  }

  /** The certificates of one named store with their files (see `certificates`). */
  entries(type: TrustStoreType, name: string): Promise<TrustStoreCertificate[]> {
    const key = `${type}:${name}`;
    let loaded = this.#cache.get(key);
    if (loaded === undefined) {
      loaded = this.#load(type, name);
      this.#cache.set(key, loaded);
      loaded.catch(() => this.#cache.delete(key));
    }
    return loaded;
  }

  async #load(type: TrustStoreType, name: string): Promise<TrustStoreCertificate[]> {
    const dir = this.directory(type, name);
    let files: string[];
    try {
      files = (await readdir(dir)).sort();
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw new InvalidInputError(
          'NV2_ERR_TRUST_STORE_NOT_FOUND',
          `the trust store "${name}" of type "${type}" does not exist (add certificates with: nv2 trust add --type ${type} --store ${name} CERT)`,
        );
      }
      throw new StorageError(
        'NV2_ERR_IO',
        `cannot read trust store ${dir}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const out: TrustStoreCertificate[] = [];
    for (const file of files) {
      if (!CERTIFICATE_EXTENSIONS.includes(extname(file).toLowerCase())) continue;
      const path = join(dir, file);
      if (!(await stat(path)).isFile()) continue;
      const data = await readBoundedFile(path, MAX_CERTIFICATE_FILE_BYTES, 'certificate');
      for (const certificate of loadCertificates(data, path))
        out.push({ type, store: name, file, certificate });
    }
    return out;
  }

  /** Every certificate of every store (of `type`, when given), sorted by type, store and file. */
  async list(type?: TrustStoreType): Promise<TrustStoreCertificate[]> {
    const out: TrustStoreCertificate[] = [];
    for (const t of type !== undefined ? [type] : TRUST_STORE_TYPES) {
      let names: string[];
      try {
        names = (await readdir(join(this.root, t), { withFileTypes: true }))
          .filter((d) => d.isDirectory() && TRUST_STORE_NAME_PATTERN.test(d.name))
          .map((d) => d.name)
          .sort();
      } catch (err) {
        if (isMissing(err)) continue;
        throw err;
      }
      for (const name of names) out.push(...(await this.entries(t, name)));
    }
    return out;
  }

  /**
   * Adds certificates to a named store (created when missing), each as its own file,
   * written atomically. A certificate the store already holds is left as it is.
   *
   * @example await store.add('ca', 'wabbit-networks', [{ certificate, fileName: 'wabbit.crt' }]);
   */
  async add(
    type: TrustStoreType,
    name: string,
    certificates: readonly { readonly certificate: Certificate; readonly fileName?: string }[],
  ): Promise<AddedCertificate[]> {
    const dir = this.directory(type, name);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    this.#cache.delete(`${type}:${name}`);
    const present = await this.entries(type, name);
    const taken = new Set(present.map((e) => e.file));
    const out: AddedCertificate[] = [];
    for (const { certificate, fileName } of certificates) {
      const existing = present.find(
        (e) => e.certificate.fingerprintSha256 === certificate.fingerprintSha256,
      );
      if (existing !== undefined) {
        out.push({ certificate, file: existing.file, added: false });
        continue;
      }
      let file = fileNameFor(certificate, fileName);
      if (taken.has(file))
        file = `${file.slice(0, -4)}-${certificate.fingerprintSha256.slice(0, 12)}.crt`;
      await writeFileAtomic(join(dir, file), certificate.toPem(), { exclusive: true });
      taken.add(file);
      present.push({ type, store: name, file, certificate });
      out.push({ certificate, file, added: true });
    }
    return out;
  }

  /**
   * Removes certificates from a named store: those whose SHA-256 fingerprint starts with
   * `which` (at least 8 hex digits) or whose file name is `which`; the whole store when
   * `which` is undefined. Returns what was removed.
   *
   * @throws InvalidInputError NV2_ERR_TRUST_STORE_NOT_FOUND, NV2_ERR_INVALID_ARGUMENT when nothing matches
   */
  async remove(
    type: TrustStoreType,
    name: string,
    which?: string,
  ): Promise<TrustStoreCertificate[]> {
    const entries = await this.entries(type, name);
    const dir = this.directory(type, name);
    this.#cache.delete(`${type}:${name}`);
    if (which === undefined) {
      await rm(dir, { recursive: true, force: true });
      return entries;
    }
    const hex = which
      .toLowerCase()
      .replace(/^sha256:/, '')
      .replace(/:/g, '');
    const matches = entries.filter(
      (e) =>
        e.file === which ||
        (/^[0-9a-f]{8,64}$/.test(hex) && e.certificate.fingerprintSha256.startsWith(hex)),
    );
    if (matches.length === 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `no certificate in trust store ${type}:${name} has file name or SHA-256 fingerprint ${JSON.stringify(which)}`,
      );
    }
    // A file holding several certificates goes as a whole: say so by listing them all.
    const files = new Set(matches.map((m) => m.file));
    for (const file of files) await rm(join(dir, file), { force: true });
    return entries.filter((e) => files.has(e.file));
  }
}

/** Reads a file in the configuration directory, or undefined when it does not exist. */
export async function readOptionalFile(
  path: string,
  maxBytes: number,
): Promise<Buffer | undefined> {
  try {
    await stat(path);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  return readBoundedFile(path, maxBytes, basename(path));
}
