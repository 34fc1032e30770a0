/**
 * Notary Project plugins (plugin-extensibility specification): an executable
 * `notation-NAME` in `PLUGIN_DIR/NAME/`, run once per command (`get-plugin-metadata`,
 * `describe-key`, `generate-signature`, `generate-envelope`) with a JSON request on standard
 * input and a JSON response on standard output; on failure it exits non-zero with
 * `{"errorCode", "errorMessage"}` on standard error.
 */
import { spawn } from 'node:child_process';
import { access, constants, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError, type Nv2ErrorCode } from '../errors.js';

/** The contract version nv2 speaks. */
export const CONTRACT_VERSION = '1.0';
/** How long one plugin command may run before it is killed. */
export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;
/** The most bytes read from a plugin's standard output or error: envelopes are KiB. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
/** Plugin names are directory and file names: no path separators, no dot-dot. */
const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const CAPABILITIES = [
  'SIGNATURE_GENERATOR.RAW',
  'SIGNATURE_GENERATOR.ENVELOPE',
  'SIGNATURE_VERIFIER.TRUSTED_IDENTITY',
  'SIGNATURE_VERIFIER.REVOCATION_CHECK',
] as const;

/** What `get-plugin-metadata` answers. */
export interface PluginMetadata {
  readonly name: string;
  readonly description: string;
  readonly version: string;
  readonly url: string;
  readonly supportedContractVersions: readonly string[];
  readonly capabilities: readonly string[];
}

function error(code: Nv2ErrorCode, message: string): InvalidInputError {
  return new InvalidInputError(code, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string member of a plugin response, or a typed error naming what is missing. */
export function responseString(
  response: Record<string, unknown>,
  member: string,
  plugin: string,
  command: string,
): string {
  const value = response[member];
  if (typeof value !== 'string' || value === '') {
    throw error(
      'NV2_ERR_PLUGIN_INVALID_RESPONSE',
      `plugin ${plugin}: ${command} response has no "${member}" string`,
    );
  }
  return value;
}

/** An installed plugin. */
export class Plugin {
  readonly name: string;
  readonly path: string;
  readonly #timeoutMs: number;

  constructor(name: string, path: string, timeoutMs = DEFAULT_PLUGIN_TIMEOUT_MS) {
    this.name = name;
    this.path = path;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Runs one plugin command and returns its JSON response.
   *
   * @throws InvalidInputError NV2_ERR_PLUGIN_FAILED (non-zero exit; the plugin's error code
   *   and message), NV2_ERR_PLUGIN_TIMEOUT, NV2_ERR_PLUGIN_INVALID_RESPONSE (not a JSON object)
   */
  run(command: string, request: unknown): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.path, [command], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(e);
      };
      const timer = setTimeout(
        () =>
          fail(
            error(
              'NV2_ERR_PLUGIN_TIMEOUT',
              `plugin ${this.name}: ${command} did not answer within ${this.#timeoutMs / 1000} s`,
            ),
          ),
        this.#timeoutMs,
      );
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > MAX_OUTPUT_BYTES) {
          fail(
            error(
              'NV2_ERR_PLUGIN_INVALID_RESPONSE',
              `plugin ${this.name}: ${command} wrote more than ${MAX_OUTPUT_BYTES} bytes`,
            ),
          );
          return;
        }
        into.push(chunk);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.on('error', (e) =>
        fail(
          error(
            'NV2_ERR_PLUGIN_FAILED',
            `plugin ${this.name}: cannot run ${this.path}: ${e.message}`,
          ),
        ),
      );
      child.on('close', (code) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (code !== 0) {
          reject(this.#failure(command, code, Buffer.concat(err).toString('utf8')));
          return;
        }
        let value: unknown;
        try {
          value = JSON.parse(Buffer.concat(out).toString('utf8'));
        } catch {
          reject(
            error(
              'NV2_ERR_PLUGIN_INVALID_RESPONSE',
              `plugin ${this.name}: ${command} did not answer JSON`,
            ),
          );
          return;
        }
        if (!isRecord(value)) {
          reject(
            error(
              'NV2_ERR_PLUGIN_INVALID_RESPONSE',
              `plugin ${this.name}: ${command} did not answer a JSON object`,
            ),
          );
          return;
        }
        resolve(value);
      });
      // A plugin that exits without reading its request closes the pipe: its exit code says why.
      child.stdin.on('error', () => undefined);
      child.stdin.end(JSON.stringify(request));
    });
  }

  #failure(command: string, code: number | null, stderr: string): InvalidInputError {
    let detail = stderr.trim().split('\n')[0] ?? '';
    try {
      const parsed: unknown = JSON.parse(stderr);
      if (isRecord(parsed) && typeof parsed['errorCode'] === 'string') {
        detail = `${parsed['errorCode']}: ${typeof parsed['errorMessage'] === 'string' ? parsed['errorMessage'] : ''}`;
      }
    } catch {
      // Not the specification's error object: the first line of what it wrote will do.
    }
    return error(
      'NV2_ERR_PLUGIN_FAILED',
      `plugin ${this.name}: ${command} failed (exit ${code ?? 'by signal'})${detail !== '' ? `: ${detail}` : ''}`,
    );
  }

  /**
   * `get-plugin-metadata`, checked: the name is the plugin's own, contract version 1.0 is
   * supported, and the capabilities are a list.
   *
   * @throws InvalidInputError NV2_ERR_PLUGIN_INVALID_RESPONSE, and those of `run`
   */
  async metadata(pluginConfig: Readonly<Record<string, string>> = {}): Promise<PluginMetadata> {
    const command = 'get-plugin-metadata';
    const r = await this.run(command, { pluginConfig });
    const name = responseString(r, 'name', this.name, command);
    if (name !== this.name) {
      throw error(
        'NV2_ERR_PLUGIN_INVALID_RESPONSE',
        `plugin ${this.name}: its metadata names it "${name}", not its directory's name`,
      );
    }
    const list = (member: string): string[] => {
      const value = r[member];
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
        throw error(
          'NV2_ERR_PLUGIN_INVALID_RESPONSE',
          `plugin ${this.name}: ${command} response has no "${member}" list`,
        );
      }
      return value as string[];
    };
    const metadata: PluginMetadata = {
      name,
      description: typeof r['description'] === 'string' ? r['description'] : '',
      version: responseString(r, 'version', this.name, command),
      url: typeof r['url'] === 'string' ? r['url'] : '',
      supportedContractVersions: list('supportedContractVersions'),
      capabilities: list('capabilities'),
    };
    if (!metadata.supportedContractVersions.includes(CONTRACT_VERSION)) {
      throw error(
        'NV2_ERR_PLUGIN_INVALID_RESPONSE',
        `plugin ${this.name} supports contract versions ${metadata.supportedContractVersions.join(', ') || 'none'}, not ${CONTRACT_VERSION}`,
      );
    }
    return metadata;
  }
}

/** The executable of plugin `name` in `dir`: `dir/NAME/notation-NAME`. */
export function pluginExecutable(dir: string, name: string): string {
  return join(dir, name, `notation-${name}`);
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds plugin `name` in the first of `dirs` that has it.
 *
 * @throws InvalidInputError NV2_ERR_PLUGIN_NOT_FOUND
 */
export async function findPlugin(
  name: string,
  dirs: readonly string[],
  timeoutMs?: number,
): Promise<Plugin> {
  if (!PLUGIN_NAME.test(name)) {
    throw error('NV2_ERR_PLUGIN_NOT_FOUND', `"${name}" is not a plugin name`);
  }
  for (const dir of dirs) {
    const path = pluginExecutable(dir, name);
    if (await executable(path)) return new Plugin(name, path, timeoutMs);
  }
  throw error(
    'NV2_ERR_PLUGIN_NOT_FOUND',
    `no plugin ${name}: looked for an executable notation-${name} in ${dirs.map((d) => join(d, name)).join(', ')}`,
  );
}

/** The plugins installed in `dirs` (the first of a name wins), by name. */
export async function listPlugins(dirs: readonly string[]): Promise<Plugin[]> {
  const found = new Map<string, Plugin>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (found.has(name) || !PLUGIN_NAME.test(name)) continue;
      const path = pluginExecutable(dir, name);
      if (await executable(path)) found.set(name, new Plugin(name, path));
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}
