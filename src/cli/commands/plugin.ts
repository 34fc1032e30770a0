import type { Command } from 'commander';
import { isNv2Error } from '../../errors.js';
import { listPlugins } from '../../plugins/index.js';
import { print, printJson } from '../output.js';
import { NOTATION_DIR_ENV, pluginDirectories } from './key.js';
import { outputFormat } from './options.js';

/** `nv2 plugin list`: the Notary Project plugins nv2 finds, with what each says of itself. */
export function registerPlugin(program: Command): void {
  const plugin = program
    .command('plugin')
    .description(
      `Notary Project plugins in $NV2_CONFIG_DIR/plugins (and $${NOTATION_DIR_ENV}/plugins, notation's)`,
    );
  plugin
    .command('list')
    .alias('ls')
    .description(
      'list the installed plugins: name, version, capabilities (asks each for its metadata)',
    )
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (flags: { output: string }) => {
      const format = outputFormat(flags.output);
      const rows = [];
      for (const found of await listPlugins(pluginDirectories())) {
        try {
          const metadata = await found.metadata();
          rows.push({ path: found.path, ...metadata });
        } catch (err) {
          rows.push({
            name: found.name,
            path: found.path,
            error: isNv2Error(err) ? `${err.code}: ${err.message}` : String(err),
          });
        }
      }
      if (format === 'json') {
        printJson({ plugins: rows });
        return;
      }
      for (const row of rows) {
        if ('error' in row) print(`${row.name}\t(unusable) ${row.error}`);
        else
          print(`${row.name}\t${row.version}\t${row.capabilities.join(',')}\t${row.description}`);
      }
    });
}
