import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../errors.js';
import type { AccessRule, EnforcementRule, MetadataConfig, S3DriverOptions } from '../index.js';
import { checkMetadataConfig } from '../index.js';
import { DEFAULT_ADDR, DEFAULT_ROOT } from './defaults.js';

/**
 * The registry server's configuration: the YAML file and the flags of `nv2 registry serve`,
 * resolved into one `RegistryConfig`.
 *
 * Why this file is long: it is the one reader of the configuration file; every section (listen,
 * storage with S3 and metadata, trust and enforcement, auth) is checked here field by field,
 * each with its own error, so that a wrong file is refused, naming the field, before anything
 * starts.
 */

/** Where a server listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The registry server's settings, from flags and the config file (flags win). */
export interface RegistryConfig {
  readonly addr: ListenAddress;
  readonly storage:
    | { readonly driver: 'filesystem'; readonly root: string }
    | { readonly driver: 'memory' }
    | S3StorageConfig;
  /** `storage.metadata`: a metadata database shared by replicas; absent: embedded. */
  readonly metadata?: MetadataConfig;
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly log: { readonly format: 'json' | 'pretty' };
  /** How long in-flight requests may take to finish after SIGTERM. */
  readonly shutdownTimeoutSeconds: number;
  /** Access control; absent: anyone may do anything. */
  readonly auth?: AuthConfig;
  /** Whether the web UI is served under `/ui/` (default true). */
  readonly ui: boolean;
  /** The trust policy the registry judges its content by; absent: no verdicts. */
  readonly trust?: TrustConfig;
  /** Repositories whose manifests are judged at pull (needs `trust`). */
  readonly enforce: readonly EnforcementRule[];
}

/** The `trust` section: a configuration directory in the Notary Project's format. */
export interface TrustConfig {
  /** Holds `trustpolicy.json` and `truststore/x509/…`, as `nv2 policy` and `nv2 trust` write them. */
  readonly configDir: string;
  /**
   * The registry's name in the policy's registry scopes (`registry.example.com`); default the
   * address the server listens on (`127.0.0.1:5000`; `localhost:PORT` for all interfaces).
   */
  readonly registryName?: string;
  /** How often the directory is checked for changes (SIGHUP reloads at once); default 10. */
  readonly pollSeconds: number;
}

/** `storage.s3`: blobs and metadata in an S3 bucket (see docs/scaling.md). */
export interface S3StorageConfig {
  readonly driver: 's3';
  readonly s3: S3DriverOptions;
  /** Blob downloads answered 307 to a presigned URL valid this long; absent: streamed. */
  readonly redirect?: { readonly expiresInSeconds: number };
  /** Upload sessions (and incomplete multipart uploads) older than this are removed. */
  readonly uploadPurgeAgeSeconds: number;
}

/** Distribution's default lifetime of a redirect URL: 20 minutes. */
const DEFAULT_REDIRECT_SECONDS = 20 * 60;
/** Upload sessions untouched for a week are abandoned, as in distribution. */
const DEFAULT_UPLOAD_PURGE_AGE_SECONDS = 7 * 24 * 3600;

/** The `auth` section: users, groups, rules and token settings (see README). */
export interface AuthConfig {
  readonly mode: 'token' | 'basic';
  /** An htpasswd file of bcrypt entries. */
  readonly htpasswd?: string;
  /** More users: name → bcrypt hash. */
  readonly users: Readonly<Record<string, string>>;
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly rules: readonly AccessRule[];
  readonly signatureTypes: readonly string[];
  readonly token: {
    readonly service?: string;
    readonly issuer?: string;
    readonly expiresInSeconds?: number;
    /** PEM private key; default `<root>/auth/token-key.pem`, generated on first start. */
    readonly key?: string;
    readonly realm?: string;
  };
  readonly failures: { readonly burst?: number; readonly refillSeconds?: number };
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
  storage?: {
    filesystem?: { root?: string };
    memory?: Record<string, never>;
    s3?: S3Section;
    metadata?: unknown;
  };
  tls?: { cert?: string; key?: string };
  log?: { format?: string };
  shutdownTimeoutSeconds?: number;
  auth?: AuthConfig;
  ui?: boolean;
  trust?: TrustConfig;
  enforce?: EnforcementRule[];
}

/** `storage.s3` as written in the file. */
interface S3Section {
  bucket?: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  accessKey?: string;
  secretKey?: string;
  rootDirectory?: string;
  partSizeMiB?: number;
  replicas?: boolean;
  redirect?: boolean;
  redirectExpiresSeconds?: number;
  uploadPurgeAgeSeconds?: number;
}

const KNOWN: Readonly<Record<string, readonly string[]>> = {
  '': ['addr', 'storage', 'tls', 'log', 'shutdownTimeoutSeconds', 'auth', 'ui', 'trust', 'enforce'],
  trust: ['configDir', 'registryName', 'pollSeconds'],
  auth: ['mode', 'htpasswd', 'users', 'groups', 'rules', 'signatureTypes', 'token', 'failures'],
  'auth.token': ['service', 'issuer', 'expiresInSeconds', 'key', 'realm'],
  'auth.failures': ['burst', 'refillSeconds'],
  storage: ['filesystem', 'memory', 's3', 'metadata'],
  'storage.filesystem': ['root'],
  'storage.memory': [],
  'storage.s3': [
    'bucket',
    'region',
    'endpoint',
    'forcePathStyle',
    'accessKey',
    'secretKey',
    'rootDirectory',
    'partSizeMiB',
    'replicas',
    'redirect',
    'redirectExpiresSeconds',
    'uploadPurgeAgeSeconds',
  ],
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
  const drivers = ['filesystem', 'memory', 's3'].filter(
    (name) => (file.storage as Record<string, unknown> | undefined)?.[name] !== undefined,
  );
  if (drivers.length > 1) {
    throw bad('config: storage takes one driver, filesystem, memory or s3');
  }
  if (file.storage?.s3 !== undefined) checkS3(file.storage.s3);
  if (file.storage?.metadata !== undefined) {
    if (file.storage.memory !== undefined) {
      throw bad('config: storage.metadata needs blobs that outlive the process (filesystem or s3)');
    }
    file.storage.metadata = checkMetadataConfig(file.storage.metadata);
  }
  if (file.auth !== undefined)
    file.auth = checkAuth(file.auth as unknown as Record<string, unknown>);
  if (file.ui !== undefined && typeof file.ui !== 'boolean') {
    throw bad('config: ui must be true or false');
  }
  if (file.trust !== undefined)
    file.trust = checkTrust(file.trust as unknown as Record<string, unknown>);
  if (file.enforce !== undefined) file.enforce = checkEnforce(file.enforce);
  if (file.enforce !== undefined && file.enforce.length > 0 && file.trust === undefined) {
    throw bad('config: enforce needs a trust section (the trust policy to enforce)');
  }
  if (file.enforce !== undefined && file.enforce.length > 0 && file.auth === undefined) {
    throw bad(
      'config: enforce needs an auth section: only users who may push or sign are exempt, and someone must pull unsigned content to sign it',
    );
  }
  return file;
}

/** How often the trust configuration directory is checked by default, in seconds. */
const DEFAULT_TRUST_POLL_SECONDS = 10;

function checkTrust(trust: Record<string, unknown>): TrustConfig {
  const configDir = optionalString(trust['configDir'], 'trust.configDir');
  if (configDir === undefined) throw bad('config: trust.configDir is required');
  const registryName = optionalString(trust['registryName'], 'trust.registryName');
  if (
    registryName !== undefined &&
    !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(registryName)
  ) {
    throw bad('config: trust.registryName must be a host name with an optional :port');
  }
  const pollSeconds =
    optionalInteger(trust['pollSeconds'], 'trust.pollSeconds', 1) ?? DEFAULT_TRUST_POLL_SECONDS;
  return { configDir, ...(registryName !== undefined ? { registryName } : {}), pollSeconds };
}

function checkEnforce(value: unknown): EnforcementRule[] {
  if (!Array.isArray(value)) throw bad('config: enforce must be a list');
  return value.map((raw: unknown, i): EnforcementRule => {
    const where = `enforce[${i}]`;
    const rule = stringMap(raw, where);
    for (const key of Object.keys(rule)) {
      if (key !== 'repositories' && key !== 'level') {
        throw bad(`config: unknown setting ${where}.${key}`);
      }
    }
    const repositories = stringList(rule['repositories'], `${where}.repositories`);
    if (repositories.length === 0)
      throw bad(`config: ${where}.repositories must name repositories`);
    const level = rule['level'] ?? 'enforce';
    if (level !== 'enforce' && level !== 'audit') {
      throw bad(`config: ${where}.level must be enforce or audit`);
    }
    return { repositories, level };
  });
}

/** Checks `storage.s3` field by field. */
function checkS3(s3: S3Section): void {
  if (s3.bucket === undefined) throw bad('config: storage.s3.bucket is required');
  for (const key of [
    'bucket',
    'region',
    'endpoint',
    'accessKey',
    'secretKey',
    'rootDirectory',
  ] as const) {
    optionalString(s3[key], `storage.s3.${key}`);
  }
  for (const key of ['forcePathStyle', 'replicas', 'redirect'] as const) {
    if (s3[key] !== undefined && typeof s3[key] !== 'boolean') {
      throw bad(`config: storage.s3.${key} must be true or false`);
    }
  }
  if ((s3.accessKey === undefined) !== (s3.secretKey === undefined)) {
    throw bad('config: storage.s3 takes both accessKey and secretKey, or neither (environment)');
  }
  if (s3.endpoint !== undefined && !/^https?:\/\/[^/]+\/?$/.test(s3.endpoint)) {
    throw bad('config: storage.s3.endpoint must be an http:// or https:// URL without a path');
  }
  optionalInteger(s3.partSizeMiB, 'storage.s3.partSizeMiB', 5);
  optionalInteger(s3.redirectExpiresSeconds, 'storage.s3.redirectExpiresSeconds', 10);
  optionalInteger(s3.uploadPurgeAgeSeconds, 'storage.s3.uploadPurgeAgeSeconds', 60);
}

/** The resolved S3 storage settings of a checked `storage.s3` section. */
function s3Storage(s3: S3Section): S3StorageConfig {
  const options: S3DriverOptions = {
    bucket: s3.bucket!,
    ...(s3.region !== undefined ? { region: s3.region } : {}),
    ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
    ...(s3.forcePathStyle !== undefined ? { forcePathStyle: s3.forcePathStyle } : {}),
    ...(s3.accessKey !== undefined && s3.secretKey !== undefined
      ? { credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } }
      : {}),
    ...(s3.rootDirectory !== undefined ? { rootDirectory: s3.rootDirectory } : {}),
    ...(s3.partSizeMiB !== undefined ? { partSize: s3.partSizeMiB * 1024 * 1024 } : {}),
    shared: s3.replicas ?? true,
  };
  return {
    driver: 's3',
    s3: options,
    ...(s3.redirect === true
      ? { redirect: { expiresInSeconds: s3.redirectExpiresSeconds ?? DEFAULT_REDIRECT_SECONDS } }
      : {}),
    uploadPurgeAgeSeconds: s3.uploadPurgeAgeSeconds ?? DEFAULT_UPLOAD_PURGE_AGE_SECONDS,
  };
}

function stringList(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw bad(`config: ${path} must be a list of strings`);
  }
  return value as string[];
}

function stringMap(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw bad(`config: ${path} must be a mapping`);
  return value as Record<string, unknown>;
}

function optionalInteger(value: unknown, path: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < min) {
    throw bad(`config: ${path} must be a whole number of at least ${min}`);
  }
  return value as number;
}

const RULE_KEYS = ['repositories', 'roles', 'users', 'groups', 'anonymous'];

/** Checks the `auth` section's types (the library checks what the values mean). */
function checkAuth(auth: Record<string, unknown>): AuthConfig {
  const mode = auth['mode'] ?? 'token';
  if (mode !== 'token' && mode !== 'basic') throw bad('config: auth.mode must be token or basic');
  const users: Record<string, string> = {};
  for (const [name, hash] of Object.entries(stringMap(auth['users'], 'auth.users'))) {
    if (typeof hash !== 'string') throw bad(`config: auth.users.${name} must be a bcrypt hash`);
    users[name] = hash;
  }
  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(stringMap(auth['groups'], 'auth.groups'))) {
    groups[name] = stringList(members, `auth.groups.${name}`);
  }
  const rawRules = auth['rules'] ?? [];
  if (!Array.isArray(rawRules)) throw bad('config: auth.rules must be a list');
  const rules = rawRules.map((raw: unknown, i): AccessRule => {
    const where = `auth.rules[${i}]`;
    const rule = stringMap(raw, where);
    for (const key of Object.keys(rule)) {
      if (!RULE_KEYS.includes(key)) throw bad(`config: unknown setting ${where}.${key}`);
    }
    if (rule['anonymous'] !== undefined && typeof rule['anonymous'] !== 'boolean') {
      throw bad(`config: ${where}.anonymous must be true or false`);
    }
    return {
      repositories: stringList(rule['repositories'], `${where}.repositories`),
      roles: stringList(rule['roles'], `${where}.roles`) as AccessRule['roles'],
      users: stringList(rule['users'], `${where}.users`),
      groups: stringList(rule['groups'], `${where}.groups`),
      anonymous: rule['anonymous'] === true,
    };
  });
  const token = stringMap(auth['token'], 'auth.token');
  const failures = stringMap(auth['failures'], 'auth.failures');
  const service = optionalString(token['service'], 'auth.token.service');
  const issuer = optionalString(token['issuer'], 'auth.token.issuer');
  const key = optionalString(token['key'], 'auth.token.key');
  const realm = optionalString(token['realm'], 'auth.token.realm');
  const expiresInSeconds = optionalInteger(
    token['expiresInSeconds'],
    'auth.token.expiresInSeconds',
    10,
  );
  const burst = optionalInteger(failures['burst'], 'auth.failures.burst', 1);
  const refillSeconds = optionalInteger(
    failures['refillSeconds'],
    'auth.failures.refillSeconds',
    1,
  );
  const htpasswd = optionalString(auth['htpasswd'], 'auth.htpasswd');
  return {
    mode,
    ...(htpasswd !== undefined ? { htpasswd } : {}),
    users,
    groups,
    rules,
    signatureTypes: stringList(auth['signatureTypes'], 'auth.signatureTypes'),
    token: {
      ...(service !== undefined ? { service } : {}),
      ...(issuer !== undefined ? { issuer } : {}),
      ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(realm !== undefined ? { realm } : {}),
    },
    failures: {
      ...(burst !== undefined ? { burst } : {}),
      ...(refillSeconds !== undefined ? { refillSeconds } : {}),
    },
  };
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
      : flags.root === undefined && file.storage?.s3 !== undefined
        ? s3Storage(file.storage.s3)
        : {
            driver: 'filesystem',
            root: flags.root ?? file.storage?.filesystem?.root ?? DEFAULT_ROOT,
          };
  return {
    addr,
    storage,
    ...(file.storage?.metadata !== undefined && storage.driver !== 'memory'
      ? { metadata: file.storage.metadata as MetadataConfig }
      : {}),
    ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
    log: { format },
    shutdownTimeoutSeconds: file.shutdownTimeoutSeconds ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
    ...(file.auth !== undefined ? { auth: file.auth } : {}),
    ui: file.ui ?? true,
    ...(file.trust !== undefined ? { trust: file.trust } : {}),
    enforce: file.enforce ?? [],
  };
}
