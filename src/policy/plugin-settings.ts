/**
 * Where verification plugins are found and what they are told, the same for every face: nv2's
 * plugin directory (under its configuration directory), then notation's when configured,
 * unless the caller names the directories itself.
 */
import { resolve } from 'node:path';
import type { VerificationPluginSettings } from '../trust/index.js';
import { configDirectory } from './config.js';

/** The environment variable naming notation's configuration directory, whose plugins nv2 also uses. */
export const NOTATION_DIR_ENV = 'NV2_NOTATION_DIR';

/** nv2's plugin directory (`$NV2_CONFIG_DIR/plugins`), then notation's when `$NV2_NOTATION_DIR` is set. */
export function pluginDirectories(env: Readonly<Record<string, string | undefined>>): string[] {
  const dirs = [resolve(configDirectory(env), 'plugins')];
  const notation = env[NOTATION_DIR_ENV];
  if (notation !== undefined && notation !== '') dirs.push(resolve(notation, 'plugins'));
  return dirs;
}

/** What a face overrides of the default plugin settings. */
export interface PluginSettingsOverrides {
  /** Plugin directories searched in order, instead of `pluginDirectories(env)`; none given: the default. */
  readonly directories?: readonly string[];
  /** `pluginConfig` of every plugin request. */
  readonly pluginConfig?: Readonly<Record<string, string>>;
  /** How long one plugin command may run; default the plugin runner's. */
  readonly timeoutMs?: number;
}

/**
 * The verification plugin settings of a face: the default directories from `env` (as
 * `pluginDirectories`) unless `overrides.directories` names some, with the overrides' config
 * and timeout.
 *
 * @example verificationPluginSettings(process.env, { pluginConfig: { region: 'eu' } })
 */
export function verificationPluginSettings(
  env: Readonly<Record<string, string | undefined>>,
  overrides: PluginSettingsOverrides = {},
): VerificationPluginSettings {
  const directories =
    overrides.directories !== undefined && overrides.directories.length > 0
      ? overrides.directories.map((d) => resolve(d))
      : pluginDirectories(env);
  return {
    directories,
    pluginConfig: { ...overrides.pluginConfig },
    ...(overrides.timeoutMs !== undefined ? { timeoutMs: overrides.timeoutMs } : {}),
  };
}
