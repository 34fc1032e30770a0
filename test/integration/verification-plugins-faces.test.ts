/**
 * Verification plugins in the admission webhook and the docker plugin: an image whose Notary
 * Project signature names a verification plugin is admitted (or pulled) when the plugin
 * verifies and refused with the plugin's reason when it refuses, the plugin found in nv2's
 * plugin directory ($NV2_CONFIG_DIR/plugins) unless the face names another.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type DockerCommand, runPlugin } from '../../src/docker/index.js';
import { VerificationFailedError } from '../../src/errors.js';
import { type AdmissionProcess, serveAdmission } from '../helpers/admission-cli.js';
import { nv2 } from '../helpers/cli.js';
import { admissionReview, podSpec, workload } from '../helpers/admission.js';
import { tempDir } from '../helpers/fixtures.js';
import { textSink as sink } from '../helpers/text-sink.js';
import { pythonMissing } from '../helpers/plugin-install.js';
import {
  BOTH_CAPABILITIES,
  type PluginSignedImage,
  publishPluginSignedImage,
} from '../helpers/plugin-signed-image.js';

const missing = pythonMissing();
const REFUSAL =
  /trusted identity verification by verification plugin nv2-verify failed: signer CN=release.example/;

describe('the admission webhook with a verification plugin', { skip: missing }, () => {
  let image: PluginSignedImage;
  before(async () => {
    image = await publishPluginSignedImage('vp/hooked');
  });
  after(async () => image.close());

  /** Serves with ARGS, reviews a Pod running the image, stops; returns the answer. */
  const reviewWith = async (args: readonly string[]) => {
    const server: AdmissionProcess = await serveAdmission([
      '--config-dir',
      image.config,
      '--plain-http',
      '127.0.0.1:*',
      ...args,
    ]);
    try {
      const answer = await server.validate(
        admissionReview(workload('Pod', podSpec([image.image]))),
      );
      assert.equal(answer.status, 200);
      return { answer: answer.body.response, lines: server.lines };
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  };

  it("admits the image when the plugin of nv2's plugin directory verifies it", async () => {
    const { answer, lines } = await reviewWith(['--plugin-config', BOTH_CAPABILITIES]);
    assert.equal(answer.allowed, true, JSON.stringify(answer));
    const loaded = lines.find((l) => l['msg'] === 'trust policy loaded')!;
    assert.deepEqual(loaded['pluginDirectories'], [join(image.config, 'plugins')]);
  });

  it("refuses it with the plugin's reason when the plugin refuses, times out or is not in --plugin-dir", async () => {
    const refused = await reviewWith([
      '--plugin-config',
      BOTH_CAPABILITIES,
      '--plugin-config',
      'verdict=untrusted',
    ]);
    assert.equal(refused.answer.allowed, false);
    assert.match(refused.answer.status!.message, REFUSAL);
    const hung = await reviewWith([
      '--plugin-config',
      BOTH_CAPABILITIES,
      '--plugin-config',
      'misbehave=hang',
      '--plugin-timeout',
      '1s',
    ]);
    assert.equal(hung.answer.allowed, false);
    assert.match(hung.answer.status!.message, /did not answer within 1 s/);
    const elsewhere = join(await tempDir(), 'plugins');
    await mkdir(elsewhere);
    const absent = await reviewWith([
      '--plugin-dir',
      elsewhere,
      '--plugin-config',
      BOTH_CAPABILITIES,
    ]);
    assert.equal(absent.answer.allowed, false);
    assert.match(
      absent.answer.status!.message,
      /signature requires verification plugin "nv2-verify", which is not installed/,
    );
  });

  it('refuses a malformed --plugin-config or --plugin-timeout in one line', async () => {
    for (const flags of [
      ['--plugin-config', 'novalue'],
      ['--plugin-timeout', 'soon'],
    ]) {
      const r = await nv2([
        'admission',
        'serve',
        '--config-dir',
        image.config,
        '--tls-cert',
        'x',
        '--tls-key',
        'y',
        ...flags,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /^nv2: NV2_ERR_INVALID_ARGUMENT: (--plugin-config "novalue" is not KEY=VALUE|invalid duration "soon")[^\n]*\n$/,
      );
    }
  });
});

/** A docker that records its calls and has no images. */
function recordingDocker(calls: string[][]): DockerCommand {
  return {
    binary: 'docker',
    run: (args) => (calls.push([...args]), Promise.resolve(0)),
    runCapturing: (args) => (calls.push([...args]), Promise.resolve({ code: 0, stdout: '' })),
    capture: (args) => (
      calls.push([...args]),
      Promise.resolve({ code: 1, stdout: '', stderr: 'No such image' })
    ),
    stream: (args) => {
      calls.push([...args]);
      const stdout = new PassThrough();
      stdout.end();
      return { stdout, exited: Promise.resolve({ code: 0, stderr: '' }) };
    },
  };
}

describe('the docker plugin with a verification plugin', { skip: missing }, () => {
  let image: PluginSignedImage;
  before(async () => {
    image = await publishPluginSignedImage('vp/pulled');
  });
  after(async () => image.close());

  /** `docker nv2 pull IMAGE` under nv2.json = SETTINGS (trust policy on). */
  const pullWith = async (settings: Record<string, unknown>) => {
    const dockerConfig = await tempDir();
    await writeFile(
      join(dockerConfig, 'nv2.json'),
      JSON.stringify({ enabled: true, trustPolicy: true, ...settings }),
    );
    const calls: string[][] = [];
    const stdout = sink();
    const stderr = sink();
    const run = runPlugin(['nv2', 'pull', image.image], {
      env: { DOCKER_CONFIG: dockerConfig, NV2_CONFIG_DIR: image.config },
      docker: recordingDocker(calls),
      stdout,
      stderr,
      version: '0.0.0',
    });
    return { run, calls, stderr };
  };

  it("pulls the verified digest when the plugin of nv2's plugin directory verifies", async () => {
    const { run, calls, stderr } = await pullWith({
      pluginConfig: { capabilities: BOTH_CAPABILITIES.split('=')[1]! },
      pluginTimeoutSeconds: 10,
    });
    assert.equal(await run, 0, stderr.text());
    assert.equal(calls[0]![0], 'pull');
    assert.match(calls[0]![1]!, /@sha256:[0-9a-f]{64}$/);
  });

  it("refuses with the plugin's reason when it refuses or is not in pluginDirectories", async () => {
    const refused = await pullWith({
      pluginConfig: { capabilities: BOTH_CAPABILITIES.split('=')[1]!, verdict: 'untrusted' },
    });
    await assert.rejects(refused.run, (err: unknown) => {
      assert.ok(err instanceof VerificationFailedError, String(err));
      assert.match(err.message, REFUSAL);
      return true;
    });
    assert.deepEqual(refused.calls, []);
    const elsewhere = await tempDir();
    const absent = await pullWith({
      pluginDirectories: [elsewhere],
      pluginConfig: { capabilities: BOTH_CAPABILITIES.split('=')[1]! },
    });
    await assert.rejects(absent.run, /verification plugin "nv2-verify", which is not installed/);
  });
});
