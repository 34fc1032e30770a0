/**
 * The registry commands end to end, as a user runs them: images pushed by skopeo (not by
 * nv2), then signed, verified, listed, discovered, pushed, pulled and copied by the built
 * `nv2` CLI against nv2's own registry (referrers API) and CNCF distribution 2.8 (referrers
 * tag schema), including the air-gap flow registry → OCI layout → other registry.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, nv2, run, ok, lines, skopeo } from '../helpers/cli.js';
import { distributionMissing, startDistribution } from '../helpers/distribution.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout, writeIndexLayout } from '../helpers/oci-layout.js';
import { serve } from '../helpers/serve.js';

const NOTARY = 'application/vnd.cncf.notary.v2';

/** A registry under test. */
interface Registry {
  readonly host: string;
  close(): Promise<void>;
}

const noDistribution = distributionMissing();

describe('nv2 registry commands (skopeo-pushed images)', () => {
  let pki: string;
  let key: string;
  let cert: string;
  let otherKey: string;
  let otherCert: string;
  const registries: Record<string, Registry> = {};

  before(async () => {
    // Never touch the user's docker config: nv2 and skopeo children inherit this.
    process.env['DOCKER_CONFIG'] = await tempDir();
    pki = await tempDir();
    ok(await nv2(['cert', 'generate', '--cn', '127.0.0.1', '--out-dir', pki]), 'cert');
    ok(
      await nv2(['cert', 'generate', '--cn', '127.0.0.1', '--name', 'other', '--out-dir', pki]),
      'cert other',
    );
    key = join(pki, '127.0.0.1.key');
    cert = join(pki, '127.0.0.1.crt');
    otherKey = join(pki, 'other.key');
    otherCert = join(pki, 'other.crt');
    const served = await serve(await tempDir());
    registries['nv2'] = { host: served.host, close: async () => void (await served.stop()) };
    if (noDistribution === undefined) {
      const distribution = await startDistribution();
      registries['distribution'] = distribution;
    }
  });
  after(async () => {
    for (const r of Object.values(registries)) await r.close();
  });

  async function pushImage(host: string, repo: string): Promise<string> {
    const layout = await tempDir();
    const image = await writeImageLayout(layout, { tag: 'v1', layers: 2, layerSize: 4096 });
    ok(
      await skopeo(
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout}:v1`,
        `docker://${host}/${repo}:v1`,
      ),
      'skopeo copy',
    );
    return image.digest;
  }

  for (const name of ['nv2', 'distribution']) {
    describe(
      `against ${name === 'nv2' ? "nv2's registry" : 'CNCF distribution 2.8'}`,
      {
        skip: name === 'distribution' ? noDistribution : undefined,
      },
      () => {
        let host: string;
        let digest: string;
        before(async () => {
          host = registries[name]!.host;
          digest = await pushImage(host, 'app');
        });

        it('signs, verifies, lists and discovers; two signers coexist', async () => {
          const ref = `${host}/app:v1`;
          const signed = ok(await nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]), 'sign');
          const [subject, signature] = lines(signed.stdout);
          assert.equal(subject, digest);
          assert.match(signature!, /^sha256:[0-9a-f]{64}$/);

          const verified = ok(await nv2(['verify', '-c', cert, ref]), 'verify');
          assert.equal(verified.stdout, `${digest}\n`);
          assert.match(verified.stderr, /1 signature found, 1 verified/);
          assert.match(
            verified.stderr,
            new RegExp(`${signature}: verified, signed by CN=127\\.0\\.0\\.1`),
          );
          // docker:// and oci:// prefixes name the same artifact.
          assert.equal(
            ok(await nv2(['verify', '-c', cert, `docker://${ref}`]), 'docker://').stdout,
            `${digest}\n`,
          );
          assert.equal(
            ok(await nv2(['verify', '-c', cert, `oci://${ref}`]), 'oci://').stdout,
            `${digest}\n`,
          );

          const untrusted = await nv2(['verify', '-c', otherCert, ref]);
          assert.equal(untrusted.code, 1, untrusted.stderr);
          assert.match(untrusted.stderr, /NV2_ERR_NO_VALID_SIGNATURE/);
          assert.match(untrusted.stderr, /NV2_ERR_CERT_UNTRUSTED/);

          ok(
            await nv2(['sign', '-k', otherKey, '-c', otherCert, '-r', ref, `docker://${ref}`]),
            'sign 2',
          );
          const one = ok(await nv2(['verify', '-c', cert, ref]), 'verify one of two');
          assert.match(one.stderr, /2 signatures found, 1 verified/);
          assert.match(one.stderr, /not verified: NV2_ERR_CERT_UNTRUSTED/);
          const both = ok(
            await nv2(['verify', '-c', cert, '-c', otherCert, '--output', 'json', ref]),
            'verify json',
          );
          const report = JSON.parse(both.stdout) as {
            digest: string;
            signatures: { verified: boolean }[];
          };
          assert.equal(report.digest, digest);
          assert.deepEqual(
            report.signatures.map((s) => s.verified),
            [true, true],
          );

          const list = ok(await nv2(['list', ref]), 'list');
          const rows = lines(list.stdout);
          assert.match(rows[0]!, /^DIGEST\s+FORMAT\s+SIGNER\s+SIGNED AT\s+ALG\s+REFERENCES$/);
          assert.equal(rows.length, 3);
          for (const row of rows.slice(1)) {
            assert.match(
              row,
              /^sha256:[0-9a-f]{64}\s+nv2\s+CN=127\.0\.0\.1\s+\d{4}-.*Z\s+ES256\s+/,
            );
            assert.ok(row.endsWith(ref));
          }
          const listJson = JSON.parse(
            ok(await nv2(['list', '--output', 'json', ref]), 'list json').stdout,
          ) as {
            digest: string;
            signatures: { references: string[] }[];
          };
          assert.equal(listJson.digest, digest);
          assert.equal(listJson.signatures.length, 2);

          const tree = ok(await nv2(['discover', ref]), 'discover');
          const treeLines = lines(tree.stdout);
          assert.equal(treeLines[0], `${host}/app@${digest}`);
          assert.equal(treeLines.filter((l) => l.includes(NOTARY)).length, 2);
          const treeJson = JSON.parse(
            ok(
              await nv2(['discover', '--output', 'json', '--artifact-type', NOTARY, ref]),
              'discover json',
            ).stdout,
          ) as { digest: string; referrers: { artifactType: string }[] };
          assert.equal(treeJson.digest, digest);
          assert.deepEqual(
            treeJson.referrers.map((r) => r.artifactType),
            [NOTARY, NOTARY],
          );
          const none = JSON.parse(
            ok(
              await nv2([
                'discover',
                '--output',
                'json',
                '--artifact-type',
                'application/spdx+json',
                ref,
              ]),
              'discover none',
            ).stdout,
          ) as { referrers: unknown[] };
          assert.equal(none.referrers.length, 0);

          const dir = await tempDir();
          const pulled = lines(
            ok(await nv2(['pull', '--signatures', '-o', dir, ref]), 'pull').stdout,
          );
          assert.equal(pulled.length, 2);
          for (const file of await readdir(dir)) {
            const bytes = await readFile(join(dir, file));
            assert.equal(file, `${createHash('sha256').update(bytes).digest('hex')}.jwt`);
            ok(
              await nv2(['verify', '-c', cert, '-c', otherCert, '-f', join(dir, file), ref]),
              'verify -f pulled',
            );
          }
        });

        it('a copy made by skopeo has no signatures until nv2 copy carries them', async () => {
          const ref = `${host}/app:v1`;
          ok(await nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]), 'sign');
          ok(
            await skopeo(
              'copy',
              '--preserve-digests',
              '--src-tls-verify=false',
              '--dest-tls-verify=false',
              `docker://${ref}`,
              `docker://${host}/skopeo-copy:v1`,
            ),
            'skopeo copy',
          );
          const bare = await nv2(['verify', '-c', cert, `${host}/skopeo-copy:v1`]);
          assert.equal(bare.code, 1, bare.stderr);
          assert.match(bare.stderr, /NV2_ERR_NO_SIGNATURE/);
          const copied = ok(await nv2(['copy', ref, `${host}/skopeo-copy:v1`]), 'nv2 copy');
          assert.equal(copied.stdout, `${digest}\n`);
          assert.equal(
            ok(await nv2(['verify', '-c', cert, `${host}/skopeo-copy:v1`]), 'verify copy').stdout,
            `${digest}\n`,
          );
          // --no-referrers leaves them behind.
          ok(await nv2(['copy', '--no-referrers', ref, `${host}/bare:v1`]), 'copy --no-referrers');
          assert.equal((await nv2(['verify', '-c', cert, `${host}/bare:v1`])).code, 1);
        });

        it('signs offline, pushes with push -f, and rejects a tampered signature', async () => {
          const tamperDigest = await pushImage(host, 'tamper');
          const ref = `${host}/tamper:v1`;
          const dir = await tempDir();
          const out = join(dir, 'sig.jwt');
          const offline = ok(
            await nv2(['sign', '-k', key, '-c', cert, '-r', ref, '-o', out, ref]),
            'sign -o',
          );
          assert.equal(offline.stdout, `${tamperDigest}\n`);
          const none = await nv2(['verify', '-c', cert, ref]);
          assert.equal(none.code, 1);
          assert.match(none.stderr, /NV2_ERR_NO_SIGNATURE/);
          const jws = await readFile(out, 'utf8');
          const last = jws.trimEnd().at(-2) === 'A' ? 'B' : 'A';
          const tampered = `${jws.trimEnd().slice(0, -2)}${last}${jws.trimEnd().at(-1)}`;
          await writeFile(join(dir, 'bad.jwt'), tampered);
          ok(await nv2(['push', '-f', join(dir, 'bad.jwt'), ref]), 'push bad');
          const bad = await nv2(['verify', '-c', cert, ref]);
          assert.equal(bad.code, 1, bad.stderr);
          assert.match(bad.stderr, /NV2_ERR_NO_VALID_SIGNATURE.*NV2_ERR_SIGNATURE_INVALID/);
          const pushed = ok(await nv2(['push', '-f', out, ref]), 'push good');
          assert.match(pushed.stdout, /^sha256:[0-9a-f]{64}\n$/);
          const good = ok(await nv2(['verify', '-c', cert, ref]), 'verify after push');
          assert.match(good.stderr, /2 signatures found, 1 verified/);
          assert.equal(
            ok(await nv2(['verify', '-c', cert, '-f', out, ref]), 'verify -f').stdout,
            `${tamperDigest}\n`,
          );
        });

        it('signs an index and, with --recursive, each platform manifest', async () => {
          const layout = await tempDir();
          const index = await writeIndexLayout(layout, { tag: 'v1' });
          ok(
            await skopeo(
              'copy',
              '--all',
              '--preserve-digests',
              '--dest-tls-verify=false',
              `oci:${layout}:v1`,
              `docker://${host}/multi:v1`,
            ),
            'skopeo copy --all',
          );
          const ref = `${host}/multi:v1`;
          const signed = lines(
            ok(
              await nv2(['sign', '--recursive', '-k', key, '-c', cert, '-r', ref, ref]),
              'sign --recursive',
            ).stdout,
          );
          assert.equal(signed.length, 6);
          assert.equal(signed[0], index.digest);
          assert.equal(
            ok(await nv2(['verify', '-c', cert, ref]), 'verify index').stdout,
            `${index.digest}\n`,
          );
          for (const child of [signed[2]!, signed[4]!]) {
            ok(await nv2(['verify', '-c', cert, `${host}/multi@${child}`]), `verify ${child}`);
          }
        });
      },
    );
  }

  it(
    'air gap: distribution → oci-layout → nv2 registry still verifies',
    { skip: noDistribution },
    async () => {
      const from = registries['distribution']!.host;
      const to = registries['nv2']!.host;
      const digest = await pushImage(from, 'airgap');
      const ref = `${from}/airgap:v1`;
      ok(await nv2(['sign', '-k', key, '-c', cert, '-r', ref, ref]), 'sign');
      const layout = join(await tempDir(), 'carry');
      assert.equal(
        ok(await nv2(['copy', ref, `oci-layout:${layout}:v1`]), 'copy out').stdout,
        `${digest}\n`,
      );
      assert.equal(
        ok(await nv2(['verify', '-c', cert, `oci-layout:${layout}:v1`]), 'verify layout').stdout,
        `${digest}\n`,
      );
      assert.equal(
        lines(ok(await nv2(['list', `oci-layout:${layout}:v1`]), 'list layout').stdout).length,
        2,
      );
      ok(await nv2(['copy', `oci-layout:${layout}:v1`, `${to}/private/airgap:v1`]), 'copy in');
      assert.equal(
        ok(
          await nv2(['verify', '-c', cert, `${to}/private/airgap:v1`]),
          'verify at the destination',
        ).stdout,
        `${digest}\n`,
      );
      // Signing in a layout works too.
      ok(
        await nv2(['sign', '-k', otherKey, '-c', otherCert, '-r', ref, `oci-layout:${layout}:v1`]),
        'sign layout',
      );
      assert.match(
        ok(await nv2(['verify', '-c', cert, `oci-layout:${layout}:v1`]), 'verify layout 2').stderr,
        /2 signatures found, 1 verified/,
      );
    },
  );

  it('stores signatures elsewhere with --push-reference', async () => {
    const host = registries['nv2']!.host;
    await pushImage(host, 'pushref');
    const ref = `${host}/pushref:v1`;
    const out = lines(
      ok(
        await nv2([
          'sign',
          '-k',
          key,
          '-c',
          cert,
          '-r',
          ref,
          '--push-reference',
          `${host}/signatures:pushref`,
          ref,
        ]),
        'sign --push-reference',
      ).stdout,
    );
    assert.equal(out.length, 2);
    const none = await nv2(['verify', '-c', cert, ref]);
    assert.equal(none.code, 1);
    // The signature artifact is in the other repository, tagged as asked, and names the image.
    const res = await fetch(`http://${host}/v2/signatures/manifests/pushref`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(res.status, 200);
    const manifest = (await res.json()) as { artifactType: string; subject: { digest: string } };
    assert.equal(manifest.artifactType, NOTARY);
    assert.equal(manifest.subject.digest, out[0]);
    assert.equal(res.headers.get('docker-content-digest'), out[1]);
  });

  it('reports a missing artifact with exit 2 and an unreachable registry with exit 3', async () => {
    const host = registries['nv2']!.host;
    const missing = await nv2(['verify', '-c', cert, `${host}/nothing:v1`]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /NV2_ERR_CONTENT_NOT_FOUND/);
    const unreachable = await nv2(['list', '127.0.0.1:1/app:v1']);
    assert.equal(unreachable.code, 3, unreachable.stderr);
  });

  it('login and logout write and clear $DOCKER_CONFIG/config.json', async () => {
    const host = registries['nv2']!.host;
    const config = join(process.env['DOCKER_CONFIG']!, 'config.json');
    const login = await run(
      process.execPath,
      [CLI, 'login', '-u', 'alice', '--password-stdin', host],
      { stdin: 'secret\n' },
    );
    ok(login, 'login');
    assert.equal(login.stdout, 'Login Succeeded\n');
    const written = JSON.parse(await readFile(config, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    assert.equal(Buffer.from(written.auths[host]!.auth, 'base64').toString(), 'alice:secret');
    const argvPassword = await nv2(['login', '-u', 'alice', '-p', 'secret', host]);
    ok(argvPassword, 'login -p');
    assert.match(argvPassword.stderr, /warning: .*password-stdin/);
    ok(await nv2(['list', `${host}/app:v1`]), 'list with stored credentials');
    assert.equal(
      ok(await nv2(['logout', host]), 'logout').stdout,
      `Removed login credentials for ${host}\n`,
    );
    const cleared = JSON.parse(await readFile(config, 'utf8')) as {
      auths: Record<string, unknown>;
    };
    assert.equal(cleared.auths[host], undefined);
    assert.equal(
      ok(await nv2(['logout', host]), 'logout again').stdout,
      `Not logged in to ${host}\n`,
    );
  });
});
