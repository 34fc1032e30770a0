import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { print } from '../output.js';

interface DemoFlags {
  dir?: string;
  keep?: boolean;
}

/** The environment variables the demo points at its own directory, restored afterwards. */
const ISOLATED_ENV = ['NV2_CONFIG_DIR', 'DOCKER_CONFIG', 'NV2_USERNAME', 'NV2_PASSWORD'] as const;

/**
 * `nv2 demo`: the Notary v2 story on this machine with no other software. Starts two
 * registries (a public one, open; ACME's, with token auth and a signer role) exactly as `nv2
 * registry serve --config` does, then plays the story in src/cli/demo/story.ts, every step a
 * real `nv2` command line. Exits non-zero when any step does not behave as the story says.
 */
export function registerDemo(
  program: Command,
  run: (argv: readonly string[]) => Promise<number>,
): void {
  program
    .command('demo')
    .description(
      'run the Notary v2 story end to end on this machine: two registries, publishers, trust policy, refusals and acceptances',
    )
    .option('--dir <dir>', 'work in this directory (default: a temporary one, removed afterwards)')
    .option('--keep', 'leave the registries running afterwards and print how to try it by hand')
    .action(async (flags: DemoFlags) => {
      const [{ startRegistryServer, resolveRegistryConfig }, { hashPassword }] = await Promise.all([
        import('../../registry/server/index.js'),
        import('../../registry/index.js'),
        import('yaml'),
      ]);
      const { playStory } = await import('../demo/story.js');
      const dir = resolve(flags.dir ?? (await mkdtemp(join(tmpdir(), 'nv2-demo-'))));
      await mkdir(dir, { recursive: true });
      const savedEnv = ISOLATED_ENV.map((name) => [name, process.env[name]] as const);
      process.env['NV2_CONFIG_DIR'] = join(dir, 'config');
      process.env['DOCKER_CONFIG'] = join(dir, 'docker');
      delete process.env['NV2_USERNAME'];
      delete process.env['NV2_PASSWORD'];
      const stops: (() => Promise<void>)[] = [];
      const discard = (): void => undefined;
      try {
        const publicRegistry = await startRegistryServer(
          await resolveRegistryConfig({ addr: '127.0.0.1:0', root: join(dir, 'public-registry') }),
          discard,
        );
        stops.push(() => {
          publicRegistry.server.closeIdleConnections();
          return publicRegistry.close();
        });

        const passwords = {
          'acme-ci': randomBytes(12).toString('base64url'),
          'acme-security': randomBytes(12).toString('base64url'),
        };
        // JSON, which is YAML too: the same file `nv2 registry serve --config` reads.
        const acmeConfig = join(dir, 'acme-registry.json');
        await writeFile(
          acmeConfig,
          JSON.stringify(
            {
              storage: { filesystem: { root: join(dir, 'acme-registry') } },
              auth: {
                mode: 'token',
                users: {
                  'acme-ci': await hashPassword(passwords['acme-ci']),
                  'acme-security': await hashPassword(passwords['acme-security']),
                },
                rules: [
                  { repositories: ['*'], users: ['acme-ci'], roles: ['writer'] },
                  { repositories: ['*'], users: ['acme-security'], roles: ['writer', 'signer'] },
                ],
              },
            },
            null,
            2,
          ),
          { mode: 0o600 },
        );
        const privateRegistry = await startRegistryServer(
          await resolveRegistryConfig({ addr: '127.0.0.1:0', config: acmeConfig }),
          discard,
        );
        stops.push(() => {
          privateRegistry.server.closeIdleConnections();
          return privateRegistry.close();
        });

        // The public registry is addressed as localhost: its certification key is named so.
        const publicUrl = publicRegistry.url.replace('127.0.0.1', 'localhost');
        const story = await playStory(
          run,
          {
            public: { ...publicRegistry, url: publicUrl },
            private: privateRegistry,
            passwords,
          },
          dir,
        );
        stops.push(() => story.close());
        print();
        print(`Every step behaved as the story says (${story.session.commands.length} commands).`);
        if (flags.keep === true) {
          const { scenery } = story;
          print();
          print('The registries keep running until you press Ctrl-C. To try it by hand:');
          print(
            `   export NV2_CONFIG_DIR=${scenery.configDir} DOCKER_CONFIG=${scenery.dockerConfigDir}`,
          );
          print(`   nv2 verify ${scenery.publicRegistry}/wabbit-networks/net-monitor:v1 --explain`);
          print(`   nv2 discover ${scenery.privateRegistry}/software/net-monitor:v1`);
          print(`   nv2 policy show; nv2 trust list`);
          print(`   (certificates and keys are in ${join(dir, 'certs')}; ACME's registry config,`);
          print(`   users acme-ci and acme-security, is ${acmeConfig})`);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', () => resolve());
            process.once('SIGTERM', () => resolve());
          });
        }
      } finally {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
        for (const [name, value] of savedEnv) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        if (flags.dir === undefined && flags.keep !== true) {
          await rm(dir, { recursive: true, force: true });
        }
      }
    });
}
