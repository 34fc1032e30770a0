import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import { print } from '../output.js';

/** The plugin script beside the CLI's own: dist/cli/docker-nv2.js. */
function pluginScript(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  if (basename(dir) === 'chunks' || basename(dir) === 'commands') dir = dirname(dir);
  const script = join(dir, 'docker-nv2.js');
  if (!existsSync(script)) {
    throw new InvalidInputError(
      'NV2_ERR_FILE_NOT_FOUND',
      `the plugin ${script} is missing from this installation of nv2`,
    );
  }
  return script;
}

/** `nv2 docker install|uninstall`: put the `docker nv2` CLI plugin where docker finds it. */
export function registerDocker(program: Command): void {
  const docker = program
    .command('docker')
    .description('install or remove the docker CLI plugin (docker nv2 …)');
  docker
    .command('install')
    .description(
      'install the docker-nv2 plugin into $DOCKER_CONFIG/cli-plugins (default ~/.docker/cli-plugins); prints its path',
    )
    .option('--force', 'replace a docker-nv2 that nv2 did not install')
    .action(async (flags: { force?: boolean }) => {
      const { dockerConfigDir, installPlugin } = await import('../../docker/index.js');
      const path = await installPlugin({
        configDir: dockerConfigDir(process.env),
        node: process.execPath,
        script: pluginScript(),
        force: flags.force === true,
      });
      print(path);
      process.stderr.write(
        'docker nv2 is ready; enable verification before pull with: docker nv2 notary --enabled\n',
      );
    });
  docker
    .command('uninstall')
    .description('remove the docker-nv2 plugin nv2 installed; kept signatures and nv2.json stay')
    .action(async () => {
      const { dockerConfigDir, pluginPath, uninstallPlugin } =
        await import('../../docker/index.js');
      const configDir = dockerConfigDir(process.env);
      const removed = await uninstallPlugin(configDir);
      if (removed !== undefined) print(removed);
      else process.stderr.write(`no plugin installed at ${pluginPath(configDir)}\n`);
    });
}
