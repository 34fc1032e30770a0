import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../content/index.js';
import { InvalidInputError, VerificationInconclusiveError } from '../errors.js';
import { PLUGIN_EXECUTABLE } from './metadata.js';

/** The line that marks a plugin executable as written by `installPlugin`. */
const MARKER = '# docker CLI plugin written by `nv2 docker install`';

/** Docker's directory of CLI plugins inside its configuration directory. */
export function pluginDir(configDir: string): string {
  return join(configDir, 'cli-plugins');
}

/** Where the plugin executable goes. */
export function pluginPath(configDir: string): string {
  return join(pluginDir(configDir), PLUGIN_EXECUTABLE);
}

/** What `installPlugin` needs: where docker looks, and what to run. */
export interface InstallPluginOptions {
  /** Docker's configuration directory (`dockerConfigDir`). */
  readonly configDir: string;
  /** The node executable to run the plugin with. */
  readonly node: string;
  /** The plugin's script (the bundled `docker-nv2.js`). */
  readonly script: string;
  /** Replace a `docker-nv2` that nv2 did not write. */
  readonly force?: boolean;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VerificationInconclusiveError(
      'NV2_ERR_IO',
      `cannot read ${path}: ${(err as Error).message}`,
    );
  }
}

/**
 * Installs the plugin: writes `cli-plugins/docker-nv2`, a small executable that runs the
 * plugin script with this node, so that docker finds it whatever the user's PATH holds.
 * Returns the path written.
 *
 * @throws InvalidInputError NV2_ERR_FILE_EXISTS when a `docker-nv2` that nv2 did not write is
 *   there (unless `force`)
 */
export async function installPlugin(options: InstallPluginOptions): Promise<string> {
  const path = pluginPath(options.configDir);
  const existing = await readIfPresent(path);
  if (existing !== undefined && !existing.includes(MARKER) && options.force !== true) {
    throw new InvalidInputError(
      'NV2_ERR_FILE_EXISTS',
      `${path} exists and was not installed by nv2: remove it or pass --force`,
    );
  }
  await mkdir(pluginDir(options.configDir), { recursive: true });
  const text = [
    '#!/bin/sh',
    MARKER,
    '# Remove it with `nv2 docker uninstall`.',
    `exec ${shellQuote(options.node)} ${shellQuote(options.script)} "$@"`,
    '',
  ].join('\n');
  await writeFileAtomic(path, text, { mode: 0o755 });
  return path;
}

/**
 * Removes the plugin executable `installPlugin` wrote. Returns the path removed, or undefined
 * when no plugin was installed.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT when the `docker-nv2` there was not
 *   written by nv2 (it is left alone)
 */
export async function uninstallPlugin(configDir: string): Promise<string | undefined> {
  const path = pluginPath(configDir);
  const existing = await readIfPresent(path);
  if (existing === undefined) return undefined;
  if (!existing.includes(MARKER)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${path} was not installed by nv2; remove it by hand if it is no longer wanted`,
    );
  }
  await unlink(path);
  return path;
}
