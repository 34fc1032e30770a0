import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  parseListenAddress,
  resolveRegistryConfig,
} from '../../../../src/registry/server/index.js';
import { tempDir } from '../../../helpers/fixtures.js';

describe('registry config', () => {
  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(parseListenAddress(':8080'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListenAddress('localhost:443'), { host: 'localhost', port: 443 });
    for (const bad of ['5000', 'host:', 'host:70000', '::1:5000', 'a:b']) {
      assert.throws(() => parseListenAddress(bad), { code: 'NV2_ERR_INVALID_ARGUMENT' }, bad);
    }
  });

  it('defaults to filesystem storage in ./nv2-data on 127.0.0.1:5000 with JSON logs', async () => {
    const config = await resolveRegistryConfig({});
    assert.deepEqual(config.addr, { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(config.storage, { driver: 'filesystem', root: './nv2-data' });
    assert.equal(config.log.format, 'json');
    assert.equal(config.tls, undefined);
  });

  it('reads YAML and JSON files, and flags override them', async () => {
    const dir = await tempDir();
    const yaml = join(dir, 'config.yaml');
    await writeFile(
      yaml,
      'addr: 0.0.0.0:6000\nstorage:\n  filesystem:\n    root: /srv/nv2\nlog:\n  format: pretty\ntls:\n  cert: c.pem\n  key: k.pem\n',
    );
    const fromFile = await resolveRegistryConfig({ config: yaml });
    assert.deepEqual(fromFile.addr, { host: '0.0.0.0', port: 6000 });
    assert.deepEqual(fromFile.storage, { driver: 'filesystem', root: '/srv/nv2' });
    assert.equal(fromFile.log.format, 'pretty');
    assert.deepEqual(fromFile.tls, { cert: 'c.pem', key: 'k.pem' });
    const overridden = await resolveRegistryConfig({
      config: yaml,
      addr: '127.0.0.1:7000',
      root: 'here',
      logFormat: 'json',
    });
    assert.deepEqual(overridden.addr, { host: '127.0.0.1', port: 7000 });
    assert.deepEqual(overridden.storage, { driver: 'filesystem', root: 'here' });
    assert.equal(overridden.log.format, 'json');
    const json = join(dir, 'config.json');
    await writeFile(json, JSON.stringify({ storage: { memory: {} }, shutdownTimeoutSeconds: 5 }));
    const memory = await resolveRegistryConfig({ config: json });
    assert.deepEqual(memory.storage, { driver: 'memory' });
    assert.equal(memory.shutdownTimeoutSeconds, 5);
  });

  it('reads S3 storage: the driver options, redirect and upload purging', async () => {
    const dir = await tempDir();
    const path = join(dir, 's3.yaml');
    await writeFile(
      path,
      [
        'storage:',
        '  s3:',
        '    bucket: registry',
        '    endpoint: http://127.0.0.1:7480',
        '    region: default',
        '    forcePathStyle: true',
        '    accessKey: AK',
        '    secretKey: SK',
        '    rootDirectory: nv2',
        '    partSizeMiB: 16',
        '    redirect: true',
        '',
      ].join('\n'),
    );
    const config = await resolveRegistryConfig({ config: path });
    assert.deepEqual(config.storage, {
      driver: 's3',
      s3: {
        bucket: 'registry',
        endpoint: 'http://127.0.0.1:7480',
        region: 'default',
        forcePathStyle: true,
        credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
        rootDirectory: 'nv2',
        partSize: 16 * 1024 * 1024,
        shared: true,
      },
      redirect: { expiresInSeconds: 1200 },
      uploadPurgeAgeSeconds: 7 * 24 * 3600,
    });
    // Credentials from the environment, one process, streamed downloads.
    await writeFile(path, 'storage:\n  s3:\n    bucket: registry\n    replicas: false\n');
    assert.deepEqual((await resolveRegistryConfig({ config: path })).storage, {
      driver: 's3',
      s3: { bucket: 'registry', shared: false },
      uploadPurgeAgeSeconds: 7 * 24 * 3600,
    });
    // --root still means a directory.
    assert.deepEqual((await resolveRegistryConfig({ config: path, root: 'here' })).storage, {
      driver: 'filesystem',
      root: 'here',
    });
  });

  it('reads storage.metadata: the database settings and online gc, with defaults', async () => {
    const dir = await tempDir();
    const path = join(dir, 'pg.yaml');
    await writeFile(
      path,
      [
        'storage:',
        '  filesystem:',
        '    root: /srv/blobs',
        '  metadata:',
        '    database:',
        '      url: postgres://registry@db:5432/registry',
        '      user: other',
        '      ssl:',
        '        caFile: /etc/ca.pem',
        '      poolSize: 4',
        '    gc:',
        '      graceSeconds: 60',
        '',
      ].join('\n'),
    );
    const config = await resolveRegistryConfig({ config: path });
    assert.deepEqual(config.storage, { driver: 'filesystem', root: '/srv/blobs' });
    assert.deepEqual(config.metadata, {
      database: {
        url: 'postgres://registry@db:5432/registry',
        user: 'other',
        ssl: { caFile: '/etc/ca.pem' },
        poolSize: 4,
      },
      gc: { intervalSeconds: 3600, graceSeconds: 60 },
    });
    assert.equal((await resolveRegistryConfig({})).metadata, undefined);
    const refused: [string, RegExp][] = [
      ['storage:\n  metadata:\n    gc: {}\n', /storage\.metadata\.database is required/],
      [
        'storage:\n  metadata:\n    database:\n      host: db\n      sslmode: on\n',
        /unknown setting storage\.metadata\.database\.sslmode/,
      ],
      ['storage:\n  metadata:\n    database:\n      url: mysql://db\n', /postgres:\/\/ URL/],
      [
        'storage:\n  metadata:\n    database:\n      poolSize: 0\n',
        /poolSize must be a whole number of at least 1/,
      ],
      [
        'storage:\n  metadata:\n    database:\n      host: db\n    gc:\n      intervalSeconds: -1\n',
        /intervalSeconds/,
      ],
      [
        'storage:\n  memory: {}\n  metadata:\n    database:\n      host: db\n',
        /outlive the process/,
      ],
    ];
    for (const [text, message] of refused) {
      await writeFile(path, text);
      await assert.rejects(resolveRegistryConfig({ config: path }), {
        code: 'NV2_ERR_INVALID_ARGUMENT',
        message,
      });
    }
  });

  it('refuses unknown settings, wrong types, half a TLS pair and unreadable files', async () => {
    const dir = await tempDir();
    const cases: [string, string][] = [
      ['unknown.yaml', 'adr: 127.0.0.1:5000\n'],
      ['nested.yaml', 'storage:\n  s3:\n    bucket: x\n    acl: private\n'],
      ['s3-bucket.yaml', 'storage:\n  s3:\n    region: x\n'],
      ['s3-half-keys.yaml', 'storage:\n  s3:\n    bucket: b\n    accessKey: a\n'],
      ['s3-bool.yaml', 'storage:\n  s3:\n    bucket: b\n    redirect: yes please\n'],
      ['s3-endpoint.yaml', 'storage:\n  s3:\n    bucket: b\n    endpoint: 127.0.0.1:7480\n'],
      ['s3-part.yaml', 'storage:\n  s3:\n    bucket: b\n    partSizeMiB: 4\n'],
      ['s3-and-fs.yaml', 'storage:\n  s3:\n    bucket: b\n  filesystem:\n    root: a\n'],
      ['type.yaml', 'addr: 5000\n'],
      ['format.yaml', 'log:\n  format: xml\n'],
      ['both.yaml', 'storage:\n  filesystem:\n    root: a\n  memory: {}\n'],
      ['syntax.yaml', 'addr: [unclosed\n'],
      ['list.yaml', '- a\n- b\n'],
    ];
    for (const [name, text] of cases) {
      const path = join(dir, name);
      await writeFile(path, text);
      await assert.rejects(
        resolveRegistryConfig({ config: path }),
        { code: 'NV2_ERR_INVALID_ARGUMENT' },
        name,
      );
    }
    await assert.rejects(resolveRegistryConfig({ tlsCert: 'c.pem' }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
    await assert.rejects(resolveRegistryConfig({ config: join(dir, 'missing.yaml') }), {
      code: 'NV2_ERR_FILE_NOT_FOUND',
    });
  });
  it('reads ui, trust and enforce; ui is on by default; enforce needs trust and auth', async () => {
    const dir = await tempDir();
    assert.equal((await resolveRegistryConfig({})).ui, true);
    assert.deepEqual((await resolveRegistryConfig({})).enforce, []);
    const good = join(dir, 'good.yaml');
    await writeFile(
      good,
      [
        'ui: false',
        'auth:',
        '  rules: [{ repositories: ["*"], anonymous: true, roles: [reader] }]',
        'trust:',
        '  configDir: /etc/nv2/registry-trust',
        '  registryName: registry.example.com:5000',
        'enforce:',
        '  - repositories: ["prod/*"]',
        '  - repositories: ["staging/*"]',
        '    level: audit',
        '',
      ].join('\n'),
    );
    const config = await resolveRegistryConfig({ config: good });
    assert.equal(config.ui, false);
    assert.deepEqual(config.trust, {
      configDir: '/etc/nv2/registry-trust',
      registryName: 'registry.example.com:5000',
      pollSeconds: 10,
    });
    assert.deepEqual(config.enforce, [
      { repositories: ['prod/*'], level: 'enforce' },
      { repositories: ['staging/*'], level: 'audit' },
    ]);
    const cases: [string, string][] = [
      ['ui.yaml', 'ui: yes please\n'],
      ['no-dir.yaml', 'trust:\n  registryName: r.example\n'],
      ['bad-name.yaml', 'trust:\n  configDir: t\n  registryName: "http://r.example"\n'],
      ['unknown.yaml', 'trust:\n  configDir: t\n  policy: x\n'],
      ['no-trust.yaml', 'enforce:\n  - repositories: ["*"]\n'],
      ['no-auth.yaml', 'trust:\n  configDir: t\nenforce:\n  - repositories: ["*"]\n'],
      [
        'level.yaml',
        'auth: {}\ntrust:\n  configDir: t\nenforce:\n  - repositories: ["*"]\n    level: block\n',
      ],
      ['empty.yaml', 'auth: {}\ntrust:\n  configDir: t\nenforce:\n  - level: audit\n'],
    ];
    for (const [name, text] of cases) {
      const path = join(dir, name);
      await writeFile(path, text);
      await assert.rejects(
        resolveRegistryConfig({ config: path }),
        { code: 'NV2_ERR_INVALID_ARGUMENT' },
        name,
      );
    }
  });
});
