import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  DEFAULT_PLUGIN_CONFIG,
  loadPluginConfig,
  parsePluginConfig,
  savePluginConfig,
} from '../../../src/docker/index.js';
import { InvalidInputError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('plugin configuration', () => {
  it('is disabled when nv2.json is missing', async () => {
    assert.deepEqual(await loadPluginConfig(await tempDir()), DEFAULT_PLUGIN_CONFIG);
  });

  it("reads the prototype's fields and refuses wrong types", () => {
    const config = parsePluginConfig(
      JSON.stringify({
        enabled: true,
        verificationCerts: ['a.pem'],
        insecureRegistries: ['r:5000'],
      }),
      'nv2.json',
    );
    assert.equal(config.enabled, true);
    assert.deepEqual(config.verificationCerts, ['a.pem']);
    assert.deepEqual(config.insecureRegistries, ['r:5000']);
    for (const bad of ['[]', '{"enabled":"yes"}', '{"verificationCerts":"a.pem"}', 'nope']) {
      assert.throws(
        () => parsePluginConfig(bad, 'nv2.json'),
        (err: unknown) =>
          err instanceof InvalidInputError && err.code === 'NV2_ERR_DOCKER_PLUGIN_CONFIG',
        bad,
      );
    }
  });

  it('reads maxSignatures, a positive integer', () => {
    assert.equal(parsePluginConfig('{"maxSignatures":5}', 'nv2.json').maxSignatures, 5);
    assert.equal(parsePluginConfig('{}', 'nv2.json').maxSignatures, undefined);
    for (const bad of ['{"maxSignatures":0}', '{"maxSignatures":1.5}', '{"maxSignatures":"5"}']) {
      assert.throws(
        () => parsePluginConfig(bad, 'nv2.json'),
        (err: unknown) =>
          err instanceof InvalidInputError && err.code === 'NV2_ERR_DOCKER_PLUGIN_CONFIG',
        bad,
      );
    }
  });

  it('reads the verification plugin settings and refuses wrong types', async () => {
    const config = parsePluginConfig(
      JSON.stringify({
        pluginDirectories: ['/opt/plugins'],
        pluginConfig: { region: 'eu' },
        pluginTimeoutSeconds: 5,
      }),
      'nv2.json',
    );
    assert.deepEqual(config.pluginDirectories, ['/opt/plugins']);
    assert.deepEqual(config.pluginConfig, { region: 'eu' });
    assert.equal(config.pluginTimeoutSeconds, 5);
    for (const bad of [
      '{"pluginConfig":{"n":1}}',
      '{"pluginConfig":["a=b"]}',
      '{"pluginDirectories":"plugins"}',
      '{"pluginTimeoutSeconds":"60s"}',
    ]) {
      assert.throws(
        () => parsePluginConfig(bad, 'nv2.json'),
        (err: unknown) =>
          err instanceof InvalidInputError && err.code === 'NV2_ERR_DOCKER_PLUGIN_CONFIG',
        bad,
      );
    }
    // Switching the plugin on or off keeps them.
    const dir = await tempDir();
    await writeFile(join(dir, 'nv2.json'), JSON.stringify({ pluginConfig: { region: 'eu' } }));
    await savePluginConfig(dir, { ...(await loadPluginConfig(dir)), enabled: true });
    assert.deepEqual((await loadPluginConfig(dir)).pluginConfig, { region: 'eu' });
  });

  it('saves atomically, keeping fields it does not know', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'nv2.json'), JSON.stringify({ enabled: false, extra: 1 }));
    await savePluginConfig(dir, { ...(await loadPluginConfig(dir)), enabled: true });
    const saved = JSON.parse(await readFile(join(dir, 'nv2.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(saved.enabled, true);
    assert.equal(saved.extra, 1);
  });
});
