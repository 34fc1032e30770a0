import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { readImageArchive } from '../../../src/docker/index.js';
import { InvalidInputError } from '../../../src/errors.js';
import { classicArchive, ociArchive } from '../../helpers/docker.js';
import { tempDir } from '../../helpers/fixtures.js';

/** The archive fed in small pieces, as a pipe delivers it. */
function streamOf(data: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += 1000) pieces.push(data.subarray(i, i + 1000));
  return Readable.from(pieces);
}

describe('readImageArchive', () => {
  it('describes a classic docker save archive as a Docker schema 2 manifest', async () => {
    const archive = await classicArchive('registry.example.com/app:v1');
    const generated = await readImageArchive(streamOf(archive.tar));
    assert.equal(generated.format, 'docker-archive');
    assert.deepEqual(generated.names, ['registry.example.com/app:v1']);
    const manifest = JSON.parse(generated.content.toString()) as {
      mediaType: string;
      config: { mediaType: string; digest: string; size: number };
      layers: { mediaType: string; digest: string; size: number }[];
    };
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(manifest.config, {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      ...archive.config,
    });
    assert.deepEqual(
      manifest.layers,
      archive.layers.map((l) => ({
        mediaType: l.gzip
          ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
          : 'application/vnd.docker.image.rootfs.diff.tar',
        digest: l.digest,
        size: l.size,
      })),
    );
    assert.equal(generated.uncompressedLayers, 2);
    assert.equal(
      generated.descriptor.digest,
      `sha256:${createHash('sha256').update(generated.content).digest('hex')}`,
    );
    assert.equal(generated.descriptor.size, generated.content.length);
  });

  it('returns the manifest stored in an OCI archive byte for byte', async () => {
    const archive = await ociArchive(await tempDir(), 'docker.io/library/app:v1');
    const generated = await readImageArchive(streamOf(archive.tar), { image: 'app:v1' });
    assert.equal(generated.format, 'oci-archive');
    assert.deepEqual(generated.content, archive.manifest);
    assert.equal(generated.descriptor.digest, archive.digest);
    assert.equal(generated.descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(generated.uncompressedLayers, 2);
  });

  it('refuses what is not an image archive', async () => {
    await assert.rejects(
      readImageArchive(Readable.from([Buffer.from('not a tar archive at all'.repeat(40))])),
      (err: unknown) => err instanceof InvalidInputError && err.code === 'NV2_ERR_DOCKER_ARCHIVE',
    );
    const truncated = (await classicArchive('app:v1')).tar.subarray(0, 1024);
    await assert.rejects(
      readImageArchive(Readable.from([truncated])),
      (err: unknown) => err instanceof InvalidInputError && err.code === 'NV2_ERR_DOCKER_ARCHIVE',
    );
  });
});
