import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../errors.js';
import { DEFAULT_ADDR, DEFAULT_ROOT } from './registry-defaults.js';

/** Where a server listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The registry server's settings, from flags and the config file (flags win). */
export interface RegistryConfig {
  readonly addr: ListenAddress;
  readonly storage:
    { readonly driver: 'filesystem'; readonly root: string } | { readonly driver: 'memory' };
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly log: { readonly format: 'json' | 'pretty' };
  /** How long in-flight requests may take to finish after SIGTERM. */
  readonly shutdownTimeoutSeconds: number;
}

const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 30;

function bad(message: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', message);
}

/**
 * Parses `host:port`, `:port` (all interfaces) or `[v6]:port`.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseListenAddress(value: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) {
    throw bad(`invalid address ${JSON.stringify(value)}: use HOST:PORT, :PORT or [IPv6]:PORT`);
  }
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!);
  return { host, port };
}

/** The settings a config file may hold, each checked with a message naming the field. */
interface ConfigFile {
  addr?: string;
  storage?: { filesystem?: { root?: string }; memory?: Record<string, never> };
  tls?: { cert?: string; key?: string };
  log?: { format?: string };
  shutdownTimeoutSeconds?: number;
}

const KNOWN: Readonly<Record<string, readonly string[]>> = {
  '': ['addr', 'storage', 'tls', 'log', 'shutdownTimeoutSeconds'],
  storage: ['filesystem', 'memory'],
  'storage.filesystem': ['root'],
  'storage.memory': [],
  tls: ['cert', 'key'],
  log: ['format'],
};

function checkKeys(value: unknown, where: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(`config: ${where || 'the document'} must be a mapping`);
  }
  for (const [key, child] of Object.entries(value)) {
    const path = where === '' ? key : `${where}.${key}`;
    if (!(KNOWN[where] ?? []).includes(key)) throw bad(`config: unknown setting ${path}`);
    if (path in KNOWN) checkKeys(child ?? {}, path);
  }
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw bad(`config: ${path} must be a non-empty string`);
  return value;
}

/**
 * Reads a YAML or JSON config file (JSON is YAML) and checks every field.
 *
 * @throws InvalidInputError for unreadable files, syntax errors and unknown or mistyped settings
 */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InvalidInputError('NV2_ERR_FILE_NOT_FOUND', `config file ${path} cannot be read`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw bad(`config file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  checkKeys(doc, '');
  const file = doc as ConfigFile & Record<string, unknown>;
  optionalString(file.addr, 'addr');
  optionalString(file.storage?.filesystem?.root, 'storage.filesystem.root');
  optionalString(file.tls?.cert, 'tls.cert');
  optionalString(file.tls?.key, 'tls.key');
  if (
    file.log?.format !== undefined &&
    file.log.format !== 'json' &&
    file.log.format !== 'pretty'
  ) {
    throw bad('config: log.format must be json or pretty');
  }
  if (
    file.shutdownTimeoutSeconds !== undefined &&
    !(Number.isInteger(file.shutdownTimeoutSeconds) && file.shutdownTimeoutSeconds >= 0)
  ) {
    throw bad('config: shutdownTimeoutSeconds must be a whole number of seconds');
  }
  if (file.storage?.filesystem !== undefined && file.storage.memory !== undefined) {
    throw bad('config: storage takes one driver, filesystem or memory');
  }
  return file;
}

/** Flags of `nv2 registry serve` that override the config file. */
export interface ServeFlags {
  addr?: string;
  root?: string;
  config?: string;
  tlsCert?: string;
  tlsKey?: string;
  logFormat?: string;
}

/**
 * Merges flags over the config file over defaults.
 *
 * @throws InvalidInputError for inconsistent settings
 */
export async function resolveRegistryConfig(flags: ServeFlags): Promise<RegistryConfig> {
  const file = flags.config !== undefined ? await readConfigFile(flags.config) : {};
  const addr = parseListenAddress(flags.addr ?? file.addr ?? DEFAULT_ADDR);
  const cert = flags.tlsCert ?? file.tls?.cert;
  const key = flags.tlsKey ?? file.tls?.key;
  if ((cert === undefined) !== (key === undefined))
    throw bad('TLS needs both a certificate and a key');
  const format = flags.logFormat ?? file.log?.format ?? 'json';
  if (format !== 'json' && format !== 'pretty') throw bad('--log-format must be json or pretty');
  const storage: RegistryConfig['storage'] =
    flags.root === undefined && file.storage?.memory !== undefined
      ? { driver: 'memory' }
      : {
          driver: 'filesystem',
          root: flags.root ?? file.storage?.filesystem?.root ?? DEFAULT_ROOT,
        };
  return {
    addr,
    storage,
    ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
    log: { format },
    shutdownTimeoutSeconds: file.shutdownTimeoutSeconds ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
  };
}
