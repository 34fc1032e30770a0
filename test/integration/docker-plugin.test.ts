/**
 * The `docker nv2` plugin end to end: installed by `nv2 docker install`, discovered and run
 * by the real docker client, verifying for real against nv2's registry before pull, with a
 * recording stand-in `docker` first on PATH for the engine calls (pull, tag, push, save).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, constants, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, type CliResult, nv2, ok } from '../helpers/cli.js';
import {
  type DockerStandIn,
  classicArchive,
  makeDockerStandIn,
  ociArchive,
  realDocker,
  runWithEnv,
} from '../helpers/docker.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';
import { selfSignedSigner } from '../helpers/pki.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';

const PLUGIN = new URL('../../../dist/cli/docker-nv2.js', import.meta.url).pathname;
const docker = realDocker();
// Without a docker client the discovery tests cannot run; CI installs one (.ci/run).
const noDocker = docker === undefined && process.env.CI === undefined && 'no docker client';

describe('docker nv2 plugin', { skip: noDocker }, () => {
  let dir: string;
  let config: string;
  let standIn: DockerStandIn;
  let registry: RunningRegistry;
  let env: Record<string, string | undefined>;
  let trustedCert: string;
  let trustedKey: string;
  let otherCert: string;
  let otherKey: string;
  const digests: Record<string, string> = {};

  /** `docker ARGS` with the real client (the stand-in is first on PATH for the plugin). */
  const realDockerRun = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
    runWithEnv(docker!, args, { ...env, ...extra });
  const withNv2 = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
    runWithEnv(process.execPath, [CLI, ...args], { ...env, ...extra });
  const newCalls = async (before: number): Promise<string[][]> =>
    (await standIn.calls()).slice(before);

  async function pushImage(name: string): Promise<string> {
    const layout = await tempDir();
    const descriptor = await writeImageLayout(layout, { tag: 'v1', layers: 1, layerSize: 1024 });
    ok(await nv2(['copy', `oci-layout:${layout}:v1`, `${registry.host}/${name}`]), 'copy');
    return descriptor.digest;
  }

  before(async () => {
    dir = await tempDir();
    config = join(dir, 'docker-config');
    standIn = await makeDockerStandIn(dir);
    registry = await startRegistry();
    const { NV2_DOCKER: _ignored, ...rest } = process.env;
    env = {
      ...rest,
      DOCKER_CONFIG: config,
      PATH: `${standIn.bin}:${process.env.PATH ?? ''}`,
      STANDIN_LOG: standIn.logFile,
    };
    const trusted = await selfSignedSigner('127.0.0.1');
    const other = await selfSignedSigner('127.0.0.1');
    trustedCert = join(dir, 'trusted.crt');
    trustedKey = join(dir, 'trusted.key');
    otherCert = join(dir, 'other.crt');
    otherKey = join(dir, 'other.key');
    await writeFile(trustedCert, trusted.certPem);
    await writeFile(trustedKey, trusted.keyPem);
    await writeFile(otherCert, other.certPem);
    await writeFile(otherKey, other.keyPem);
    for (const name of ['signed:v1', 'untrusted:v1', 'unsigned:v1']) {
      digests[name] = await pushImage(name);
    }
    const sign = (key: string, cert: string, ref: string): Promise<CliResult> =>
      nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]);
    ok(await sign(trustedKey, trustedCert, `${registry.host}/signed:v1`), 'sign signed');
    ok(await sign(otherKey, otherCert, `${registry.host}/untrusted:v1`), 'sign untrusted');
  });
  after(() => registry.close());

  it('installs where docker finds it, and answers the handshake', async () => {
    const installed = ok(await withNv2(['docker', 'install']), 'install');
    const path = join(config, 'cli-plugins', 'docker-nv2');
    assert.equal(installed.stdout.trim(), path);
    await access(path, constants.X_OK);
    const metadata = JSON.parse(
      ok(await runWithEnv(path, ['docker-cli-plugin-metadata'], env), 'metadata').stdout,
    ) as Record<string, string>;
    assert.equal(metadata.SchemaVersion, '0.1.0');
    assert.equal(metadata.Vendor, 'Notary Project');
    assert.match(metadata.Version!, /^\d+\.\d+\.\d+/);
    assert.match(metadata.URL!, /^https:\/\//);
    const help = ok(await realDockerRun(['--help']), 'docker --help');
    assert.match(help.stdout, /^\s+nv2\*?\s+Verify signatures before pull/m);
    // docker info lists client plugins even when no engine answers.
    const info = await realDockerRun(['info']);
    assert.match(info.stdout, /nv2: Verify signatures before pull.*\n\s+Version:/);
    const reached = ok(await realDockerRun(['nv2', '--help']), 'docker nv2 --help');
    assert.match(reached.stdout, /Usage: docker nv2 COMMAND/);
  });

  it('enables and disables verification', async () => {
    ok(await realDockerRun(['nv2', 'notary', '--enabled']), 'enable');
    let saved = JSON.parse(await readFile(join(config, 'nv2.json'), 'utf8')) as {
      enabled: boolean;
    };
    assert.equal(saved.enabled, true);
    ok(await realDockerRun(['nv2', 'notary', '--enabled=false']), 'disable');
    saved = JSON.parse(await readFile(join(config, 'nv2.json'), 'utf8')) as { enabled: boolean };
    assert.equal(saved.enabled, false);
    const bad = await realDockerRun(['nv2', 'notary', '--enabled=maybe']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /NV2_ERR_INVALID_ARGUMENT/);
    const unknown = await realDockerRun(['nv2', 'notary', 'sign', '--bogus', 'app:v1']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^docker nv2: NV2_ERR_INVALID_ARGUMENT: .*--bogus/);
  });

  it('passes other commands through to docker, exit code included', async () => {
    const start = (await standIn.calls()).length;
    const listed = ok(await realDockerRun(['nv2', 'image', 'ls', '--format', '{{.ID}}']), 'ls');
    assert.match(listed.stdout, /stand-in docker image ls --format \{\{\.ID\}\}/);
    const failed = await realDockerRun(['nv2', 'exit-with', '7']);
    assert.equal(failed.code, 7);
    assert.deepEqual(await newCalls(start), [
      ['image', 'ls', '--format', '{{.ID}}'],
      ['exit-with', '7'],
    ]);
  });

  it('pulls straight through when disabled', async () => {
    const start = (await standIn.calls()).length;
    const image = `${registry.host}/unsigned:v1`;
    ok(await realDockerRun(['nv2', 'pull', '--platform', 'linux/amd64', image]), 'pull');
    assert.deepEqual(await newCalls(start), [['pull', '--platform', 'linux/amd64', image]]);
  });

  describe('when enabled', () => {
    before(async () => {
      await writeFile(
        join(config, 'nv2.json'),
        JSON.stringify({ enabled: true, verificationCerts: [trustedCert], insecureRegistries: [] }),
      );
    });

    it('verifies a trusted image, then pulls it by digest and tags it', async () => {
      const start = (await standIn.calls()).length;
      const image = `${registry.host}/signed:v1`;
      const pulled = ok(await realDockerRun(['nv2', 'pull', image]), 'pull');
      assert.match(pulled.stderr, /1 signature found, 1 verified/);
      assert.match(pulled.stderr, /verified, signed by CN=127\.0\.0\.1; references: .*signed:v1/);
      const pinned = `${registry.host}/signed@${digests['signed:v1']}`;
      assert.deepEqual(await newCalls(start), [
        ['pull', pinned],
        ['tag', pinned, image],
      ]);
    });

    it('refuses an image signed by an untrusted key, with a hint, and pulls nothing', async () => {
      const start = (await standIn.calls()).length;
      const refused = await realDockerRun(['nv2', 'pull', `${registry.host}/untrusted:v1`]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /NV2_ERR_NO_VALID_SIGNATURE/);
      assert.match(refused.stderr, /add the signer's certificate .* to verificationCerts/);
      assert.equal(refused.stderr.trim().split('\n').length, 1);
      assert.deepEqual(await newCalls(start), []);
    });

    it('refuses an unsigned image and pulls nothing', async () => {
      const start = (await standIn.calls()).length;
      const refused = await realDockerRun(['nv2', 'pull', `${registry.host}/unsigned:v1`]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /NV2_ERR_NO_SIGNATURE: .*not signed|NV2_ERR_NO_SIGNATURE/);
      assert.match(refused.stderr, /--enabled=false/);
      assert.deepEqual(await newCalls(start), []);
    });

    it('says why when the registry cannot be reached, and pulls nothing', async () => {
      const start = (await standIn.calls()).length;
      const refused = await realDockerRun(['nv2', 'pull', '127.0.0.1:1/app:v1']);
      assert.equal(refused.code, 3);
      assert.match(refused.stderr, /NV2_ERR_REGISTRY_UNREACHABLE/);
      assert.deepEqual(await newCalls(start), []);
    });
  });

  describe('with the trust policy (trustPolicy: true)', () => {
    let policyEnv: Record<string, string>;
    before(async () => {
      const configDir = join(dir, 'nv2-config');
      policyEnv = { NV2_CONFIG_DIR: configDir };
      await writeFile(
        join(config, 'nv2.json'),
        JSON.stringify({ enabled: true, verificationCerts: [], trustPolicy: true }),
      );
      const policy = join(dir, 'trustpolicy.json');
      await writeFile(
        policy,
        JSON.stringify({
          version: '1.0',
          trustPolicies: [
            {
              name: 'local',
              registryScopes: [`${registry.host}/*`],
              signatureVerification: { level: 'strict' },
              trustStores: ['ca:local'],
              trustedIdentities: ['*'],
            },
          ],
        }),
      );
      ok(await withNv2(['policy', 'import', policy], policyEnv), 'policy import');
      ok(await withNv2(['trust', 'add', '--store', 'local', trustedCert], policyEnv), 'trust add');
    });

    it('pulls what the policy trusts, by digest', async () => {
      const start = (await standIn.calls()).length;
      const image = `${registry.host}/signed:v1`;
      const pulled = ok(await realDockerRun(['nv2', 'pull', image], policyEnv), 'pull');
      assert.match(pulled.stderr, /1 signature found, 1 verified/);
      const pinned = `${registry.host}/signed@${digests['signed:v1']}`;
      assert.deepEqual(await newCalls(start), [
        ['pull', pinned],
        ['tag', pinned, image],
      ]);
    });

    it('refuses what the policy does not trust, naming the trust policy, and pulls nothing', async () => {
      const start = (await standIn.calls()).length;
      for (const name of ['untrusted:v1', 'unsigned:v1']) {
        const refused = await realDockerRun(['nv2', 'pull', `${registry.host}/${name}`], policyEnv);
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(refused.stderr, /trust policy "local"/);
      }
      assert.deepEqual(await newCalls(start), []);
    });

    it('lets unsigned content through with a warning when the scope is at audit', async () => {
      ok(
        await withNv2(['policy', 'set-level', `${registry.host}/*`, 'audit'], policyEnv),
        'set-level',
      );
      const start = (await standIn.calls()).length;
      const image = `${registry.host}/unsigned:v1`;
      const pulled = ok(await realDockerRun(['nv2', 'pull', image], policyEnv), 'pull');
      assert.match(pulled.stderr, /warning: .*no signatures/);
      assert.equal((await newCalls(start))[0]?.[0], 'pull');
      ok(
        await withNv2(['policy', 'set-level', `${registry.host}/*`, 'strict'], policyEnv),
        'set-level',
      );
    });
  });

  it('signs a local image from docker save, keeps the signature, and warns about recompression', async () => {
    const archive = await classicArchive('local/app:v1');
    const tarball = join(dir, 'classic.tar');
    await writeFile(tarball, archive.tar);
    const start = (await standIn.calls()).length;
    const signed = ok(
      await realDockerRun(
        ['nv2', 'notary', 'sign', '--key', trustedKey, '--cert', trustedCert, 'local/app:v1'],
        { STANDIN_SAVE_ARCHIVE: tarball },
      ),
      'sign',
    );
    const digest = signed.stdout.trim();
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(await newCalls(start), [['save', 'local/app:v1']]);
    assert.match(signed.stderr, /2 layers of local\/app:v1 are stored uncompressed/);
    const generated = ok(await withNv2(['generate', 'manifest', `file:${tarball}`]), 'generate');
    assert.equal(
      digest,
      `sha256:${(await import('node:crypto')).createHash('sha256').update(generated.stdout).digest('hex')}`,
    );
    const kept = await readdir(join(config, 'nv2', 'sha256', digest.slice(7)));
    assert.equal(kept.length, 1);
  });

  it('fails clearly when docker save cannot find the image', async () => {
    const failed = await realDockerRun([
      'nv2',
      'notary',
      'sign',
      '--key',
      trustedKey,
      'missing/app:v1',
    ]);
    assert.equal(failed.code, 3);
    assert.match(failed.stderr, /NV2_ERR_DOCKER_COMMAND: docker save missing\/app:v1 failed/);
    // An archive that cannot be read, larger than a pipe holds: refused, and docker not left
    // blocked on its output.
    const garbage = join(dir, 'garbage.tar');
    await writeFile(garbage, randomBytes(4 * 1024 * 1024));
    const unreadable = await realDockerRun(
      ['nv2', 'notary', 'sign', '--key', trustedKey, 'garbage/app:v1'],
      { STANDIN_SAVE_ARCHIVE: garbage },
    );
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.stderr, /NV2_ERR_DOCKER_ARCHIVE/);
  });

  it('signs what the registry holds with --remote, and pushes the signature there', async () => {
    const image = `${registry.host}/remote-signed:v1`;
    const digest = await pushImage('remote-signed:v1');
    const before = await nv2(['verify', '-c', trustedCert, image]);
    assert.equal(before.code, 1);
    const signed = ok(
      await realDockerRun([
        'nv2',
        'notary',
        'sign',
        '--remote',
        '--key',
        trustedKey,
        '--cert',
        trustedCert,
        image,
      ]),
      'sign --remote',
    );
    assert.equal(signed.stdout.trim(), digest);
    assert.match(signed.stderr, /pushed signature sha256:[0-9a-f]{64} to /);
    const verified = ok(await nv2(['verify', '-c', trustedCert, image]), 'verify');
    assert.equal(verified.stdout.trim(), digest);
    const help = ok(await realDockerRun(['nv2', 'notary', 'sign', '--help']), 'sign --help');
    assert.match(help.stdout, /Usage: docker nv2 notary sign \[OPTIONS\] IMAGE/);
    assert.match(help.stdout, /--remote/);
  });

  it('pushes with docker, then pushes the signatures kept for the pushed digest', async () => {
    const layout = await tempDir();
    const image = `${registry.host}/pushed:v1`;
    const archive = await ociArchive(layout, image);
    const tarball = join(dir, 'pushed.tar');
    await writeFile(tarball, archive.tar);
    const signed = ok(
      await realDockerRun(
        ['nv2', 'notary', 'sign', '--key', trustedKey, '--cert', trustedCert, image],
        { STANDIN_SAVE_ARCHIVE: tarball },
      ),
      'sign',
    );
    assert.equal(signed.stdout.trim(), archive.digest);
    assert.match(signed.stderr, /kept in .* until docker nv2 push/);
    // What docker push would send: the same manifest.
    ok(await nv2(['copy', `oci-layout:${layout}:v1`, image]), 'copy');
    const before = await nv2(['verify', '-c', trustedCert, image]);
    assert.equal(before.code, 1);
    const start = (await standIn.calls()).length;
    const size = String(archive.manifest.length);
    const pushed = ok(
      await realDockerRun(['nv2', 'push', image], {
        STANDIN_PUSH_DIGEST: archive.digest,
        STANDIN_PUSH_SIZE: size,
      }),
      'push',
    );
    assert.deepEqual(await newCalls(start), [['push', image]]);
    assert.match(pushed.stdout, new RegExp(`v1: digest: ${archive.digest} size: ${size}`));
    assert.match(pushed.stderr, /pushed signature sha256:[0-9a-f]{64} of /);
    const verified = ok(await nv2(['verify', '-c', trustedCert, image]), 'verify');
    assert.equal(verified.stdout.trim(), archive.digest);
  });

  it('says so when no signatures were kept for the pushed digest', async () => {
    const image = `${registry.host}/unsigned:v1`;
    const pushed = ok(
      await realDockerRun(['nv2', 'push', image], {
        STANDIN_PUSH_DIGEST: digests['unsigned:v1']!,
        STANDIN_PUSH_SIZE: '1',
      }),
      'push',
    );
    assert.match(pushed.stderr, /no signatures kept for .*unsigned:v1 .*pushed without signatures/);
  });

  it('on push, names the local manifest that was signed when docker pushed another digest', async () => {
    const image = `${registry.host}/rebuilt:v1`;
    const tarball = join(dir, 'rebuilt.tar');
    await writeFile(tarball, (await classicArchive(image)).tar);
    const signed = ok(
      await realDockerRun(['nv2', 'notary', 'sign', '--key', trustedKey, image], {
        STANDIN_SAVE_ARCHIVE: tarball,
      }),
      'sign',
    );
    const local = signed.stdout.trim();
    const digest = await pushImage('rebuilt:v1');
    const pushed = ok(
      await realDockerRun(['nv2', 'push', image], {
        STANDIN_PUSH_DIGEST: digest,
        STANDIN_PUSH_SIZE: '100',
      }),
      'push',
    );
    assert.match(pushed.stderr, /pushed without signatures/);
    assert.match(
      pushed.stderr,
      new RegExp(
        `signatures were kept for ${local}, the local manifest; .*registry holds ${digest}`,
      ),
    );
    assert.match(pushed.stderr, /docker nv2 notary sign --remote/);
  });

  it('generates the manifest of an OCI docker save archive from docker save and stdin', async () => {
    const archive = await ociArchive(await tempDir(), 'docker.io/library/oci-app:v1');
    const tarball = join(dir, 'oci.tar');
    await writeFile(tarball, archive.tar);
    const viaDocker = ok(
      await withNv2(['generate', 'manifest', 'oci-app:v1'], { STANDIN_SAVE_ARCHIVE: tarball }),
      'generate via docker save',
    );
    assert.equal(viaDocker.stdout, archive.manifest.toString());
    assert.match(viaDocker.stderr, /nv2 copy oci-layout:/);
    const out = join(dir, 'manifest.json');
    ok(
      await runWithEnv(
        process.execPath,
        [CLI, 'generate', 'manifest', '-', '-o', out],
        env,
        archive.tar,
      ),
      'generate from stdin',
    );
    assert.deepEqual(await readFile(out), archive.manifest);
    const notTar = await withNv2(['generate', 'manifest', `file:${trustedCert}`]);
    assert.equal(notTar.code, 2);
    assert.match(notTar.stderr, /NV2_ERR_DOCKER_ARCHIVE/);
  });

  it('uninstalls, and docker no longer lists it', async () => {
    ok(await withNv2(['docker', 'uninstall']), 'uninstall');
    await assert.rejects(access(join(config, 'cli-plugins', 'docker-nv2')));
    const help = ok(await realDockerRun(['--help']), 'docker --help');
    assert.doesNotMatch(help.stdout, /^\s+nv2\*?\s/m);
    const again = ok(await withNv2(['docker', 'uninstall']), 'uninstall again');
    assert.match(again.stderr, /no plugin installed/);
  });

  it('the plugin script is built', async () => {
    await access(PLUGIN);
  });
});
