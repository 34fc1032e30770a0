/**
 * The plugin's decisions with another verifier plugged in (the seam a trust-policy verifier
 * uses) and a docker that records: what is pulled follows what the verifier established.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import {
  type DockerCommand,
  type PullVerifier,
  runPlugin,
  savePluginConfig,
  DEFAULT_PLUGIN_CONFIG,
} from '../../../src/docker/index.js';
import { VerificationFailedError } from '../../../src/errors.js';
import type { Digest } from '../../../src/oci/index.js';
import { tempDir } from '../../helpers/fixtures.js';
import { textSink as sink } from '../../helpers/text-sink.js';

const DIGEST = `sha256:${'ab'.repeat(32)}` as Digest;

/**
 * A docker that records its calls; `local` answers `docker image inspect` as for images
 * present (their RepoDigests), any other image is absent.
 */
function recordingDocker(
  calls: string[][],
  local: Readonly<Record<string, readonly string[]>> = {},
): DockerCommand {
  return {
    binary: 'docker',
    run: (args) => {
      calls.push([...args]);
      return Promise.resolve(0);
    },
    runCapturing: (args) => {
      calls.push([...args]);
      return Promise.resolve({ code: 0, stdout: '' });
    },
    capture: (args) => {
      calls.push([...args]);
      const digests = local[args[args.length - 1]!];
      return Promise.resolve(
        digests !== undefined
          ? { code: 0, stdout: `${JSON.stringify(digests)}\n`, stderr: '' }
          : { code: 1, stdout: '', stderr: 'Error: No such image' },
      );
    },
    stream: (args) => {
      calls.push([...args]);
      const stdout = new PassThrough();
      stdout.end();
      return { stdout, exited: Promise.resolve({ code: 0, stderr: '' }) };
    },
  };
}

async function enabledConfig(): Promise<string> {
  const dir = await tempDir();
  await savePluginConfig(dir, { ...DEFAULT_PLUGIN_CONFIG, enabled: true });
  return dir;
}

describe('runPlugin with a verifier plugged in', () => {
  it('pulls the digest the verifier established, then tags it', async () => {
    const calls: string[][] = [];
    const seen: string[] = [];
    const verifier: PullVerifier = {
      trustSource: 'a test policy',
      verify: (_repository, reference, image) => {
        seen.push(reference, image);
        return Promise.resolve({
          subject: {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: DIGEST,
            size: 1,
          },
          signatures: [
            {
              manifest: `sha256:${'cd'.repeat(32)}`,
              verified: true,
              signer: 'CN=x',
              references: [],
            },
          ],
        });
      },
    };
    const stderr = sink();
    const code = await runPlugin(['nv2', 'pull', 'registry.example.com/app:v1'], {
      stdout: sink(),
      stderr,
      env: { DOCKER_CONFIG: await enabledConfig() },
      version: '1.2.3',
      docker: recordingDocker(calls),
      verifier: () => Promise.resolve(verifier),
    });
    assert.equal(code, 0);
    assert.deepEqual(seen, ['v1', 'registry.example.com/app:v1']);
    assert.deepEqual(calls, [
      ['pull', `registry.example.com/app@${DIGEST}`],
      ['tag', `registry.example.com/app@${DIGEST}`, 'registry.example.com/app:v1'],
    ]);
    assert.match(stderr.text(), /1 signature found, 1 verified/);
  });

  it("refuses with the verifier's trust source in the hint, and runs no docker", async () => {
    const calls: string[][] = [];
    const verifier: PullVerifier = {
      trustSource: 'the trust policy in policy.json',
      verify: () =>
        Promise.reject(new VerificationFailedError('NV2_ERR_NO_VALID_SIGNATURE', 'none verified')),
    };
    await assert.rejects(
      runPlugin(['nv2', 'pull', 'registry.example.com/app:v1'], {
        stdout: sink(),
        stderr: sink(),
        env: { DOCKER_CONFIG: await enabledConfig() },
        version: '1.2.3',
        docker: recordingDocker(calls),
        verifier: () => Promise.resolve(verifier),
      }),
      (err: unknown) =>
        err instanceof VerificationFailedError &&
        err.code === 'NV2_ERR_NO_VALID_SIGNATURE' &&
        /refusing to pull .*the trust policy in policy\.json/.test(err.message),
    );
    assert.deepEqual(calls, []);
  });

  describe('run and create', () => {
    const OTHER = `sha256:${'ef'.repeat(32)}` as Digest;
    const verified = (digest: Digest) => ({
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1 },
      signatures: [{ manifest: OTHER, verified: true, signer: 'CN=x', references: [] }],
    });
    /** A verifier that trusts `trusted` only, recording each (reference, image) asked. */
    const onlyTrusting = (trusted: Digest, seen: string[][]): PullVerifier => ({
      trustSource: 'a test policy',
      verify: (_repository, reference, image) => {
        seen.push([reference, image]);
        if (reference === 'v1' || reference === trusted) return Promise.resolve(verified(trusted));
        return Promise.reject(new VerificationFailedError('NV2_ERR_NO_SIGNATURE', 'not signed'));
      },
    });
    const inspect = (image: string): string[] => [
      'image',
      'inspect',
      '--format',
      '{{json .RepoDigests}}',
      image,
    ];

    it('runs the verified digest in place of the image, keeping every other argument', async () => {
      const calls: string[][] = [];
      const seen: string[][] = [];
      const image = 'registry.example.com/app:v1';
      const code = await runPlugin(
        ['nv2', 'run', '--rm', '-it', '-e', 'A=1', '--name=x', image, 'sh', '-c', 'true'],
        {
          stdout: sink(),
          stderr: sink(),
          env: { DOCKER_CONFIG: await enabledConfig() },
          version: '1.2.3',
          docker: recordingDocker(calls),
          verifier: () => Promise.resolve(onlyTrusting(DIGEST, seen)),
        },
      );
      assert.equal(code, 0);
      assert.deepEqual(seen, [['v1', image]]);
      assert.deepEqual(calls, [
        inspect(image),
        [
          'run',
          '--rm',
          '-it',
          '-e',
          'A=1',
          '--name=x',
          `registry.example.com/app@${DIGEST}`,
          'sh',
          '-c',
          'true',
        ],
      ]);
    });

    it('verifies a local image by the repo digest docker recorded, not the tag', async () => {
      const calls: string[][] = [];
      const seen: string[][] = [];
      const image = 'registry.example.com/app:v1';
      const code = await runPlugin(['nv2', 'container', 'create', image], {
        stdout: sink(),
        stderr: sink(),
        env: { DOCKER_CONFIG: await enabledConfig() },
        version: '1.2.3',
        docker: recordingDocker(calls, {
          [image]: [`other.example.com/app@${OTHER}`, `registry.example.com/app@${DIGEST}`],
        }),
        verifier: () => Promise.resolve(onlyTrusting(DIGEST, seen)),
      });
      assert.equal(code, 0);
      // The other registry's digest is not this image's name there: not asked.
      assert.deepEqual(seen, [[DIGEST, `registry.example.com/app@${DIGEST}`]]);
      assert.deepEqual(calls.at(-1), ['container', 'create', `registry.example.com/app@${DIGEST}`]);
    });

    it('refuses a local image with no verified repo digest, and runs nothing', async () => {
      for (const digests of [[], [`registry.example.com/app@${OTHER}`]]) {
        const calls: string[][] = [];
        const image = 'registry.example.com/app:v1';
        await assert.rejects(
          runPlugin(['nv2', 'run', image], {
            stdout: sink(),
            stderr: sink(),
            env: { DOCKER_CONFIG: await enabledConfig() },
            version: '1.2.3',
            docker: recordingDocker(calls, { [image]: digests }),
            verifier: () => Promise.resolve(onlyTrusting(DIGEST, [])),
          }),
          (err: unknown) =>
            err instanceof VerificationFailedError &&
            err.code === 'NV2_ERR_NO_SIGNATURE' &&
            /^refusing to run /.test(err.message),
        );
        assert.deepEqual(calls, [inspect(image)]);
      }
    });

    it('with --pull=always, verifies what the registry holds even when present', async () => {
      const calls: string[][] = [];
      const seen: string[][] = [];
      const image = 'registry.example.com/app:v1';
      await runPlugin(['nv2', 'run', '--pull', 'always', image], {
        stdout: sink(),
        stderr: sink(),
        env: { DOCKER_CONFIG: await enabledConfig() },
        version: '1.2.3',
        docker: recordingDocker(calls, { [image]: [] }),
        verifier: () => Promise.resolve(onlyTrusting(DIGEST, seen)),
      });
      assert.deepEqual(seen, [['v1', image]]);
      assert.deepEqual(calls, [['run', '--pull', 'always', `registry.example.com/app@${DIGEST}`]]);
    });

    it('verifies docker image pull as pull', async () => {
      const calls: string[][] = [];
      const image = 'registry.example.com/app:v1';
      await runPlugin(['nv2', 'image', 'pull', image], {
        stdout: sink(),
        stderr: sink(),
        env: { DOCKER_CONFIG: await enabledConfig() },
        version: '1.2.3',
        docker: recordingDocker(calls),
        verifier: () => Promise.resolve(onlyTrusting(DIGEST, [])),
      });
      assert.deepEqual(calls, [
        ['pull', `registry.example.com/app@${DIGEST}`],
        ['tag', `registry.example.com/app@${DIGEST}`, image],
      ]);
    });

    it('passes through unchanged when disabled, for --help, and --pull=never of an absent image', async () => {
      const disabled = await tempDir();
      const cases: [string, string[]][] = [
        [disabled, ['run', '-d', 'app:v1']],
        [await enabledConfig(), ['create', '--help']],
        [await enabledConfig(), ['run', '--pull=never', 'app:v1']],
      ];
      for (const [dir, args] of cases) {
        const calls: string[][] = [];
        await runPlugin(['nv2', ...args], {
          stdout: sink(),
          stderr: sink(),
          env: { DOCKER_CONFIG: dir },
          version: '1.2.3',
          docker: recordingDocker(calls),
          verifier: () => Promise.resolve(onlyTrusting(DIGEST, [])),
        });
        assert.deepEqual(calls.at(-1), args);
      }
    });
  });

  it('answers the metadata handshake', async () => {
    const stdout = sink();
    const code = await runPlugin(['docker-cli-plugin-metadata'], {
      stdout,
      stderr: sink(),
      env: {},
      version: '1.2.3',
    });
    assert.equal(code, 0);
    const metadata = JSON.parse(stdout.text()) as Record<string, string>;
    assert.equal(metadata.SchemaVersion, '0.1.0');
    assert.equal(metadata.Version, '1.2.3');
  });
});
