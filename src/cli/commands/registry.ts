import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { readBoundedStream, writeFileAtomic } from '../../content/index.js';
import { InvalidInputError } from '../../errors.js';
import { type OutputFormat, print, printJson } from '../output.js';
import { askSecret } from '../prompt.js';
import type { ServeFlags } from '../../registry/server/index.js';
// The defaults alone, so that help text loads nothing else (see the architecture test).
import { DEFAULT_ADDR, DEFAULT_ROOT } from '../../registry/server/defaults.js';
import { outputFormat } from './options.js';

// The server, its config parser and metrics are loaded by these commands only (dynamic
// imports), so that `nv2 verify` does not pay for them at start-up.

interface GcFlags {
  root?: string;
  config?: string;
  dryRun?: boolean;
  deleteUntagged?: boolean;
  online?: boolean;
  graceSeconds?: string;
  uploadsOlderThan: string;
  output: OutputFormat;
}

interface UserFlags {
  htpasswd?: string;
  config?: string;
  passwordStdin?: boolean;
  cost: string;
}

/** The htpasswd file a `user` command edits: `--htpasswd`, else the config's `auth.htpasswd`. */
async function htpasswdPath(flags: Pick<UserFlags, 'htpasswd' | 'config'>): Promise<string> {
  if (flags.htpasswd !== undefined) return flags.htpasswd;
  if (flags.config !== undefined) {
    const { readConfigFile } = await import('../../registry/server/index.js');
    const file = await readConfigFile(flags.config);
    if (file.auth?.htpasswd !== undefined) return file.auth.htpasswd;
  }
  throw new InvalidInputError(
    'NV2_ERR_INVALID_ARGUMENT',
    'name the users file: --htpasswd FILE, or --config FILE with auth.htpasswd',
  );
}

/** The users of an htpasswd file, empty when there is none yet; and its mode, to keep it. */
async function readUsers(path: string): Promise<{ users: Map<string, string>; mode: number }> {
  const { parseHtpasswd } = await import('../../registry/index.js');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { users: new Map(), mode: 0o600 };
    throw new InvalidInputError('NV2_ERR_FILE_NOT_FOUND', `${path} cannot be read`);
  }
  return { users: parseHtpasswd(text, path), mode: (await stat(path)).mode & 0o777 };
}

/** The new password: typed twice at a terminal, else the first line of standard input. */
async function readNewPassword(fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin || process.stdin.isTTY !== true) {
    password = (await readBoundedStream(process.stdin, 64 * 1024, 'password'))
      .toString('utf8')
      .replace(/\r?\n$/, '');
  } else {
    password = await askSecret('Password: ');
    if ((await askSecret('Repeat password: ')) !== password) {
      throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'the passwords do not match');
    }
  }
  if (password === '') throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'empty password');
  return password;
}

/** `nv2 registry user add|delete|list`: the registry's htpasswd file. */
function registerUser(registry: Command): void {
  const user = registry
    .command('user')
    .description('manage the users of the registry (an htpasswd file of bcrypt entries)');
  const fileOptions = (command: Command): Command =>
    command
      .option('--htpasswd <file>', 'the users file (default: auth.htpasswd of --config)')
      .option('--config <file>', 'the config file `serve` uses');

  fileOptions(
    user
      .command('add')
      .description(
        'add a user or set their password; the password is read from the terminal (twice) or from standard input, never from arguments',
      )
      .argument('<name>', 'user name'),
  )
    .option('--password-stdin', 'read the password from standard input even at a terminal')
    .option('--cost <n>', 'bcrypt cost, 4 to 17', '10')
    .action(async (name: string, flags: UserFlags) => {
      const { formatHtpasswd, hashPassword, isUserName } = await import('../../registry/index.js');
      if (!isUserName(name)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `invalid user name ${JSON.stringify(name)}: letters, digits, '.', '_', '@', '-'`,
        );
      }
      if (!/^\d{1,2}$/.test(flags.cost)) {
        throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', '--cost takes a number, 4 to 17');
      }
      const path = await htpasswdPath(flags);
      const { users, mode } = await readUsers(path);
      const password = await readNewPassword(flags.passwordStdin === true);
      const existed = users.has(name);
      users.set(name, await hashPassword(password, { cost: Number(flags.cost) }));
      await writeFileAtomic(path, formatHtpasswd(users), { mode });
      print(`${existed ? 'updated' : 'added'} user ${name} in ${path}`);
    });

  fileOptions(
    user.command('delete').description('remove a user').argument('<name>', 'user name'),
  ).action(async (name: string, flags: UserFlags) => {
    const { formatHtpasswd } = await import('../../registry/index.js');
    const path = await htpasswdPath(flags);
    const { users, mode } = await readUsers(path);
    if (!users.delete(name)) {
      throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `no user ${name} in ${path}`);
    }
    await writeFileAtomic(path, formatHtpasswd(users), { mode });
    print(`deleted user ${name} from ${path}`);
  });

  fileOptions(user.command('list').description('list the users')).action(
    async (flags: UserFlags) => {
      const path = await htpasswdPath(flags);
      for (const name of (await readUsers(path)).users.keys()) print(name);
    },
  );

  for (const sub of user.commands) sub.exitOverride();
}

/** `nv2 registry serve` and `nv2 registry gc`: the registry server face. */
export function registerRegistry(program: Command): void {
  const registry = program
    .command('registry')
    .description('run the nv2 registry (OCI distribution-spec v1.1 with referrers)');

  registry
    .command('serve')
    .description(
      'serve the registry (and its web UI under /ui/) until SIGTERM or SIGINT; SIGHUP reloads the trust policy; logs one JSON line per request',
    )
    .option('--addr <host:port>', `address to listen on (default: ${DEFAULT_ADDR})`)
    .option('--root <dir>', `data directory for filesystem storage (default: ${DEFAULT_ROOT})`)
    .option('--config <file>', 'YAML or JSON config file; flags override it')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, chain allowed)')
    .option('--tls-key <file>', 'private key of --tls-cert')
    .option('--log-format <format>', 'json (default) or pretty')
    .action(async (flags: ServeFlags) => {
      const { createBatchedLogSink, resolveRegistryConfig, startRegistryServer } =
        await import('../../registry/server/index.js');
      const config = await resolveRegistryConfig(flags);
      const stdout = createBatchedLogSink(process.stdout);
      const running = await startRegistryServer(config, stdout.write);
      await new Promise<void>((resolve) => {
        const reload = (): void => void running.reloadTrust();
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          process.off('SIGHUP', reload);
          void running.close().then(() => {
            stdout.flush();
            resolve();
          });
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        // SIGHUP reloads the trust policy at once (the directory is also polled).
        process.on('SIGHUP', reload);
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
    .option(
      '--online',
      'collect through the metadata database (storage.metadata) while the registry serves',
    )
    .option(
      '--grace-seconds <n>',
      'with --online: keep anything younger than this (default: storage.metadata.gc.graceSeconds)',
    )
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (flags: GcFlags) => {
      const hours = Number(flags.uploadsOlderThan);
      if (!/^\d+(\.\d+)?$/.test(flags.uploadsOlderThan) || !Number.isFinite(hours)) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          '--uploads-older-than takes a number of hours',
        );
      }
      const { resolveRegistryConfig } = await import('../../registry/server/index.js');
      const { collectGarbage, createFilesystemDriver, createMemoryDriver, loadS3Driver } =
        await import('../../registry/index.js');
      const config = await resolveRegistryConfig({
        ...(flags.root !== undefined ? { root: flags.root } : {}),
        ...(flags.config !== undefined ? { config: flags.config } : {}),
      });
      const storage = config.storage;
      if (storage.driver === 's3') {
        process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
      }
      // Over S3 too, with every replica stopped: collection reads the whole bucket.
      const driver =
        storage.driver === 'memory'
          ? createMemoryDriver()
          : storage.driver === 's3'
            ? await loadS3Driver(storage.s3)
            : createFilesystemDriver({ root: storage.root });
      let report;
      try {
        if (flags.online === true || config.metadata !== undefined) {
          const { collectOnline } = await import('../registry-gc-online.js');
          const online = await collectOnline(driver, config.metadata, flags);
          if (flags.output === 'json') printJson(online);
          else
            for (const [key, value] of Object.entries(online))
              print(`${key}: ${JSON.stringify(value)}`);
          return;
        }
        report = await collectGarbage(driver, {
          dryRun: flags.dryRun === true,
          deleteUntagged: flags.deleteUntagged === true,
          uploadsOlderThan: hours * 3600_000,
        });
      } finally {
        // The filesystem driver replays a journal the server left, and checkpoints its own.
        await driver.close?.();
      }
      if (flags.output === 'json') printJson(report);
      else
        for (const [key, value] of Object.entries(report))
          print(`${key}: ${JSON.stringify(value)}`);
    });

  registry
    .command('migrate')
    .description(
      "bring the metadata database's schema (storage.metadata) up to date; serve refuses an old schema",
    )
    .requiredOption('--config <file>', 'the config file `serve` uses')
    .option('--output <format>', 'text or json', outputFormat, 'text')
    .action(async (flags: { config: string; output: OutputFormat }) => {
      const { resolveRegistryConfig } = await import('../../registry/server/index.js');
      const { migrateMetadata } = await import('../../registry/index.js');
      const config = await resolveRegistryConfig({ config: flags.config });
      if (config.metadata === undefined) {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          `${flags.config} has no storage.metadata.database: the embedded store has no schema to migrate`,
        );
      }
      const result = await migrateMetadata(config.metadata);
      if (flags.output === 'json') printJson(result);
      else {
        for (const m of result.applied) print(`applied ${m.version}: ${m.name}`);
        print(`schema version ${result.version}`);
      }
    });

  registerUser(registry);
}
