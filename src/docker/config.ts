import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readBoundedFile, writeFileAtomic } from '../content/index.js';
import { InvalidInputError } from '../errors.js';

/** What the plugin reads from `$DOCKER_CONFIG/nv2.json` (the prototype's file, extended). */
export interface PluginConfig {
  /** Verify before `docker nv2 pull`; when false, pull passes straight through to docker. */
  readonly enabled: boolean;
  /** PEM files whose certificates are trusted as signers (or roots of signers). */
  readonly verificationCerts: readonly string[];
  /** Registry hosts (`host[:port]`) spoken to over plain HTTP, as docker's own setting. */
  readonly insecureRegistries: readonly string[];
  /** Use nv2's trust policy instead of `verificationCerts`. */
  readonly trustPolicy: boolean;
  /** The key `docker nv2 notary sign` uses when given no `--key`. */
  readonly signingKey?: string;
  /** The certificate (chain) it uses when given no `--cert`. */
  readonly signingCert?: string;
  /** The most signatures of one image evaluated; default `DEFAULT_MAX_SIGNATURES` (100). */
  readonly maxSignatures?: number;
  /** Where verification plugins are found, in order; default nv2's, then notation's (as the CLI). */
  readonly pluginDirectories?: readonly string[];
  /** `pluginConfig` sent to verification plugins (`nv2 verify --plugin-config`). */
  readonly pluginConfig?: Readonly<Record<string, string>>;
  /** How long one verification plugin command may run, in seconds (default 60). */
  readonly pluginTimeoutSeconds?: number;
}

/** The configuration of a plugin that was never configured: off. */
export const DEFAULT_PLUGIN_CONFIG: PluginConfig = {
  enabled: false,
  verificationCerts: [],
  insecureRegistries: [],
  trustPolicy: false,
};

/** The largest `nv2.json` read. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Docker's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`. */
export function dockerConfigDir(env: Readonly<Record<string, string | undefined>>): string {
  const dir = env.DOCKER_CONFIG;
  return dir !== undefined && dir !== '' ? dir : join(homedir(), '.docker');
}

/** The plugin's configuration file inside docker's configuration directory. */
export function pluginConfigPath(configDir: string): string {
  return join(configDir, 'nv2.json');
}

function invalid(path: string, why: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_DOCKER_PLUGIN_CONFIG', `${path}: ${why}`);
}

function stringList(path: string, value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw invalid(path, `${field} must be a list of non-empty strings`);
  }
  return value as string[];
}

/** Parses the text of `nv2.json`; unknown fields are kept out, wrong types refused. */
export function parsePluginConfig(text: string, path: string): PluginConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(path, `not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(path, 'not a JSON object');
  }
  const raw = value as Record<string, unknown>;
  for (const field of ['enabled', 'trustPolicy']) {
    if (raw[field] !== undefined && typeof raw[field] !== 'boolean') {
      throw invalid(path, `${field} must be true or false`);
    }
  }
  return {
    enabled: raw.enabled === true,
    verificationCerts: stringList(path, raw.verificationCerts, 'verificationCerts'),
    insecureRegistries: stringList(path, raw.insecureRegistries, 'insecureRegistries'),
    trustPolicy: raw.trustPolicy === true,
    ...optionalPath(path, raw, 'signingKey'),
    ...optionalPath(path, raw, 'signingCert'),
    ...optionalCount(path, raw, 'maxSignatures'),
    ...(raw.pluginDirectories !== undefined && raw.pluginDirectories !== null
      ? { pluginDirectories: stringList(path, raw.pluginDirectories, 'pluginDirectories') }
      : {}),
    ...optionalStringMap(path, raw, 'pluginConfig'),
    ...optionalCount(path, raw, 'pluginTimeoutSeconds'),
  };
}

function optionalStringMap(
  path: string,
  raw: Record<string, unknown>,
  field: 'pluginConfig',
): Partial<Pick<PluginConfig, 'pluginConfig'>> {
  const value = raw[field];
  if (value === undefined || value === null) return {};
  if (
    typeof value !== 'object' ||
    Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === 'string')
  ) {
    throw invalid(path, `${field} must be an object whose values are strings`);
  }
  return { [field]: { ...(value as Record<string, string>) } };
}

function optionalCount(
  path: string,
  raw: Record<string, unknown>,
  field: 'maxSignatures' | 'pluginTimeoutSeconds',
): Partial<Pick<PluginConfig, 'maxSignatures' | 'pluginTimeoutSeconds'>> {
  const value = raw[field];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw invalid(path, `${field} must be a positive integer`);
  return { [field]: value };
}

function optionalPath(
  path: string,
  raw: Record<string, unknown>,
  field: 'signingKey' | 'signingCert',
): Partial<Pick<PluginConfig, 'signingKey' | 'signingCert'>> {
  const value = raw[field];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'string' || value === '')
    throw invalid(path, `${field} must be a file path`);
  return { [field]: value };
}

/**
 * Reads the plugin's configuration from docker's configuration directory; a missing file is
 * the default configuration (disabled).
 *
 * @throws InvalidInputError NV2_ERR_DOCKER_PLUGIN_CONFIG when the file is malformed
 */
export async function loadPluginConfig(configDir: string): Promise<PluginConfig> {
  const path = pluginConfigPath(configDir);
  let bytes: Buffer;
  try {
    bytes = await readBoundedFile(path, MAX_CONFIG_BYTES, 'plugin configuration');
  } catch (err) {
    if (err instanceof InvalidInputError && err.code === 'NV2_ERR_FILE_NOT_FOUND') {
      return DEFAULT_PLUGIN_CONFIG;
    }
    throw err;
  }
  return parsePluginConfig(bytes.toString('utf8'), path);
}

/**
 * Writes the plugin's configuration atomically, keeping fields of the file this version does
 * not know; creates docker's configuration directory when missing.
 */
export async function savePluginConfig(configDir: string, config: PluginConfig): Promise<void> {
  const path = pluginConfigPath(configDir);
  await mkdir(configDir, { recursive: true });
  let existing: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(
      (await readBoundedFile(path, MAX_CONFIG_BYTES, 'plugin configuration')).toString('utf8'),
    );
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      existing = parsed as Record<string, unknown>;
    }
  } catch {
    // A missing or unreadable file is replaced by the new one.
  }
  const out = {
    ...existing,
    enabled: config.enabled,
    verificationCerts: config.verificationCerts,
    insecureRegistries: config.insecureRegistries,
    ...(config.trustPolicy ? { trustPolicy: true } : {}),
    ...(config.maxSignatures !== undefined ? { maxSignatures: config.maxSignatures } : {}),
  };
  if (!config.trustPolicy) delete out.trustPolicy;
  await writeFileAtomic(path, `${JSON.stringify(out, null, 2)}\n`);
}
