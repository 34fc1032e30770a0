/**
 * More registry flows of the built `nv2` CLI, against nv2's registry and CNCF distribution 2.8:
 * `oci://` and `docker://` on a registry holding both manifest forms (pushed by skopeo), a
 * signature repository (`--push-reference`, `--signature-repository`,
 * NV2_SIGNATURE_REPOSITORY), an SBOM attached with `artifactType` and signed, the bearer
 * token flow (`nv2 login` then sign/verify/list) and `copy` between registries with
 * `--src-creds`/`--dest-creds`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MediaTypes, createDescriptor } from '../../src/oci/index.js';
import { Repository, createRegistryClient } from '../../src/remote/index.js';
import { CLI, type CliResult, nv2, run, ok, lines, skopeo } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';
import { serve } from '../helpers/serve.js';
import {
  type AuthProxy,
  type TokenServer,
  startAuthProxy,
  startTokenServer,
} from '../helpers/token-server.js';

const NOTARY = 'application/vnd.cncf.notary.v2';
const SPDX = 'application/spdx+json';

/** Runs nv2 with extra environment variables (children inherit process.env). */
async function nv2Env(env: Record<string, string>, args: readonly string[]): Promise<CliResult> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await nv2(args);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

interface Registry {
  readonly host: string;
  close(): Promise<void>;
}

const noDistribution = distributionMissing();

describe('nv2 registry flows', () => {
  let key: string;
  let cert: string;
  let layout: string;
  const registries: Record<string, Registry> = {};

  before(async () => {
    process.env['DOCKER_CONFIG'] = await tempDir();
    delete process.env['NV2_SIGNATURE_REPOSITORY'];
    const pki = await tempDir();
    ok(await nv2(['cert', 'generate', '--cn', '127.0.0.1', '--out-dir', pki]), 'cert');
    key = join(pki, '127.0.0.1.key');
    cert = join(pki, '127.0.0.1.crt');
    layout = await tempDir();
    await writeImageLayout(layout, { tag: 'v1', layers: 2, layerSize: 2048 });
    const served = await serve(await tempDir());
    registries['nv2'] = { host: served.host, close: async () => void (await served.stop()) };
    if (noDistribution === undefined) registries['distribution'] = await startDistribution();
  });
  after(async () => {
    for (const r of Object.values(registries)) await r.close();
  });

  /** Pushes the test image with skopeo in a manifest format (`oci`, `v2s2`); returns its digest. */
  async function pushImage(ref: string, format: 'oci' | 'v2s2' = 'oci'): Promise<string> {
    ok(
      await skopeo(
        'copy',
        '--format',
        format,
        '--dest-tls-verify=false',
        `oci:${layout}:v1`,
        `docker://${ref}`,
      ),
      `skopeo copy --format ${format}`,
    );
    const inspected = ok(
      await skopeo('inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`),
      'skopeo inspect',
    );
    return inspected.stdout.trim();
  }

  for (const name of ['nv2', 'distribution']) {
    describe(
      `against ${name === 'nv2' ? "nv2's registry" : 'CNCF distribution 2.8'}`,
      { skip: name === 'distribution' ? noDistribution : undefined },
      () => {
        let host: string;
        before(() => {
          host = registries[name]!.host;
        });

        it('oci:// and docker:// resolve both manifest forms', async () => {
          const ociDigest = await pushImage(`${host}/forms:oci`, 'oci');
          const dockerDigest = await pushImage(`${host}/forms:v2s2`, 'v2s2');
          assert.notEqual(ociDigest, dockerDigest);
          for (const [tag, digest, mediaType] of [
            ['oci', ociDigest, MediaTypes.ociManifest],
            ['v2s2', dockerDigest, MediaTypes.dockerManifest],
          ] as const) {
            for (const prefix of ['oci://', 'docker://', '']) {
              const ref = `${prefix}${host}/forms:${tag}`;
              const signed = lines(ok(await nv2(['sign', '-k', key, '-c', cert, ref]), ref).stdout);
              assert.equal(signed[0], digest, ref);
              const report = JSON.parse(
                ok(await nv2(['verify', '-c', cert, '--output', 'json', ref]), `verify ${ref}`)
                  .stdout,
              ) as { digest: string; mediaType: string; signatures: unknown[] };
              assert.equal(report.digest, digest, ref);
              assert.equal(report.mediaType, mediaType, ref);
            }
          }
        });

        it('finds signatures in a signature repository', async () => {
          const digest = await pushImage(`${host}/sigrepo-app:v1`);
          const ref = `${host}/sigrepo-app:v1`;
          const sigs = `${host}/sigrepo-signatures`;
          const signed = lines(
            ok(
              await nv2(['sign', '-k', key, '-c', cert, '--push-reference', sigs, ref]),
              'sign --push-reference',
            ).stdout,
          );
          assert.equal(signed[0], digest);
          // Not beside the artifact, and a bare repository is not tagged `latest`.
          assert.match((await nv2(['verify', '-c', cert, ref])).stderr, /NV2_ERR_NO_SIGNATURE/);
          const tags = await skopeo('list-tags', '--tls-verify=false', `docker://${sigs}`);
          assert.doesNotMatch(tags.stdout, /"latest"/);

          const listed = JSON.parse(
            ok(
              await nv2(['list', '--output', 'json', '--signature-repository', sigs, ref]),
              'list --signature-repository',
            ).stdout,
          ) as { digest: string; signatures: { digest: string; signer: string }[] };
          assert.equal(listed.digest, digest);
          assert.deepEqual(
            listed.signatures.map((s) => s.digest),
            [signed[1]],
          );
          assert.equal(listed.signatures[0]!.signer, 'CN=127.0.0.1');
          assert.equal(
            lines(ok(await nv2(['list', ref]), 'list beside').stdout).length,
            0,
            'nothing beside the artifact',
          );
          // verify finds them there, with certificates and under the trust policy.
          assert.match(
            ok(
              await nv2(['verify', '-c', cert, '--signature-repository', sigs, ref]),
              'verify --signature-repository',
            ).stderr,
            /1 signature found, 1 verified/,
          );
          const policyEnv = { NV2_CONFIG_DIR: await tempDir() };
          ok(await nv2Env(policyEnv, ['policy', 'init']), 'policy init');
          ok(await nv2Env(policyEnv, ['trust', 'add', cert]), 'trust add');
          assert.match(
            ok(
              await nv2Env(policyEnv, ['verify', '--signature-repository', sigs, ref]),
              'verify by policy --signature-repository',
            ).stderr,
            /1 signature found, 1 verified under the trust policy/,
          );
          assert.equal((await nv2Env(policyEnv, ['verify', ref])).code, 1, 'not beside it');

          // The environment variable: discover, sign and push use it too.
          const env = { NV2_SIGNATURE_REPOSITORY: sigs };
          ok(await nv2Env(env, ['sign', '-k', key, '-c', cert, ref]), 'sign with the env');
          const tree = JSON.parse(
            ok(await nv2Env(env, ['discover', '--output', 'json', ref]), 'discover env').stdout,
          ) as { digest: string; referrers: { artifactType: string }[] };
          assert.equal(tree.digest, digest);
          assert.deepEqual(
            tree.referrers.map((r) => r.artifactType),
            [NOTARY, NOTARY],
          );
          assert.equal(
            (await nv2(['list', '--output', 'json', ref])).stdout.includes(NOTARY),
            false,
          );

          // copy takes them from the signature repository and puts them beside the copy.
          const copied = ok(
            await nv2(['copy', '--signature-repository', sigs, ref, `${host}/sigrepo-copy:v1`]),
            'copy --signature-repository',
          );
          assert.equal(copied.stdout, `${digest}\n`);
          assert.match(
            ok(await nv2(['verify', '-c', cert, `${host}/sigrepo-copy:v1`]), 'verify copy').stderr,
            /2 signatures found, 2 verified/,
          );
        });

        it('an SBOM attached with artifactType is discovered, signed and verified', async () => {
          const digest = await pushImage(`${host}/sbom-app:v1`);
          const ref = `${host}/sbom-app:v1`;
          ok(await nv2(['sign', '-k', key, '-c', cert, ref]), 'sign the image');
          // The SBOM is pushed by the library, as any ORAS-like client would.
          const client = createRegistryClient();
          let sbomDigest: string;
          try {
            const repo = Repository.fromReference(ref, { client });
            const subject = await repo.resolve('v1');
            const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app' }));
            const layer = createDescriptor(SPDX, sbom);
            const config = Buffer.from('{}');
            const configDescriptor = createDescriptor(MediaTypes.ociEmpty, config);
            await repo.push(configDescriptor, config);
            await repo.push(layer, sbom);
            const manifest = Buffer.from(
              JSON.stringify({
                schemaVersion: 2,
                mediaType: MediaTypes.ociManifest,
                artifactType: SPDX,
                config: configDescriptor,
                layers: [layer],
                subject: {
                  mediaType: subject.mediaType,
                  digest: subject.digest,
                  size: subject.size,
                },
              }),
            );
            const descriptor = createDescriptor(MediaTypes.ociManifest, manifest);
            await repo.push(descriptor, manifest);
            sbomDigest = descriptor.digest;
          } finally {
            await client.close();
          }
          const sbomRef = `${host}/sbom-app@${sbomDigest}`;
          const signed = lines(
            ok(await nv2(['sign', '-k', key, '-c', cert, sbomRef]), 'sign sbom').stdout,
          );
          assert.equal(signed[0], sbomDigest);
          assert.equal(
            ok(await nv2(['verify', '-c', cert, sbomRef]), 'verify sbom').stdout,
            `${sbomDigest}\n`,
          );

          const tree = JSON.parse(
            ok(await nv2(['discover', '--output', 'json', ref]), 'discover').stdout,
          ) as {
            digest: string;
            referrers: {
              digest: string;
              artifactType: string;
              referrers: { artifactType: string }[];
            }[];
          };
          assert.equal(tree.digest, digest);
          const sbomNode = tree.referrers.find((r) => r.artifactType === SPDX);
          assert.ok(sbomNode, 'the SBOM is a referrer of the image');
          assert.equal(sbomNode.digest, sbomDigest);
          assert.deepEqual(
            sbomNode.referrers.map((r) => r.artifactType),
            [NOTARY],
          );
          assert.equal(tree.referrers.filter((r) => r.artifactType === NOTARY).length, 1);
          const text = lines(ok(await nv2(['discover', ref]), 'discover text').stdout);
          assert.ok(
            text.some((l) => /^[├└]── application\/spdx\+json sha256:/.test(l)),
            text.join('\n'),
          );
          assert.ok(
            text.some((l) => /^[│ ] {3}└── application\/vnd\.cncf\.notary\.v2 /.test(l)),
            text.join('\n'),
          );
          const onlySbom = JSON.parse(
            ok(
              await nv2(['discover', '--output', 'json', '--artifact-type', SPDX, ref]),
              'discover --artifact-type',
            ).stdout,
          ) as { referrers: { digest: string }[] };
          assert.deepEqual(
            onlySbom.referrers.map((r) => r.digest),
            [sbomDigest],
          );
          // The image's own verification counts only its own signature.
          assert.match(
            ok(await nv2(['verify', '-c', cert, ref]), 'verify image').stderr,
            /1 signature found, 1 verified/,
          );
        });
      },
    );
  }

  describe('behind docker token auth', () => {
    let tokens: TokenServer;
    let proxy: AuthProxy;
    before(async () => {
      tokens = await startTokenServer({ users: { alice: 'secret' } });
      proxy = await startAuthProxy({
        upstream: `http://${registries['nv2']!.host}`,
        mode: 'bearer',
        tokens,
      });
    });
    after(async () => {
      await proxy.close();
      await tokens.close();
    });

    it('login, then sign, verify and list with the stored credentials', async () => {
      process.env['DOCKER_CONFIG'] = await tempDir();
      const ref = `${proxy.host}/secure/app:v1`;
      const denied = await skopeo(
        'copy',
        '--dest-tls-verify=false',
        `oci:${layout}:v1`,
        `docker://${ref}`,
      );
      assert.notEqual(denied.code, 0, 'anonymous push is refused');
      ok(
        await skopeo(
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          'alice:secret',
          `oci:${layout}:v1`,
          `docker://${ref}`,
        ),
        'skopeo copy with credentials',
      );
      const anonymous = await nv2(['list', ref]);
      assert.equal(anonymous.code, 2, anonymous.stderr);
      assert.match(anonymous.stderr, /NV2_ERR_REGISTRY_UNAUTHORIZED/);

      const wrong = await run(
        process.execPath,
        [CLI, 'login', '-u', 'alice', '--password-stdin', proxy.host],
        { stdin: 'wrong\n' },
      );
      assert.notEqual(wrong.code, 0);
      ok(
        await run(process.execPath, [CLI, 'login', '-u', 'alice', '--password-stdin', proxy.host], {
          stdin: 'secret\n',
        }),
        'login',
      );
      const signed = lines(ok(await nv2(['sign', '-k', key, '-c', cert, ref]), 'sign').stdout);
      assert.match(signed[0]!, /^sha256:/);
      assert.equal(ok(await nv2(['verify', '-c', cert, ref]), 'verify').stdout, `${signed[0]}\n`);
      const listed = lines(ok(await nv2(['list', ref]), 'list').stdout);
      assert.equal(listed.length, 2);
      assert.ok(listed[1]!.startsWith(signed[1]!));
      // The token flow was used: a token for the repository's push and pull scope, by alice.
      assert.ok(
        tokens.requests.some(
          (r) =>
            r.issued && r.user === 'alice' && r.scopes.includes('repository:secure/app:pull,push'),
        ),
        JSON.stringify(tokens.requests),
      );
      ok(await nv2(['logout', proxy.host]), 'logout');
      assert.equal((await nv2(['list', ref])).code, 2);
    });

    it('copies between registries with --src-creds and --dest-creds', async () => {
      process.env['DOCKER_CONFIG'] = await tempDir();
      const open = registries['distribution'] ?? registries['nv2']!;
      const source = `${open.host}/creds-src:v1`;
      const digest = await pushImage(source);
      ok(await nv2(['sign', '-k', key, '-c', cert, source]), 'sign');
      const secured = `${proxy.host}/secure/copied:v1`;

      const refused = await nv2(['copy', source, secured]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /NV2_ERR_REGISTRY_UNAUTHORIZED/);
      // -u/-p would go to both registries; --dest-creds only to the destination.
      const bad = await nv2(['copy', '--dest-creds', 'alice', source, secured]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /USER:PASSWORD/);
      assert.equal(
        ok(await nv2(['copy', '--dest-creds', 'alice:secret', source, secured]), 'copy in').stdout,
        `${digest}\n`,
      );
      assert.match(
        ok(await nv2(['verify', '-u', 'alice', '-p', 'secret', '-c', cert, secured]), 'verify')
          .stderr,
        /1 signature found, 1 verified/,
      );
      // And back out, the source needing the credentials this time.
      const back = `${open.host}/creds-back:v1`;
      assert.equal(
        ok(await nv2(['copy', '--src-creds', 'alice:secret', secured, back]), 'copy out').stdout,
        `${digest}\n`,
      );
      ok(await nv2(['verify', '-c', cert, back]), 'verify back');
    });
  });
});
