import { readBoundedFile } from '../content/index.js';
import { InvalidInputError } from '../errors.js';
import { type SigningKey, fileSigningKey } from '../signature/index.js';
import {
  Certificate,
  keysMatch,
  loadCertificates,
  loadPrivateKey,
  orderCertificateChain,
} from '../x509/index.js';
import { findPlugin, openPluginKey } from '../plugins/index.js';
import { type Pkcs11KeyOptions, openPkcs11Key } from './pkcs11.js';
import {
  type SigningKeyEntry,
  type SigningKeys,
  findSigningKey,
  isPkcs11Uri,
  isPluginKey,
  readSigningKeys,
  resolveEntry,
} from './signing-keys.js';

/** The most bytes read from a key or certificate file: real ones are a few KiB. */
const MAX_PEM_BYTES = 1024 * 1024;

/** Options of `openEntry`. */
export interface EntryOptions extends Pkcs11KeyOptions {
  /** Where plugins are installed, searched in order. */
  readonly pluginDirs?: readonly string[];
  /** How long one plugin command may run; default 60 s. */
  readonly pluginTimeoutMs?: number;
}

/** Options of `openSigningKey`. */
export interface OpenSigningKeyOptions extends EntryOptions {
  /** The signingkeys.json that names keys (nv2's, or notation's). */
  readonly signingKeysFile?: string;
}

/** Reads a certificate chain file (PEM, or one DER certificate) as DER certificates. */
export async function readCertificateChain(path: string): Promise<Uint8Array[]> {
  // x5c in the order RFC 7515 §4.1.6 requires, whatever order the chain file has.
  return orderCertificateChain(
    loadCertificates(await readBoundedFile(path, MAX_PEM_BYTES, 'certificate'), path),
  ).map((c) => c.der);
}

/**
 * Opens what a signing-key entry names: a key file with its certificate file, or a key in a
 * PKCS#11 token (with an optional certificate file), or a key behind a plugin.
 *
 * @throws InvalidInputError as the key's kind throws (NV2_ERR_PKCS11_*, NV2_ERR_PLUGIN_*, …)
 */
export async function openEntry(
  entry: SigningKeyEntry,
  options: EntryOptions = {},
): Promise<SigningKey> {
  if (isPluginKey(entry)) {
    const plugin = await findPlugin(
      entry.pluginName,
      options.pluginDirs ?? [],
      options.pluginTimeoutMs,
    );
    return openPluginKey(plugin, entry.id, entry.pluginConfig ?? {});
  }
  const chain =
    entry.certPath !== undefined ? await readCertificateChain(entry.certPath) : undefined;
  if (isPkcs11Uri(entry.keyPath)) {
    return openPkcs11Key(entry.keyPath, {
      ...options,
      ...(chain !== undefined ? { certificateChain: chain } : {}),
    });
  }
  const key = loadPrivateKey(
    await readBoundedFile(entry.keyPath, MAX_PEM_BYTES, 'key'),
    entry.keyPath,
  );
  if (chain !== undefined && !keysMatch(key, new Certificate(chain[0]!).publicKey)) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_CERT_MISMATCH',
      `the key ${entry.keyPath} does not belong to the first certificate in ${entry.certPath}`,
    );
  }
  return fileSigningKey(key, chain ?? [], entry.keyPath);
}

/**
 * Opens a signing key the way `nv2 sign --key` names it: a `pkcs11:` URI; else a name in
 * the signingkeys.json (or, with `key` undefined, its default key); else a key file.
 * `certPath` (`-c`) overrides the entry's certificate.
 *
 * @example
 * const key = await openSigningKey('release', undefined, { signingKeysFile, env: process.env });
 */
export async function openSigningKey(
  key: string | undefined,
  certPath: string | undefined,
  options: OpenSigningKeyOptions = {},
): Promise<{ signingKey: SigningKey; entry: SigningKeyEntry }> {
  let entry: SigningKeyEntry | undefined;
  if (key !== undefined && isPkcs11Uri(key)) {
    entry = { name: key, keyPath: key };
  } else {
    let keys: SigningKeys = { keys: [] };
    if (options.signingKeysFile !== undefined)
      keys = await readSigningKeys(options.signingKeysFile);
    if (key === undefined || keys.keys.some((k) => k.name === key)) {
      entry = resolveEntry(findSigningKey(keys, key), options.signingKeysFile ?? '.');
    } else {
      entry = { name: key, keyPath: key };
    }
  }
  if (certPath !== undefined && !isPluginKey(entry)) entry = { ...entry, certPath };
  return { signingKey: await openEntry(entry, options), entry };
}
