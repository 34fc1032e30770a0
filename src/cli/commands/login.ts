import type { Command } from 'commander';
import { InvalidInputError } from '../../errors.js';
import { readBoundedStream } from '../../content/index.js';
import { print, warn } from '../output.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
}

/** The registry a `login`/`logout` argument names: a host, optionally as a URL. */
function registryOf(argument: string): string {
  const host = argument.replace(/^(https?|docker|oci):\/\//, '').replace(/\/.*$/, '');
  if (host === '') {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'name the registry: nv2 login HOST');
  }
  return host;
}

/** `nv2 login` and `nv2 logout`: registry credentials in docker's config ($DOCKER_CONFIG). */
export function registerLogin(program: Command): void {
  program
    .command('login')
    .description(
      'check credentials with the registry and store them as docker does ($DOCKER_CONFIG/config.json or its credential helper)',
    )
    .argument('<registry>', 'registry host, e.g. registry.example.com or 127.0.0.1:5000')
    .option('-u, --username <user>', 'username (else NV2_USERNAME)')
    .option('-p, --password <password>', 'password (insecure: visible to other users)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--plain-http', 'use HTTP, not HTTPS (automatic for localhost and 127.0.0.1)')
    .option('--insecure', 'accept any TLS certificate from the registry (test registries only)')
    .option('--ca-file <file>', 'PEM file of CA certificates to trust for the registry')
    .action(async (argument: string, flags: LoginFlags) => {
      const registry = registryOf(argument);
      const username = flags.username ?? process.env['NV2_USERNAME'];
      if (username === undefined || username === '') {
        throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', 'login needs a username: -u USER');
      }
      let password: string | undefined;
      if (flags.passwordStdin === true) {
        if (flags.password !== undefined) {
          throw new InvalidInputError(
            'NV2_ERR_INVALID_ARGUMENT',
            '--password and --password-stdin are mutually exclusive',
          );
        }
        password = (await readBoundedStream(process.stdin, 64 * 1024, 'password'))
          .toString('utf8')
          .replace(/\r?\n$/, '');
      } else if (flags.password !== undefined) {
        warn('a password on the command line is visible to other users; use --password-stdin');
        password = flags.password;
      } else {
        password = process.env['NV2_PASSWORD'];
      }
      if (password === undefined || password === '') {
        throw new InvalidInputError(
          'NV2_ERR_INVALID_ARGUMENT',
          'login needs a password: --password-stdin (or NV2_PASSWORD)',
        );
      }
      const remote = await import('../../remote/index.js');
      const client = remote.createRegistryClient({
        credentials: remote.staticCredentials(username, password, [registry]),
        ...(flags.plainHttp === true ? { plainHttp: true } : {}),
        insecure: flags.insecure === true,
        caFile: flags.caFile,
        proxy: remote.proxyFromEnv(process.env),
      });
      try {
        await client.ping(registry);
      } finally {
        await client.close();
      }
      const result = await remote.login({ registry, username, password, env: process.env });
      process.stderr.write(
        `credentials stored ${result.helper !== undefined ? `with ${result.helper}` : `in ${result.configPath}`}\n`,
      );
      print('Login Succeeded');
    });

  program
    .command('logout')
    .description('remove the credentials stored for a registry')
    .argument('<registry>', 'registry host')
    .action(async (argument: string) => {
      const registry = registryOf(argument);
      const { logout } = await import('../../remote/index.js');
      const removed = await logout({ registry, env: process.env });
      print(removed ? `Removed login credentials for ${registry}` : `Not logged in to ${registry}`);
    });
}
