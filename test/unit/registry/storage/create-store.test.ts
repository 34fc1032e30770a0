import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { createStoreCaches } from '../../../../src/registry/storage/caches.js';
import { createStore } from '../../../../src/registry/storage/create-store.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { collectGarbage } from '../../../../src/registry/storage/gc.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import type { RegistryStore } from '../../../../src/registry/storage/store.js';

const REPO = 'lib/app';
const CONFIG = Buffer.from('{}');
const LAYER = Buffer.from('the one layer');

function image(tagline: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(CONFIG), size: CONFIG.length },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: digestOf(LAYER),
          size: LAYER.length,
        },
      ],
      annotations: { tagline },
    }),
  );
}

async function* chunks(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function pushImage(store: RegistryStore, tag: string): Promise<Buffer> {
  for (const blob of [CONFIG, LAYER]) {
    await store.uploads.putBlob(REPO, digestOf(blob), chunks(blob), { length: blob.length });
  }
  const bytes = image(tag);
  await store.manifests.put(REPO, tag, bytes, MediaTypes.ociManifest);
  return bytes;
}

describe('createStore and its caches', () => {
  it('stores given the same caches over one driver see each other’s changes', async () => {
    const driver: StorageDriver = createMemoryDriver();
    const caches = createStoreCaches(driver);
    const first = createStore(driver, { caches });
    const second = createStore(driver, { caches });
    await pushImage(first, 'v1');
    await pushImage(first, 'v2');
    // Both remember the tags (and what v1 points at) once read.
    assert.deepEqual((await second.tags.list(REPO)).tags, ['v1', 'v2']);
    assert.ok(await second.manifests.get(REPO, 'v1'));
    assert.equal(await first.manifests.delete(REPO, 'v1'), true);
    assert.deepEqual((await second.tags.list(REPO)).tags, ['v2']);
    assert.equal(await second.manifests.get(REPO, 'v1'), undefined);
  });

  it('garbage collection given the store’s caches forgets what it removes', async () => {
    const driver = createMemoryDriver();
    const caches = createStoreCaches(driver);
    const store = createStore(driver, { caches });
    const bytes = await pushImage(store, 'v1');
    const digest = digestOf(bytes);
    assert.ok(await store.blobs.stat(REPO, digestOf(LAYER)));
    assert.ok(await store.manifests.get(REPO, digest));
    assert.ok(caches.content.blobSize(digestOf(LAYER)));
    assert.ok(caches.content.manifest(digest));

    assert.equal(await store.manifests.delete(REPO, digest), true);
    const report = await collectGarbage(driver, { caches });
    assert.ok(report.deletedBlobs.includes(digestOf(LAYER)));
    assert.equal(caches.content.blobSize(digestOf(LAYER)), undefined);
    assert.equal(caches.content.manifest(digest), undefined);
    assert.equal(await store.blobs.stat(REPO, digestOf(LAYER)), undefined);
    assert.equal(await store.manifests.get(REPO, digest), undefined);
  });

  it('each store made without caches gets its own', async () => {
    const driver = createMemoryDriver();
    const store = createStore(driver);
    await pushImage(store, 'v1');
    // A second store over the same storage starts empty, as a restarted process would, and
    // reads what the first wrote from storage.
    const restarted = createStore(driver);
    assert.deepEqual((await restarted.tags.list(REPO)).tags, ['v1']);
  });
});
