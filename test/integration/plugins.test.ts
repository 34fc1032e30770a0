/**
 * Notary Project plugins through the built CLI, driven over the real protocol: a plugin
 * written in Python from the plugin specification (test/helpers/plugin.py) is installed in
 * the plugin directory and signs with both capabilities; nv2 lists it; bad plugin output (not
 * JSON, a wrong key spec, a signature that does not verify, an error, a plugin that hangs)
 * fails with one line and a typed code; nothing is pushed unless the plugin's signature
 * checked out; signatures pushed to nv2's registry and CNCF distribution verify by policy.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { NotationMediaTypes, parseNotationEnvelope } from '../../src/notation/index.js';
import { type CliResult, lines, nv2, ok } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import { SAMPLE_MANIFEST, VECTORS_DIR, tempDir } from '../helpers/fixtures.js';
import { type TestIdentity, issuedSigner, rootCA } from '../helpers/pki.js';
import { installTestPlugin, pythonMissing } from '../helpers/plugin-install.js';
import { startRegistry } from '../helpers/registry.js';

const NAME = 'nv2-test';
const SUBJECT = 'sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9';
const NOTATION_LAYOUT = fileURLToPath(new URL('notation/oci-layout/e2e', VECTORS_DIR));

function fails(result: CliResult, exit: number, code: string, what: string): void {
  assert.equal(result.code, exit, `${what}: exit ${result.code}\n${result.stderr}`);
  assert.equal(lines(result.stderr).length, 1, `${what}: one line\n${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^nv2: ${code}: `), what);
}

interface Setup {
  readonly work: string;
  readonly config: string;
  readonly root: TestIdentity;
  /** --plugin-config flags for the RSA and the EC key. */
  readonly rsa: string[];
  readonly ec: string[];
}

async function setUp(): Promise<Setup> {
  const work = await tempDir();
  const config = join(work, 'config');
  await installTestPlugin(join(config, 'plugins'), NAME);
  const root = await rootCA('Plugin Test Root', { keyType: 'rsa-3072' });
  const flags: string[][] = [];
  for (const [name, keyType] of [
    ['rsa', 'rsa-2048'],
    ['ec', 'ec-p384'],
  ] as const) {
    const id = await issuedSigner(root, `${name}.plugin.example`, { keyType });
    await writeFile(join(work, `${name}.key`), id.keyPem, { mode: 0o600 });
    await writeFile(join(work, `${name}.chain.pem`), id.certPem + root.certPem);
    flags.push([
      '--plugin-config',
      `keyFile=${join(work, `${name}.key`)}`,
      '--plugin-config',
      `chainFile=${join(work, `${name}.chain.pem`)}`,
    ]);
  }
  await writeFile(join(work, 'root.crt'), root.certPem);
  await mkdir(join(config, 'truststore', 'x509', 'ca', 'plugin'), { recursive: true });
  await writeFile(join(config, 'truststore', 'x509', 'ca', 'plugin', 'root.crt'), root.certPem);
  await writeFile(
    join(config, 'trustpolicy.json'),
    JSON.stringify({
      version: '1.0',
      trustPolicies: [
        {
          name: 'plugin-signed',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:plugin'],
          trustedIdentities: ['*'],
        },
      ],
    }),
  );
  return { work, config, root, rsa: flags[0]!, ec: flags[1]! };
}

const missing = pythonMissing();

describe(
  'Notary Project plugins (a Python plugin over the real protocol)',
  { skip: missing },
  () => {
    let s: Setup;
    let manifest: string;

    before(async () => {
      s = await setUp();
      process.env['NV2_CONFIG_DIR'] = s.config;
      delete process.env['NV2_NOTATION_DIR'];
      delete process.env['NV2_SIGNING_KEYS'];
      manifest = join(s.work, 'manifest.json');
      await writeFile(manifest, SAMPLE_MANIFEST);
    });

    const sign = (format: string, out: string, config: string[], extra: string[] = []) =>
      nv2([
        'sign',
        '--signature-format',
        format,
        '--plugin',
        NAME,
        '--id',
        'release-key',
        ...config,
        ...extra,
        '-o',
        out,
        `file:${manifest}`,
      ]);
    const verifies = async (out: string) =>
      ok(
        await nv2(['verify', '-f', out, '--ca-cert', join(s.work, 'root.crt'), `file:${manifest}`]),
        `verify ${out}`,
      );

    it('nv2 plugin list shows the plugin with its version and capability', async () => {
      const listed = JSON.parse(
        ok(await nv2(['plugin', 'list', '--output', 'json']), 'plugin list').stdout,
      ) as { plugins: { name: string; version: string; capabilities: string[] }[] };
      assert.deepEqual(
        listed.plugins.map((p) => [p.name, p.version, p.capabilities]),
        [[NAME, '1.0.0', ['SIGNATURE_GENERATOR.RAW']]],
      );
      // notation's plugin directory is searched too, when configured.
      const notation = join(s.work, 'notation');
      await installTestPlugin(join(notation, 'plugins'), 'other');
      process.env['NV2_NOTATION_DIR'] = notation;
      try {
        const both = lines(ok(await nv2(['plugin', 'list']), 'plugin list text').stdout);
        assert.deepEqual(
          both.map((l) => l.split('\t')[0]),
          [NAME, 'other'],
        );
      } finally {
        delete process.env['NV2_NOTATION_DIR'];
      }
    });

    for (const [format, key] of [
      ['jws', 'rsa'],
      ['cose', 'ec'],
    ] as const) {
      it(`SIGNATURE_GENERATOR.RAW: the plugin signs ${format} with its ${key} key; nv2 verifies it`, async () => {
        const out = join(s.work, `raw.${format}`);
        ok(await sign(format, out, s[key]), 'sign');
        const envelope = parseNotationEnvelope(
          await readFile(out),
          format === 'jws' ? NotationMediaTypes.jws : NotationMediaTypes.cose,
        );
        assert.equal(envelope.algorithm, key === 'rsa' ? 'PS256' : 'ES384');
        assert.equal(envelope.certificateChain.length, 2);
        await verifies(out);
      });
    }

    it('SIGNATURE_GENERATOR.ENVELOPE: the plugin makes the JWS envelope; nv2 checks and keeps it', async () => {
      const out = join(s.work, 'envelope.jws');
      ok(await sign('jws', out, [...s.ec, '--plugin-config', 'capability=envelope']), 'sign');
      const envelope = parseNotationEnvelope(await readFile(out), NotationMediaTypes.jws);
      assert.equal(envelope.signingAgent, 'nv2-test-plugin/1.0.0');
      await verifies(out);
      fails(
        await sign('cose', join(s.work, 'envelope.cose'), [
          ...s.ec,
          '--plugin-config',
          'capability=envelope',
        ]),
        2,
        'NV2_ERR_PLUGIN_FAILED',
        'a format the plugin does not make',
      );
    });

    it('names a plugin key with nv2 key add and signs with it by name', async () => {
      ok(
        await nv2(['key', 'add', 'kms', '--plugin', NAME, '--id', 'release-key', ...s.rsa]),
        'key add',
      );
      const saved = JSON.parse(await readFile(join(s.config, 'signingkeys.json'), 'utf8')) as {
        keys: { name: string; id: string; pluginName: string; pluginConfig: object }[];
      };
      assert.deepEqual(
        [saved.keys[0]!.id, saved.keys[0]!.pluginName, Object.keys(saved.keys[0]!.pluginConfig)],
        ['release-key', NAME, ['keyFile', 'chainFile']],
      );
      const out = join(s.work, 'named.cose');
      ok(
        await nv2([
          'sign',
          '--signature-format',
          'cose',
          '--key',
          'kms',
          '-o',
          out,
          `file:${manifest}`,
        ]),
        'sign --key kms',
      );
      await verifies(out);
      fails(
        await nv2(['sign', '--key', 'kms', '-o', join(s.work, 'x.jwt'), `file:${manifest}`]),
        2,
        'NV2_ERR_INVALID_ARGUMENT',
        'the nv2 format',
      );
      fails(
        await nv2(['key', 'add', 'nowhere', '--plugin', 'missing', '--id', 'k']),
        2,
        'NV2_ERR_PLUGIN_NOT_FOUND',
        'no such plugin',
      );
    });

    it('bad plugin output fails with one line and a typed code, and writes nothing', async () => {
      const out = join(s.work, 'bad.cose');
      const misbehave = (how: string, extra: string[] = []) =>
        sign('cose', out, [...s.rsa, '--plugin-config', `misbehave=${how}`, ...extra]);
      fails(await misbehave('non-json'), 2, 'NV2_ERR_PLUGIN_INVALID_RESPONSE', 'non-JSON');
      fails(await misbehave('wrong-spec'), 2, 'NV2_ERR_PLUGIN_INVALID_RESPONSE', 'wrong key spec');
      fails(await misbehave('bad-signature'), 2, 'NV2_ERR_SIGNER_OUTPUT_INVALID', 'bad signature');
      fails(
        await sign('jws', out, [
          ...s.rsa,
          '--plugin-config',
          'capability=envelope',
          '--plugin-config',
          'misbehave=bad-signature',
        ]),
        2,
        'NV2_ERR_SIGNER_OUTPUT_INVALID',
        'bad envelope',
      );
      fails(await misbehave('error'), 2, 'NV2_ERR_PLUGIN_FAILED', 'plugin error');
      fails(
        await misbehave('hang', ['--plugin-timeout', '2s']),
        2,
        'NV2_ERR_PLUGIN_TIMEOUT',
        'hang',
      );
      await assert.rejects(readFile(out), { code: 'ENOENT' });
    });
  },
);

const noDistribution = distributionMissing();

for (const name of ['nv2', 'distribution'] as const) {
  describe(
    `plugin signatures against ${name === 'nv2' ? "nv2's registry" : 'CNCF distribution'}, verified under a trust policy`,
    { skip: missing ?? (name === 'distribution' ? noDistribution : undefined) },
    () => {
      let s: Setup;
      let host: string;
      let close: () => Promise<void>;
      let manifests: () => number;

      before(async () => {
        s = await setUp();
        process.env['NV2_CONFIG_DIR'] = s.config;
        if (name === 'nv2') {
          const registry = await startRegistry();
          host = registry.host;
          close = () => registry.close();
          manifests = () =>
            registry.records.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))
              .length;
        } else {
          const registry = await startDistribution();
          host = registry.host;
          close = () => registry.close();
          manifests = () => -1;
        }
        const layout = join(s.work, 'layout');
        await cp(NOTATION_LAYOUT, layout, { recursive: true });
        ok(
          await nv2(['copy', '--no-referrers', `oci-layout:${layout}:v1`, `${host}/plugin/app:v1`]),
          'copy',
        );
      });
      after(async () => close());

      it('pushes nothing when the plugin signature does not verify; pushes both capabilities, which verify by policy', async () => {
        const ref = `${host}/plugin/app:v1`;
        const pushedBefore = manifests();
        fails(
          await nv2([
            'sign',
            '--signature-format',
            'cose',
            '--plugin',
            NAME,
            '--id',
            'k',
            ...s.rsa,
            '--plugin-config',
            'misbehave=bad-signature',
            ref,
          ]),
          2,
          'NV2_ERR_SIGNER_OUTPUT_INVALID',
          'bad signature',
        );
        if (name === 'nv2') assert.equal(manifests(), pushedBefore, 'no manifest was pushed');
        const listed = JSON.parse(
          ok(await nv2(['list', '--output', 'json', ref]), 'list').stdout,
        ) as {
          signatures: unknown[];
        };
        assert.equal(listed.signatures.length, 0);
        for (const [format, extra] of [
          ['cose', s.rsa],
          ['jws', [...s.ec, '--plugin-config', 'capability=envelope']],
        ] as const) {
          const out = lines(
            ok(
              await nv2([
                'sign',
                '--signature-format',
                format,
                '--plugin',
                NAME,
                '--id',
                'k',
                ...extra,
                ref,
              ]),
              `sign ${format}`,
            ).stdout,
          );
          assert.equal(out[0], SUBJECT);
        }
        const verified = ok(await nv2(['verify', ref]), 'verify by policy');
        assert.equal(verified.stdout, `${SUBJECT}\n`);
        assert.match(verified.stderr, /2 signatures found, 2 verified/);
      });
    },
  );
}
