import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import {
  type OpenSigningKeyOptions,
  type SigningKeyEntry,
  SIGNING_KEYS_FILE,
  addSigningKey,
  isPkcs11Uri,
  isPluginKey,
  openEntry,
  parsePkcs11Uri,
  readSigningKeys,
  removeSigningKey,
  setDefaultSigningKey,
  writeSigningKeys,
} from '../../keys/index.js';
import { findPlugin } from '../../plugins/index.js';
import {
  configDirectory,
  pluginDirectories as pluginDirectoriesOf,
  verificationPluginSettings as pluginSettingsOf,
} from '../../policy/index.js';
import type { VerificationPluginSettings } from '../../trust/index.js';
import { parseDuration } from '../duration.js';
import { print, printJson } from '../output.js';
import { askSecret } from '../prompt.js';
import { collect, outputFormat } from './options.js';

/** The environment variable naming the signingkeys.json to use instead of nv2's own. */
export const SIGNING_KEYS_ENV = 'NV2_SIGNING_KEYS';

/** The signingkeys.json a command reads: `--signing-keys`, else $NV2_SIGNING_KEYS, else nv2's. */
export function signingKeysFile(flags: { signingKeys?: string }): string {
  const fromEnv = process.env[SIGNING_KEYS_ENV];
  if (flags.signingKeys !== undefined) return flags.signingKeys;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return resolve(configDirectory(process.env), SIGNING_KEYS_FILE);
}

export { NOTATION_DIR_ENV } from '../../policy/index.js';

/** Where plugins are looked for: nv2's plugin directory, then notation's when configured. */
export function pluginDirectories(): string[] {
  return pluginDirectoriesOf(process.env);
}

/** Where `verify` and `pull` find verification plugins, and what they tell them. */
export function verificationPluginSettings(flags: {
  pluginDir?: readonly string[];
  pluginConfig?: readonly string[];
  pluginTimeout?: string;
}): VerificationPluginSettings {
  return pluginSettingsOf(process.env, {
    ...(flags.pluginDir !== undefined ? { directories: flags.pluginDir } : {}),
    pluginConfig: pluginConfigOf(flags.pluginConfig ?? []),
    ...(flags.pluginTimeout !== undefined
      ? { timeoutMs: parseDuration(flags.pluginTimeout) * 1000 }
      : {}),
  });
}

/** How the CLI opens keys: the signingkeys.json, the environment, and a PIN prompt on a terminal. */
export function keyOpenOptions(flags: {
  signingKeys?: string;
  pluginTimeout?: string;
}): OpenSigningKeyOptions {
  return {
    ...(flags.pluginTimeout !== undefined
      ? { pluginTimeoutMs: parseDuration(flags.pluginTimeout) * 1000 }
      : {}),
    signingKeysFile: signingKeysFile(flags),
    pluginDirs: pluginDirectories(),
    env: process.env,
    ...(process.stdin.isTTY === true ? { askPin: askSecret } : {}),
  };
}

interface AddFlags {
  key?: string;
  plugin?: string;
  id?: string;
  pluginConfig: string[];
  cert?: string;
  default?: boolean;
  signingKeys?: string;
}

function describeEntry(entry: SigningKeyEntry): Record<string, unknown> {
  return isPluginKey(entry)
    ? {
        name: entry.name,
        id: entry.id,
        pluginName: entry.pluginName,
        ...(entry.pluginConfig !== undefined ? { pluginConfig: entry.pluginConfig } : {}),
      }
    : {
        name: entry.name,
        keyPath: entry.keyPath,
        ...(entry.certPath !== undefined ? { certPath: entry.certPath } : {}),
      };
}

/** `--plugin-config KEY=VALUE` flags as the map the plugin gets. */
export function pluginConfigOf(values: readonly string[]): Record<string, string> {
  const config: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `--plugin-config ${JSON.stringify(value)} is not KEY=VALUE`,
      );
    }
    config[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return config;
}

/** `nv2 key add|list|remove|default`: named signing keys in signingkeys.json (notation's format). */
export function registerKey(program: Command): void {
  const key = program
    .command('key')
    .description(
      `manage named signing keys ($NV2_CONFIG_DIR/${SIGNING_KEYS_FILE}, notation's format); nv2 sign --key NAME signs with one`,
    );
  const fileOption = [
    '--signing-keys <file>',
    `the signingkeys.json to manage (default $${SIGNING_KEYS_ENV}, else $NV2_CONFIG_DIR/${SIGNING_KEYS_FILE})`,
  ] as const;

  key
    .command('add')
    .description(
      'name a signing key: a key file with its certificate, a key in a PKCS#11 token, or a key behind a plugin',
    )
    .argument('<name>', 'the name nv2 sign --key will use')
    .option(
      '-k, --key <key>',
      'private key file (PEM), or a pkcs11: URI (RFC 7512) naming a key inside a token',
    )
    .option('--plugin <name>', 'a Notary Project plugin that holds the key (nv2 plugin list)')
    .option('--id <keyId>', "the key's id in the plugin")
    .option(
      '--plugin-config <KEY=VALUE>',
      'plugin configuration (repeatable), passed to the plugin with every request',
      collect,
      [],
    )
    .option(
      '-c, --cert <file>',
      "signing certificate and its chain (PEM); required for a key file, optional for a token key (default: the token's certificate)",
    )
    .option('--default', 'make it the default key')
    .option(...fileOption)
    .action(async (name: string, flags: AddFlags) => {
      if (name === '' || isPkcs11Uri(name)) {
        throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `"${name}" cannot name a key`);
      }
      const file = signingKeysFile(flags);
      let entry: SigningKeyEntry;
      if ((flags.plugin !== undefined) === (flags.key !== undefined)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'give either -k KEY (a key file or a pkcs11: URI) or --plugin NAME --id KEYID',
        );
      }
      if (flags.plugin !== undefined) {
        if (flags.id === undefined) {
          throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', '--plugin needs --id KEYID');
        }
        // The plugin must be installed; it is asked nothing until it signs.
        await findPlugin(flags.plugin, pluginDirectories());
        const config = pluginConfigOf(flags.pluginConfig);
        entry = {
          name,
          id: flags.id,
          pluginName: flags.plugin,
          ...(Object.keys(config).length > 0 ? { pluginConfig: config } : {}),
        };
      } else if (flags.key === undefined) {
        throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'no key given');
      } else if (isPkcs11Uri(flags.key)) {
        // Checked for form only: opening it would ask the token for the PIN.
        parsePkcs11Uri(flags.key);
        entry = {
          name,
          keyPath: flags.key,
          ...(flags.cert !== undefined ? { certPath: resolve(flags.cert) } : {}),
        };
      } else {
        if (flags.cert === undefined) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            'a key file needs its certificate: -c CERT',
          );
        }
        entry = { name, keyPath: resolve(flags.key), certPath: resolve(flags.cert) };
        // Reads both files and checks that they belong together before naming them.
        const opened = await openEntry(entry);
        await opened.close?.();
      }
      const keys = addSigningKey(await readSigningKeys(file), entry, flags.default === true);
      await writeSigningKeys(file, keys);
      print(keys.default === name ? `${name} (default)` : name);
    });

  key
    .command('list')
    .alias('ls')
    .description('list the named signing keys; * marks the default')
    .option('-o, --output <format>', 'text or json', 'text')
    .option(...fileOption)
    .action(async (flags: { output: string; signingKeys?: string }) => {
      const format = outputFormat(flags.output);
      const keys = await readSigningKeys(signingKeysFile(flags));
      if (format === 'json') {
        printJson({
          ...(keys.default !== undefined ? { default: keys.default } : {}),
          keys: keys.keys.map(describeEntry),
        });
        return;
      }
      for (const entry of keys.keys) {
        const mark = entry.name === keys.default ? '*' : ' ';
        const where = isPluginKey(entry)
          ? `plugin ${entry.pluginName} key ${entry.id}`
          : `${entry.keyPath}${entry.certPath !== undefined ? ` ${entry.certPath}` : ''}`;
        print(`${mark} ${entry.name}\t${where}`);
      }
    });

  key
    .command('remove')
    .alias('rm')
    .description('forget a named signing key (the key and certificate files are left alone)')
    .argument('<name>', 'the key to forget')
    .option(...fileOption)
    .action(async (name: string, flags: { signingKeys?: string }) => {
      const file = signingKeysFile(flags);
      await writeSigningKeys(file, removeSigningKey(await readSigningKeys(file), name));
      print(name);
    });

  key
    .command('default')
    .description('make a named signing key the default of nv2 sign')
    .argument('<name>', 'the key')
    .option(...fileOption)
    .action(async (name: string, flags: { signingKeys?: string }) => {
      const file = signingKeysFile(flags);
      await writeSigningKeys(file, setDefaultSigningKey(await readSigningKeys(file), name));
      print(name);
    });
}
