import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { createBlobStore, putBlobContent } from '../../../../src/registry/storage/blobs.js';
import { createStoreCaches } from '../../../../src/registry/storage/caches.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { collectGarbage } from '../../../../src/registry/storage/gc.js';
import { createManifestStore } from '../../../../src/registry/storage/manifests.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { cachesOf } from '../../../helpers/store-caches.js';

const DRIVERS: readonly [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  ['filesystem', async () => createFilesystemDriver({ root: await tempDir() })],
];

const REPO = 'lib/app';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** A driver that counts reads of each kind, over `driver`. */
function counting(driver: StorageDriver): { driver: StorageDriver; reads: string[] } {
  const reads: string[] = [];
  const wrapped = Object.create(driver) as StorageDriver;
  Object.assign(wrapped, {
    getContent: (path: string) => {
      reads.push(`getContent ${path}`);
      return driver.getContent(path);
    },
    stat: (path: string) => {
      reads.push(`stat ${path}`);
      return driver.stat(path);
    },
  });
  return { driver: wrapped, reads };
}

for (const [driverName, makeDriver] of DRIVERS) {
  describe(`content cache (${driverName} driver)`, () => {
    const config = Buffer.from('{}');
    const manifest = (layer: Buffer): Buffer =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(config), size: 2 },
          layers: [{ mediaType: LAYER, digest: digestOf(layer), size: layer.length }],
        }),
      );

    async function setup() {
      const { driver, reads } = counting(await makeDriver());
      const layers = [Buffer.from('layer one'), Buffer.from('layer two')];
      await putBlobContent(driver, cachesOf(driver), REPO, config, digestOf(config));
      for (const layer of layers)
        await putBlobContent(driver, cachesOf(driver), REPO, layer, digestOf(layer));
      return { driver, reads, layers, manifests: createManifestStore(driver, cachesOf(driver)) };
    }

    it('never stats blob data or reads a link it wrote, and forgets a deleted link', async () => {
      const { driver, reads, layers } = await setup();
      const blobs = createBlobStore(driver, cachesOf(driver));
      const digest = digestOf(layers[0]!);
      reads.length = 0;
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await blobs.stat(REPO, digest), { digest, size: layers[0]!.length });
      }
      assert.equal(reads.filter((r) => r.startsWith('stat ')).length, 0);
      assert.equal(reads.filter((r) => r.startsWith('getContent ')).length, 0);
      // Another process (its caches empty) stats the data once and reads the link once.
      const fresh = counting(Object.create(driver) as StorageDriver);
      const restarted = createBlobStore(fresh.driver, createStoreCaches(fresh.driver));
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await restarted.stat(REPO, digest), { digest, size: layers[0]!.length });
      }
      assert.equal(fresh.reads.filter((r) => r.startsWith('stat ')).length, 1);
      assert.equal(fresh.reads.filter((r) => r.startsWith('getContent ')).length, 1);
      assert.equal(await blobs.delete(REPO, digest), true);
      assert.equal(await blobs.stat(REPO, digest), undefined);
      assert.equal(await blobs.stat('lib/other', digest), undefined);
    });

    it('reads a manifest once, and follows tag moves and deletes', async () => {
      const { reads, layers, manifests } = await setup();
      const [one, two] = [manifest(layers[0]!), manifest(layers[1]!)];
      await manifests.put(REPO, 'v1', one, MediaTypes.ociManifest);
      reads.length = 0;
      for (let i = 0; i < 3; i++) {
        assert.deepEqual((await manifests.get(REPO, 'v1'))?.content, one);
      }
      assert.equal(reads.filter((r) => r.includes('/blobs/')).length, 1);

      await manifests.put(REPO, 'v1', two, MediaTypes.ociManifest);
      assert.deepEqual((await manifests.get(REPO, 'v1'))?.content, two);
      assert.deepEqual((await manifests.get(REPO, digestOf(one)))?.content, one);

      assert.equal(await manifests.delete(REPO, digestOf(two)), true);
      assert.equal(await manifests.get(REPO, 'v1'), undefined);
      assert.equal(await manifests.get(REPO, digestOf(two)), undefined);
      assert.equal(await manifests.delete(REPO, 'v1'), false);
      assert.deepEqual((await manifests.get(REPO, digestOf(one)))?.descriptor.size, one.length);
      assert.equal(await manifests.get('lib/other', digestOf(one)), undefined);
    });

    it('forgets what garbage collection removes', async () => {
      const { driver, layers, manifests } = await setup();
      const one = manifest(layers[0]!);
      await manifests.put(REPO, digestOf(one), one, MediaTypes.ociManifest);
      assert.ok(await manifests.get(REPO, digestOf(one)));
      assert.ok(await createBlobStore(driver, cachesOf(driver)).stat(REPO, digestOf(layers[0]!)));
      const cache = cachesOf(driver).content;
      assert.equal(cache.blobSize(digestOf(layers[0]!)), layers[0]!.length);
      assert.ok(cache.manifest(digestOf(one)));

      assert.equal(await manifests.delete(REPO, digestOf(one)), true);
      const report = await collectGarbage(driver, { caches: cachesOf(driver) });
      assert.ok(report.deletedBlobs.includes(digestOf(one)));
      assert.ok(report.deletedBlobs.includes(digestOf(layers[0]!)));
      assert.equal(cache.blobSize(digestOf(layers[0]!)), undefined);
      assert.equal(cache.manifest(digestOf(one)), undefined);

      // Pushed again: read from storage again.
      await putBlobContent(driver, cachesOf(driver), REPO, config, digestOf(config));
      await putBlobContent(driver, cachesOf(driver), REPO, layers[0]!, digestOf(layers[0]!));
      await manifests.put(REPO, 'again', one, MediaTypes.ociManifest);
      assert.deepEqual((await manifests.get(REPO, 'again'))?.content, one);
    });

    it('keeps caches of different drivers apart', async () => {
      const a = await setup();
      const b = await setup();
      const one = manifest(a.layers[0]!);
      await a.manifests.put(REPO, 'v1', one, MediaTypes.ociManifest);
      assert.ok(await a.manifests.get(REPO, 'v1'));
      assert.equal(await b.manifests.get(REPO, 'v1'), undefined);
      assert.equal(await b.manifests.get(REPO, digestOf(one)), undefined);
    });
  });
}
