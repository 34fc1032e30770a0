/**
 * Signing keys by name: `signingkeys.json`, in the format notation writes (notation-go
 * `config/keys.go`): a `keys` list whose entries are a name with a key file and certificate
 * file (`keyPath`, `certPath`), or a name with a plugin key (`id`, `pluginName`,
 * `pluginConfig`), and an optional `default` naming one of them. nv2 adds one form: a
 * `keyPath` that is a `pkcs11:` URI (RFC 7512) names a key inside a PKCS#11 token, and
 * `certPath` is then optional (the certificate is read from the token).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { writeFileAtomic } from '../content/index.js';
import { InvalidInputError, VerificationInconclusiveError } from '../errors.js';

/** The file's name in the configuration directory (notation's). */
export const SIGNING_KEYS_FILE = 'signingkeys.json';

/** The most bytes read from a signingkeys.json: real ones are a few KiB. */
const MAX_SIGNING_KEYS_BYTES = 1024 * 1024;

/** A key file and its certificate file (or a PKCS#11 URI and an optional certificate file). */
export interface KeyPairEntry {
  readonly name: string;
  readonly keyPath: string;
  readonly certPath?: string;
}

/** A key behind a Notary Project plugin. */
export interface PluginKeyEntry {
  readonly name: string;
  readonly id: string;
  readonly pluginName: string;
  readonly pluginConfig?: Readonly<Record<string, string>>;
}

export type SigningKeyEntry = KeyPairEntry | PluginKeyEntry;

/** The parsed file. Paths are as written; `resolveEntry` makes relative ones absolute. */
export interface SigningKeys {
  readonly default?: string;
  readonly keys: readonly SigningKeyEntry[];
}

export function isPluginKey(entry: SigningKeyEntry): entry is PluginKeyEntry {
  return 'pluginName' in entry;
}

/** Returns whether a key path names a PKCS#11 token key rather than a file. */
export function isPkcs11Uri(path: string): boolean {
  return path.toLowerCase().startsWith('pkcs11:');
}

function invalid(file: string, message: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_SIGNING_KEYS_INVALID', `${file}: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown, what: string, file: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(file, `${what} is not a string`);
  return value;
}

function parseEntry(value: unknown, index: number, file: string): SigningKeyEntry {
  if (!isRecord(value)) throw invalid(file, `keys[${index}] is not an object`);
  const name = optionalString(value['name'], `keys[${index}].name`, file);
  if (name === undefined) throw invalid(file, `keys[${index}] has no name`);
  const keyPath = optionalString(value['keyPath'], `key "${name}": keyPath`, file);
  const certPath = optionalString(value['certPath'], `key "${name}": certPath`, file);
  const id = optionalString(value['id'], `key "${name}": id`, file);
  const pluginName = optionalString(value['pluginName'], `key "${name}": pluginName`, file);
  const config = value['pluginConfig'];
  if (keyPath !== undefined || certPath !== undefined) {
    if (id !== undefined || pluginName !== undefined) {
      throw invalid(file, `key "${name}" has both a key file and a plugin key`);
    }
    if (keyPath === undefined) throw invalid(file, `key "${name}" has a certPath but no keyPath`);
    if (certPath === undefined && !isPkcs11Uri(keyPath)) {
      throw invalid(file, `key "${name}" has a keyPath but no certPath`);
    }
    return { name, keyPath, ...(certPath !== undefined ? { certPath } : {}) };
  }
  if (id === undefined || pluginName === undefined) {
    throw invalid(file, `key "${name}" needs keyPath and certPath, or id and pluginName`);
  }
  if (config !== undefined && config !== null) {
    if (!isRecord(config) || !Object.values(config).every((v) => typeof v === 'string')) {
      throw invalid(file, `key "${name}": pluginConfig is not an object of strings`);
    }
    return { name, id, pluginName, pluginConfig: config as Record<string, string> };
  }
  return { name, id, pluginName };
}

/**
 * Parses the text of a signingkeys.json.
 *
 * @throws InvalidInputError NV2_ERR_SIGNING_KEYS_INVALID
 */
export function parseSigningKeys(text: string, file: string): SigningKeys {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(file, 'not JSON');
  }
  if (!isRecord(value)) throw invalid(file, 'not a JSON object');
  const list = value['keys'] ?? [];
  if (!Array.isArray(list)) throw invalid(file, '"keys" is not a list');
  const keys = list.map((entry, i) => parseEntry(entry, i, file));
  const names = new Set<string>();
  for (const key of keys) {
    if (names.has(key.name)) throw invalid(file, `key name "${key.name}" is used twice`);
    names.add(key.name);
  }
  const def = optionalString(value['default'], '"default"', file);
  if (def !== undefined && !names.has(def)) {
    throw invalid(file, `the default key "${def}" is not in the list`);
  }
  return { ...(def !== undefined ? { default: def } : {}), keys };
}

/**
 * Reads a signingkeys.json; a missing file is an empty list.
 *
 * @throws InvalidInputError NV2_ERR_SIGNING_KEYS_INVALID, NV2_ERR_FILE_TOO_LARGE
 */
export async function readSigningKeys(file: string): Promise<SigningKeys> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { keys: [] };
    throw new VerificationInconclusiveError(
      'NV2_ERR_IO',
      `cannot read ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (data.byteLength > MAX_SIGNING_KEYS_BYTES) {
    throw new InvalidInputError(
      'NV2_ERR_FILE_TOO_LARGE',
      `${file} is larger than ${MAX_SIGNING_KEYS_BYTES} bytes`,
    );
  }
  return parseSigningKeys(data.toString('utf8'), file);
}

/** Serializes as notation does: `default` first, then `keys`, two-space indentation. */
export function formatSigningKeys(keys: SigningKeys): string {
  const out: Record<string, unknown> = {};
  if (keys.default !== undefined) out['default'] = keys.default;
  out['keys'] = keys.keys;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Writes a signingkeys.json atomically (mode 0600: it says where the keys are). */
export async function writeSigningKeys(file: string, keys: SigningKeys): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, formatSigningKeys(keys), { mode: 0o600 });
}

/**
 * Adds a key; with `makeDefault` (or when it is the first key) it becomes the default.
 *
 * @throws InvalidInputError NV2_ERR_SIGNING_KEY_EXISTS
 */
export function addSigningKey(
  keys: SigningKeys,
  entry: SigningKeyEntry,
  makeDefault: boolean,
): SigningKeys {
  if (keys.keys.some((k) => k.name === entry.name)) {
    throw new InvalidInputError(
      'NV2_ERR_SIGNING_KEY_EXISTS',
      `a signing key named "${entry.name}" exists already`,
    );
  }
  const def = makeDefault || keys.keys.length === 0 ? entry.name : keys.default;
  return { ...(def !== undefined ? { default: def } : {}), keys: [...keys.keys, entry] };
}

/**
 * Removes a key by name (the default too, leaving none).
 *
 * @throws InvalidInputError NV2_ERR_SIGNING_KEY_NOT_FOUND
 */
export function removeSigningKey(keys: SigningKeys, name: string): SigningKeys {
  findSigningKey(keys, name);
  const def = keys.default === name ? undefined : keys.default;
  return {
    ...(def !== undefined ? { default: def } : {}),
    keys: keys.keys.filter((k) => k.name !== name),
  };
}

/**
 * Makes a key the default.
 *
 * @throws InvalidInputError NV2_ERR_SIGNING_KEY_NOT_FOUND
 */
export function setDefaultSigningKey(keys: SigningKeys, name: string): SigningKeys {
  findSigningKey(keys, name);
  return { default: name, keys: keys.keys };
}

/**
 * The key named `name`, or the default key when `name` is undefined.
 *
 * @throws InvalidInputError NV2_ERR_SIGNING_KEY_NOT_FOUND
 */
export function findSigningKey(keys: SigningKeys, name: string | undefined): SigningKeyEntry {
  const wanted = name ?? keys.default;
  if (wanted === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_SIGNING_KEY_NOT_FOUND',
      'no signing key given and no default key set: pass --key, or run nv2 key default NAME',
    );
  }
  const entry = keys.keys.find((k) => k.name === wanted);
  if (entry === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_SIGNING_KEY_NOT_FOUND',
      `no signing key named "${wanted}"${keys.keys.length > 0 ? ` (known: ${keys.keys.map((k) => k.name).join(', ')})` : ''}`,
    );
  }
  return entry;
}

/** An entry with its file paths made absolute, relative to the directory of the file that holds it. */
export function resolveEntry(entry: SigningKeyEntry, file: string): SigningKeyEntry {
  if (isPluginKey(entry)) return entry;
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : join(base, p));
  return {
    name: entry.name,
    keyPath: isPkcs11Uri(entry.keyPath) ? entry.keyPath : abs(entry.keyPath),
    ...(entry.certPath !== undefined ? { certPath: abs(entry.certPath) } : {}),
  };
}
