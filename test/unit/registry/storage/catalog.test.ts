import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { putBlobContent } from '../../../../src/registry/storage/blobs.js';
import { createCatalog, isRepository } from '../../../../src/registry/storage/catalog.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { createManifestStore } from '../../../../src/registry/storage/manifests.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import { createUploadStore } from '../../../../src/registry/storage/uploads.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { cachesOf } from '../../../helpers/store-caches.js';

const DRIVERS: readonly [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  ['filesystem', async () => createFilesystemDriver({ root: await tempDir() })],
];

const CONFIG = Buffer.from('{}');

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code);
    return true;
  });
}

/** A repository that has a blob (and so a `_layers` directory). */
async function withBlob(driver: StorageDriver, repo: string): Promise<void> {
  await putBlobContent(driver, cachesOf(driver), repo, CONFIG, digestOf(CONFIG));
}

for (const [driverName, makeDriver] of DRIVERS) {
  describe(`catalog (${driverName} driver)`, () => {
    it('is empty on empty storage', async () => {
      const catalog = createCatalog(await makeDriver());
      assert.deepEqual(await catalog.list(), { repositories: [], more: false });
      assert.deepEqual(await catalog.list({ n: 10 }), { repositories: [], more: false });
    });

    it('finds nested repositories, and lists them in byte-wise order', async () => {
      const driver = await makeDriver();
      // `a` and `a/b` are both repositories; `x` and `x/y` are only directories on the way.
      for (const repo of ['x/y/z', 'a/b', 'a', 'a-c', 'b.d/e']) await withBlob(driver, repo);
      const catalog = createCatalog(driver);
      assert.deepEqual(await catalog.list(), {
        repositories: ['a', 'a-c', 'a/b', 'b.d/e', 'x/y/z'],
        more: false,
      });
      assert.equal(await isRepository(driver, 'x/y'), false);
      assert.equal(await isRepository(driver, 'x/y/z'), true);
    });

    it('counts a repository with only manifests or only uploads', async () => {
      const driver = await makeDriver();
      await createUploadStore(driver, cachesOf(driver)).start('only/uploads');
      await withBlob(driver, 'images/app');
      const image = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(CONFIG), size: 2 },
          layers: [],
        }),
      );
      await createManifestStore(driver, cachesOf(driver)).put(
        'images/app',
        'v1',
        image,
        MediaTypes.ociManifest,
      );
      assert.deepEqual((await createCatalog(driver).list()).repositories, [
        'images/app',
        'only/uploads',
      ]);
    });

    it('pages with n and last', async () => {
      const driver = await makeDriver();
      const names = ['r1', 'r2', 'r3', 'r4', 'r5'];
      for (const repo of names) await withBlob(driver, repo);
      const catalog = createCatalog(driver);
      assert.deepEqual(await catalog.list({ n: 0 }), { repositories: [], more: false });
      assert.deepEqual(await catalog.list({ n: 2 }), { repositories: ['r1', 'r2'], more: true });
      assert.deepEqual(await catalog.list({ n: 2, last: 'r2' }), {
        repositories: ['r3', 'r4'],
        more: true,
      });
      assert.deepEqual(await catalog.list({ n: 1, last: 'r4' }), {
        repositories: ['r5'],
        more: false,
      });
      assert.deepEqual(await catalog.list({ n: 5 }), { repositories: names, more: false });
      assert.deepEqual(await catalog.list({ last: 'r5' }), { repositories: [], more: false });
      assert.deepEqual(await catalog.list({ n: 3, last: 'zz' }), {
        repositories: [],
        more: false,
      });
      await rejectsWith(catalog.list({ n: -1 }), 'PAGINATION_NUMBER_INVALID');
    });
  });
}
