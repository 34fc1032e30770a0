/**
 * `nv2 attach`: an SBOM attached to an image, in nv2's registry and in an OCI layout, is a
 * referrer of the image (discover shows it, with its artifact type and file name), its bytes
 * are stored as pushed, and it can itself be signed and verified like any manifest.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nv2, ok } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { writeImageLayout } from '../helpers/oci-layout.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';

const SPDX = 'application/spdx+json';

interface Node {
  digest: string;
  artifactType?: string;
  annotations?: Record<string, string>;
  referrers: Node[];
}

describe('nv2 attach', () => {
  let registry: RunningRegistry;
  let dir: string;
  let sbom: string;
  let sbomBytes: Buffer;
  let key: string;
  let cert: string;

  before(async () => {
    process.env['DOCKER_CONFIG'] = await tempDir();
    registry = await startRegistry();
    dir = await tempDir();
    sbom = join(dir, 'net-monitor.spdx.json');
    sbomBytes = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'net-monitor' }));
    await writeFile(sbom, sbomBytes);
    ok(await nv2(['cert', 'generate', '--cn', '127.0.0.1', '--out-dir', dir]), 'cert');
    key = join(dir, '127.0.0.1.key');
    cert = join(dir, '127.0.0.1.crt');
  });
  after(() => registry.close());

  for (const where of ['registry', 'oci-layout'] as const) {
    it(`attaches an SBOM that discover lists and that can be signed (${where})`, async () => {
      const layout = await tempDir();
      await writeImageLayout(layout, { tag: 'v1', layers: 2, layerSize: 1024 });
      let ref = `oci-layout:${layout}:v1`;
      if (where === 'registry') {
        ref = `${registry.host}/net-monitor:v1`;
        ok(await nv2(['copy', `oci-layout:${layout}:v1`, ref]), 'copy');
      }
      const attached = ok(
        await nv2([
          'attach',
          '--artifact-type',
          SPDX,
          '-a',
          'org.example.tool=test',
          ref,
          `${sbom}:${SPDX}`,
        ]),
        'attach',
      );
      const sbomManifest = attached.stdout.trim();
      assert.match(sbomManifest, /^sha256:[0-9a-f]{64}$/);

      const tree = JSON.parse(
        ok(await nv2(['discover', '--output', 'json', ref]), 'discover').stdout,
      ) as Node;
      const listed = tree.referrers.find((n) => n.digest === sbomManifest);
      assert.ok(listed, 'the SBOM is a referrer of the image');
      assert.equal(listed.artifactType, SPDX);
      assert.equal(listed.annotations?.['org.example.tool'], 'test');

      // The layer is the file, byte for byte, named by its title annotation.
      const base = ref.replace(/:v1$/, '');
      const manifestRef = `${base}@${sbomManifest}`;
      if (where === 'oci-layout') {
        const manifest = JSON.parse(
          await readFile(join(layout, 'blobs', 'sha256', sbomManifest.slice(7)), 'utf8'),
        ) as { layers: { digest: string; annotations: Record<string, string> }[] };
        const layer = manifest.layers[0]!;
        assert.equal(layer.annotations['org.opencontainers.image.title'], 'net-monitor.spdx.json');
        const stored = await readFile(join(layout, 'blobs', 'sha256', layer.digest.slice(7)));
        assert.deepEqual(stored, sbomBytes);
      } else {
        const hex = createHash('sha256').update(sbomBytes).digest('hex');
        const blob = await fetch(`${registry.url}/v2/net-monitor/blobs/sha256:${hex}`);
        assert.equal(blob.status, 200);
        assert.deepEqual(Buffer.from(await blob.arrayBuffer()), sbomBytes);
      }

      // The SBOM is signed like any manifest, and its signature joins the tree under it.
      ok(await nv2(['sign', '-k', key, '-c', cert, manifestRef]), 'sign the SBOM');
      ok(await nv2(['verify', '-c', cert, manifestRef]), 'verify the SBOM');
      const after = JSON.parse(
        ok(await nv2(['discover', '--output', 'json', ref]), 'discover').stdout,
      ) as Node;
      const node = after.referrers.find((n) => n.digest === sbomManifest)!;
      assert.deepEqual(
        node.referrers.map((n) => n.artifactType),
        ['application/vnd.cncf.notary.v2'],
      );
    });
  }

  it('refuses a missing file, a bad artifact type and a bad annotation with exit 2', async () => {
    const ref = `${registry.host}/net-monitor:v1`;
    for (const args of [
      ['--artifact-type', SPDX, ref, join(dir, 'missing.json')],
      ['--artifact-type', 'not a type', ref, sbom],
      ['--artifact-type', SPDX, '-a', 'novalue', ref, sbom],
    ]) {
      const result = await nv2(['attach', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
  });
});
