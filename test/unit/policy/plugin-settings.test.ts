import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pluginDirectories, verificationPluginSettings } from '../../../src/policy/index.js';

describe('verification plugin settings', () => {
  it("default to nv2's plugin directory, then notation's when configured", () => {
    assert.deepEqual(pluginDirectories({ NV2_CONFIG_DIR: '/etc/nv2' }), ['/etc/nv2/plugins']);
    assert.deepEqual(
      pluginDirectories({ NV2_CONFIG_DIR: '/etc/nv2', NV2_NOTATION_DIR: '/etc/notation' }),
      ['/etc/nv2/plugins', '/etc/notation/plugins'],
    );
    assert.deepEqual(pluginDirectories({ NV2_CONFIG_DIR: '/etc/nv2', NV2_NOTATION_DIR: '' }), [
      '/etc/nv2/plugins',
    ]);
  });

  it('take the directories, config and timeout a face gives', () => {
    const env = { NV2_CONFIG_DIR: '/etc/nv2' };
    assert.deepEqual(verificationPluginSettings(env), {
      directories: ['/etc/nv2/plugins'],
      pluginConfig: {},
    });
    assert.deepEqual(
      verificationPluginSettings(env, {
        directories: ['plugins', '/opt/p'],
        pluginConfig: { region: 'eu' },
        timeoutMs: 5000,
      }),
      {
        directories: [resolve('plugins'), '/opt/p'],
        pluginConfig: { region: 'eu' },
        timeoutMs: 5000,
      },
    );
    // An empty list is no choice: the default applies.
    assert.deepEqual(verificationPluginSettings(env, { directories: [] }).directories, [
      '/etc/nv2/plugins',
    ]);
  });
});
