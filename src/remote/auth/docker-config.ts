import { spawn } from 'node:child_process';
import { mkdir, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidInputError, VerificationInconclusiveError } from '../../errors.js';
import { readBoundedFile, writeFileAtomic } from '../../content/index.js';
import { DEFAULT_REGISTRY } from '../../oci/index.js';
import type { Credential, Env } from './credential.js';

/**
 * Docker's client configuration, read and written the way the docker CLI does
 * (`cli/config/configfile`, docker-credential-helpers):
 *
 * - The file is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
 * - `credHelpers[<key>]` names a helper for one registry, else `credsStore` names one for all,
 *   else the credentials are in `auths[<key>]`: `auth` (base64 of `user:password`),
 *   `identitytoken` (an OAuth2 refresh token) or `registrytoken`.
 * - The key is the registry host, except Docker Hub's, which is `https://index.docker.io/v1/`.
 * - A helper is `docker-credential-<name>` on PATH: `get` reads the key on stdin and prints
 *   `{"ServerURL","Username","Secret"}` (user `<token>` means Secret is an identity token) or
 *   fails printing "credentials not found…"; `store` reads that JSON; `erase` reads the key.
 *
 * Writes replace the file atomically, keep every field nv2 does not know, and give it mode 0600.
 *
 * Why this file is long: the file and its credential helpers are one format with one set of
 * rules (keys, helper choice, atomic writes keeping unknown fields); reading credentials, login
 * and logout all follow them, and the helper protocol's process handling belongs with them.
 */

/** Options shared by every docker-config function. */
export interface DockerConfigOptions {
  /** The environment: `DOCKER_CONFIG`, `HOME` and the `PATH` helpers are looked up on. */
  readonly env: Env;
  /** A config.json to use instead of the one `env` points at. */
  readonly configPath?: string;
  /** How long a credential helper may take before it is killed (default 10 s). */
  readonly helperTimeoutMs?: number;
}

/** Docker Hub's key in `auths` and `credHelpers`, and what its helpers are asked for. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** Host names that mean Docker Hub in config keys. */
const DOCKER_HUB_HOSTS = new Set([DEFAULT_REGISTRY, 'index.docker.io', 'registry-1.docker.io']);

/** Default helper timeout: helpers may prompt a keychain, but must not hang a verification. */
export const DEFAULT_HELPER_TIMEOUT_MS = 10_000;

/** Largest config.json read (docker's own are a few KiB). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Largest helper output read; credentials are small. */
const MAX_HELPER_OUTPUT_BYTES = 64 * 1024;

/** A helper's `get` exits non-zero and prints this when it has nothing for the key. */
const NOT_FOUND_MESSAGE = /credentials not found/i;

/** Helper names: a file name suffix, never a path. */
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The config.json `env` points at. */
export function dockerConfigPath(env: Env): string {
  const dir = env['DOCKER_CONFIG'];
  if (dir !== undefined && dir !== '') return join(dir, 'config.json');
  const home = env['HOME'] ?? env['USERPROFILE'] ?? homedir();
  return join(home, '.docker', 'config.json');
}

/** The key docker files a registry's credentials under (`docker.io` → Docker Hub's URL). */
export function dockerConfigKey(registry: string): string {
  return DOCKER_HUB_HOSTS.has(registry) ? DOCKER_HUB_CONFIG_KEY : registry;
}

/** A config key reduced to its host, as docker's `ConvertToHostname` does. */
function keyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0]!;
  return DOCKER_HUB_HOSTS.has(host) ? DEFAULT_REGISTRY : host;
}

type ConfigObject = Record<string, unknown>;

function invalidConfig(path: string, why: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_DOCKER_CONFIG_INVALID', `docker config ${path}: ${why}`);
}

/** Reads config.json as an object; `{}` when it does not exist or is empty. */
async function readConfig(path: string): Promise<ConfigObject> {
  let bytes: Buffer;
  try {
    bytes = await readBoundedFile(path, MAX_CONFIG_BYTES, 'docker config');
  } catch (err) {
    if ((err as InvalidInputError).code === 'NV2_ERR_FILE_NOT_FOUND') return {};
    throw err;
  }
  const text = bytes.toString('utf8');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalidConfig(path, `not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidConfig(path, 'not a JSON object');
  }
  return parsed as ConfigObject;
}

/** A string-valued map field of the config, checked. */
function stringMap(config: ConfigObject, field: string, path: string): Record<string, string> {
  const value = config[field];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalidConfig(path, `${field} is not an object`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string')
      throw invalidConfig(path, `${field}[${JSON.stringify(k)}] is not a string`);
    out[k] = v;
  }
  return out;
}

/** The `auths` entries, checked to be objects. */
function authsOf(config: ConfigObject, path: string): Record<string, ConfigObject> {
  const value = config['auths'];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalidConfig(path, 'auths is not an object');
  }
  const out: Record<string, ConfigObject> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw invalidConfig(path, `auths[${JSON.stringify(k)}] is not an object`);
    }
    out[k] = v as ConfigObject;
  }
  return out;
}

/** The helper configured for a registry: its `credHelpers` entry, else `credsStore`. */
function helperFor(config: ConfigObject, registry: string, path: string): string | undefined {
  const helpers = stringMap(config, 'credHelpers', path);
  const key = dockerConfigKey(registry);
  const name =
    helpers[key] ??
    helpers[registry] ??
    (typeof config['credsStore'] === 'string' && config['credsStore'] !== ''
      ? config['credsStore']
      : undefined);
  if (name !== undefined && !HELPER_NAME.test(name)) {
    throw invalidConfig(path, `credential helper name ${JSON.stringify(name)} is not valid`);
  }
  return name;
}

/** The `auths` entry for a registry: its exact key, else any key naming the same host. */
function authEntry(
  auths: Record<string, ConfigObject>,
  registry: string,
): [string, ConfigObject] | undefined {
  const key = dockerConfigKey(registry);
  if (auths[key] !== undefined) return [key, auths[key]];
  const host = keyHost(key);
  for (const [k, v] of Object.entries(auths)) if (keyHost(k) === host) return [k, v];
  return undefined;
}

/** Credentials from an `auths` entry; undefined when it holds none. */
function credentialFromEntry(
  entry: ConfigObject,
  key: string,
  path: string,
): Credential | undefined {
  const out: { -readonly [K in keyof Credential]: Credential[K] } = {};
  const auth = entry['auth'];
  if (typeof auth === 'string' && auth !== '') {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0)
      throw invalidConfig(
        path,
        `auths[${JSON.stringify(key)}].auth is not base64 of user:password`,
      );
    out.username = decoded.slice(0, colon);
    out.password = decoded.slice(colon + 1);
  } else if (typeof entry['username'] === 'string' && typeof entry['password'] === 'string') {
    out.username = entry['username'];
    out.password = entry['password'];
  }
  if (typeof entry['identitytoken'] === 'string' && entry['identitytoken'] !== '') {
    out.identityToken = entry['identitytoken'];
  }
  if (typeof entry['registrytoken'] === 'string' && entry['registrytoken'] !== '') {
    out.registryToken = entry['registrytoken'];
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** What a helper run produced. */
interface HelperResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `docker-credential-<name> <action>` with `input` on stdin, looked up on `env.PATH`,
 * killed after the timeout or once it prints more than it should.
 *
 * @throws InvalidInputError NV2_ERR_CREDENTIAL_HELPER when it is not on PATH
 * @throws VerificationInconclusiveError NV2_ERR_CREDENTIAL_HELPER when it timed out or could not run
 */
async function runHelper(
  name: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  options: DockerConfigOptions,
): Promise<HelperResult> {
  const program = `docker-credential-${name}`;
  const timeoutMs = options.helperTimeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  return new Promise<HelperResult>((resolve, reject) => {
    const child = spawn(program, [action], {
      env: { ...options.env } as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let failure: Error | undefined;
    const fail = (err: Error): void => {
      failure ??= err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () =>
        fail(
          new VerificationInconclusiveError(
            'NV2_ERR_CREDENTIAL_HELPER',
            `credential helper ${program} ${action} did not finish within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    const collect =
      (into: Buffer[]) =>
      (chunk: Buffer): void => {
        size += chunk.byteLength;
        if (size > MAX_HELPER_OUTPUT_BYTES) {
          fail(
            new VerificationInconclusiveError(
              'NV2_ERR_CREDENTIAL_HELPER',
              `credential helper ${program} ${action} printed more than ${MAX_HELPER_OUTPUT_BYTES} bytes`,
            ),
          );
          return;
        }
        into.push(chunk);
      };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.stdin.on('error', () => undefined); // a helper that exits without reading stdin
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(
          new InvalidInputError(
            'NV2_ERR_CREDENTIAL_HELPER',
            `credential helper ${program} (configured in the docker config) is not on PATH`,
            { cause: err },
          ),
        );
      } else {
        reject(
          new VerificationInconclusiveError(
            'NV2_ERR_CREDENTIAL_HELPER',
            `credential helper ${program} could not run: ${err.message}`,
            { cause: err },
          ),
        );
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      resolve({
        exitCode: code ?? -1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(input);
  });
}

function helperFailed(name: string, action: string, result: HelperResult): InvalidInputError {
  const said = (result.stdout.trim() || result.stderr.trim()).slice(0, 300);
  return new InvalidInputError(
    'NV2_ERR_CREDENTIAL_HELPER',
    `credential helper docker-credential-${name} ${action} failed (exit ${result.exitCode})${said !== '' ? `: ${said}` : ''}`,
  );
}

/** Asks a helper for a registry's credentials; undefined when it has none. */
async function helperGet(
  name: string,
  registry: string,
  options: DockerConfigOptions,
): Promise<Credential | undefined> {
  const result = await runHelper(name, 'get', dockerConfigKey(registry), options);
  if (result.exitCode !== 0) {
    if (NOT_FOUND_MESSAGE.test(result.stdout) || NOT_FOUND_MESSAGE.test(result.stderr)) {
      return undefined;
    }
    throw helperFailed(name, 'get', result);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    throw new InvalidInputError(
      'NV2_ERR_CREDENTIAL_HELPER',
      `credential helper docker-credential-${name} get printed something other than JSON`,
    );
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  const username = record['Username'];
  const secret = record['Secret'];
  if (typeof username !== 'string' || typeof secret !== 'string') {
    throw new InvalidInputError(
      'NV2_ERR_CREDENTIAL_HELPER',
      `credential helper docker-credential-${name} get printed no Username and Secret`,
    );
  }
  if (secret === '') return undefined;
  // docker-credential-helpers' convention: user "<token>" carries an identity token.
  if (username === '<token>') return { identityToken: secret };
  return { username, password: secret };
}

/**
 * The credentials docker would use for `registry`: its `credHelpers` helper, else the
 * `credsStore` helper, else `auths`. Undefined when there are none (no file, no entry, the
 * helper has nothing).
 *
 * @example await dockerConfigCredential('ghcr.io', { env: process.env })
 * @throws InvalidInputError NV2_ERR_DOCKER_CONFIG_INVALID (malformed file),
 *   NV2_ERR_CREDENTIAL_HELPER (helper missing or failing)
 */
export async function dockerConfigCredential(
  registry: string,
  options: DockerConfigOptions,
): Promise<Credential | undefined> {
  const path = options.configPath ?? dockerConfigPath(options.env);
  const config = await readConfig(path);
  const helper = helperFor(config, registry, path);
  if (helper !== undefined) return helperGet(helper, registry, options);
  const entry = authEntry(authsOf(config, path), registry);
  return entry !== undefined ? credentialFromEntry(entry[1], entry[0], path) : undefined;
}

/** Writes config.json atomically (mode 0600), through a symlink, creating its directory. */
async function writeConfig(path: string, config: ConfigObject): Promise<void> {
  let target = path;
  try {
    target = await realpath(path);
  } catch {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  }
  await writeFileAtomic(target, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
}

/** Options of `login`. */
export interface LoginOptions extends DockerConfigOptions {
  readonly registry: string;
  readonly username: string;
  readonly password: string;
}

/** Where `login` put the credentials. */
export interface LoginResult {
  /** The config file read (and written, for `auths`). */
  readonly configPath: string;
  /** `docker-credential-NAME` when a helper stored them, else undefined (in `auths`). */
  readonly helper?: string;
}

/**
 * Stores credentials as `docker login` does: with the registry's helper (`credHelpers`, else
 * `credsStore`) when one is configured, leaving only an empty `auths` entry in the file; else
 * base64 `user:password` in `auths`. Other fields of the file are kept as they are. Does not
 * check the credentials: ask the registry first (`RegistryClient.ping`).
 *
 * @example await login({ registry: 'registry.example.com', username, password, env: process.env })
 * @throws InvalidInputError NV2_ERR_DOCKER_CONFIG_INVALID, NV2_ERR_CREDENTIAL_HELPER, NV2_ERR_INVALID_ARGUMENT
 */
export async function login(options: LoginOptions): Promise<LoginResult> {
  // Basic auth splits user:password at the first colon, so a username cannot hold one.
  if (options.username === '' || options.username.includes(':')) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'login: the username must be non-empty and contain no colon',
    );
  }
  const path = options.configPath ?? dockerConfigPath(options.env);
  const config = await readConfig(path);
  const key = dockerConfigKey(options.registry);
  const helper = helperFor(config, options.registry, path);
  const auths = authsOf(config, path);
  const existing = authEntry(auths, options.registry);
  if (existing !== undefined && existing[0] !== key) delete auths[existing[0]];
  if (helper !== undefined) {
    const input = JSON.stringify({
      ServerURL: key,
      Username: options.username,
      Secret: options.password,
    });
    const result = await runHelper(helper, 'store', input, options);
    if (result.exitCode !== 0) throw helperFailed(helper, 'store', result);
    // As docker's native store does: the file keeps the entry, without secrets.
    const kept = { ...(auths[key] ?? {}) };
    for (const field of ['auth', 'username', 'password', 'identitytoken', 'registrytoken']) {
      delete kept[field];
    }
    auths[key] = kept;
  } else {
    const kept = { ...(auths[key] ?? {}) };
    for (const field of ['username', 'password', 'identitytoken', 'registrytoken']) {
      delete kept[field];
    }
    kept['auth'] = Buffer.from(`${options.username}:${options.password}`).toString('base64');
    auths[key] = kept;
  }
  await writeConfig(path, { ...config, auths });
  return helper !== undefined
    ? { configPath: path, helper: `docker-credential-${helper}` }
    : { configPath: path };
}

/** Options of `logout`. */
export interface LogoutOptions extends DockerConfigOptions {
  readonly registry: string;
}

/**
 * Removes a registry's credentials as `docker logout` does: erases them from its helper, if
 * one is configured, and removes its `auths` entry. Other fields of the file are kept.
 *
 * @returns whether there was anything to remove
 * @example await logout({ registry: 'registry.example.com', env: process.env })
 */
export async function logout(options: LogoutOptions): Promise<boolean> {
  const path = options.configPath ?? dockerConfigPath(options.env);
  const config = await readConfig(path);
  const helper = helperFor(config, options.registry, path);
  let removed = false;
  if (helper !== undefined) {
    const result = await runHelper(helper, 'erase', dockerConfigKey(options.registry), options);
    if (result.exitCode === 0) removed = true;
    else if (!NOT_FOUND_MESSAGE.test(result.stdout) && !NOT_FOUND_MESSAGE.test(result.stderr)) {
      throw helperFailed(helper, 'erase', result);
    }
  }
  const auths = authsOf(config, path);
  const entry = authEntry(auths, options.registry);
  if (entry !== undefined) {
    if (credentialFromEntry(entry[1], entry[0], path) !== undefined) removed = true;
    delete auths[entry[0]];
    await writeConfig(path, { ...config, auths });
  }
  return removed;
}
