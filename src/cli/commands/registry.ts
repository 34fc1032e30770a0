import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import { type OutputFormat, print, printJson } from '../output.js';
import type { ServeFlags } from '../registry-config.js';
import { DEFAULT_ADDR, DEFAULT_ROOT } from '../registry-defaults.js';
import { outputFormat } from './options.js';

// The server, its config parser and metrics are loaded by these commands only (dynamic
// imports), so that `nv2 verify` does not pay for them at start-up.

interface GcFlags {
  root?: string;
  config?: string;
  dryRun?: boolean;
  deleteUntagged?: boolean;
  uploadsOlderThan: string;
  output: OutputFormat;
}

/** `nv2 registry serve` and `nv2 registry gc`: the registry server face. */
export function registerRegistry(program: Command): void {
  const registry = program
    .command('registry')
    .description('run the nv2 registry (OCI distribution-spec v1.1 with referrers)');

  registry
    .command('serve')
    .description('serve the registry until SIGTERM or SIGINT; logs one JSON line per request')
    .option('--addr <host:port>', `address to listen on (default: ${DEFAULT_ADDR})`)
    .option('--root <dir>', `data directory for filesystem storage (default: ${DEFAULT_ROOT})`)
    .option('--config <file>', 'YAML or JSON config file; flags override it')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, chain allowed)')
    .option('--tls-key <file>', 'private key of --tls-cert')
    .option('--log-format <format>', 'json (default) or pretty')
    .action(async (flags: ServeFlags) => {
      const { resolveRegistryConfig } = await import('../registry-config.js');
      const { startRegistryServer } = await import('../registry-server.js');
      const config = await resolveRegistryConfig(flags);
      const running = await startRegistryServer(config, (line) =>
        process.stdout.write(`${line}\n`),
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void running.close().then(resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });

  registry
    .command('gc')
    .description('delete blobs no manifest references, and stale upload sessions')
    .option('--root <dir>', `data directory (default: ${DEFAULT_ROOT})`)
    .option('--config <file>', 'the config file `serve` uses, for the storage settings')
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .option(
      '--delete-untagged',
      'also delete untagged manifests (except signatures and other referrers of live manifests)',
    )
    .option('--uploads-older-than <hours>', 'upload sessions idle this many hours are stale', '24')
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (flags: GcFlags) => {
      const hours = Number(flags.uploadsOlderThan);
      if (!/^\d+(\.\d+)?$/.test(flags.uploadsOlderThan) || !Number.isFinite(hours)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          '--uploads-older-than takes a number of hours',
        );
      }
      const { resolveRegistryConfig } = await import('../registry-config.js');
      const { collectGarbage, createFilesystemDriver, createMemoryDriver } =
        await import('../../registry/index.js');
      const config = await resolveRegistryConfig({
        ...(flags.root !== undefined ? { root: flags.root } : {}),
        ...(flags.config !== undefined ? { config: flags.config } : {}),
      });
      const driver =
        config.storage.driver === 'memory'
          ? createMemoryDriver()
          : createFilesystemDriver({ root: config.storage.root });
      const report = await collectGarbage(driver, {
        dryRun: flags.dryRun === true,
        deleteUntagged: flags.deleteUntagged === true,
        uploadsOlderThan: hours * 3600_000,
      });
      if (flags.output === 'json') printJson(report);
      else
        for (const [key, value] of Object.entries(report))
          print(`${key}: ${JSON.stringify(value)}`);
    });
}
