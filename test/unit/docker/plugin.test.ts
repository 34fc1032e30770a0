/**
 * The plugin's decisions with another verifier plugged in (the seam a trust-policy verifier
 * uses) and a docker that records: what is pulled follows what the verifier established.
 */
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  type DockerCommand,
  type ImageVerifier,
  runPlugin,
  savePluginConfig,
  DEFAULT_PLUGIN_CONFIG,
} from '../../../src/docker/index.js';
import { VerificationFailedError } from '../../../src/errors.js';
import type { Digest } from '../../../src/oci/index.js';
import { tempDir } from '../../helpers/fixtures.js';

const DIGEST = `sha256:${'ab'.repeat(32)}` as Digest;

function recordingDocker(calls: string[][]): DockerCommand {
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
    stream: (args) => {
      calls.push([...args]);
      const stdout = new PassThrough();
      stdout.end();
      return { stdout, exited: Promise.resolve({ code: 0, stderr: '' }) };
    },
  };
}

function sink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString() });
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
    const verifier: ImageVerifier = {
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
    const verifier: ImageVerifier = {
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
