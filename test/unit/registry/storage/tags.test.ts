import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { putBlobContent } from '../../../../src/registry/storage/blobs.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { createManifestStore } from '../../../../src/registry/storage/manifests.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import { tagCurrentLinkPath, tagsPath } from '../../../../src/registry/storage/paths.js';
import type { TagStore } from '../../../../src/registry/storage/store.js';
import { createTagStore } from '../../../../src/registry/storage/tags.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { cachesOf } from '../../../helpers/store-caches.js';
import { createStoreCaches } from '../../../../src/registry/storage/caches.js';

const DRIVERS: readonly [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  ['filesystem', async () => createFilesystemDriver({ root: await tempDir() })],
];

const REPO = 'lib/app';
/** Pushed in this (unsorted) order; byte-wise order puts upper case and digits first. */
const TAGS = ['v2', 'latest', 'B', 'v1.0', 'v1-rc', '1', 'v1_0', 'a'];
const SORTED = ['1', 'B', 'a', 'latest', 'v1-rc', 'v1.0', 'v1_0', 'v2'];

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code);
    return true;
  });
}

for (const [driverName, makeDriver] of DRIVERS) {
  describe(`tag store (${driverName} driver)`, () => {
    const config = Buffer.from('{}');
    const image = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(config), size: 2 },
        layers: [],
      }),
    );

    async function setup(tags: readonly string[] = TAGS): Promise<{
      driver: StorageDriver;
      store: TagStore;
    }> {
      const driver = await makeDriver();
      await putBlobContent(driver, cachesOf(driver), REPO, config, digestOf(config));
      const manifests = createManifestStore(driver, cachesOf(driver));
      for (const tag of tags) await manifests.put(REPO, tag, image, MediaTypes.ociManifest);
      return { driver, store: createTagStore(driver, cachesOf(driver)) };
    }

    it('lists every tag in byte-wise order', async () => {
      const { store } = await setup();
      assert.deepEqual(await store.list(REPO), { tags: SORTED, more: false });
    });

    it('answers NAME_UNKNOWN for a repository that does not exist', async () => {
      const { store } = await setup();
      await rejectsWith(store.list('lib/nope'), 'NAME_UNKNOWN');
      // A directory above a repository is not a repository.
      await rejectsWith(store.list('lib'), 'NAME_UNKNOWN');
    });

    it('lists no tags for a repository that has only blobs', async () => {
      const { driver, store } = await setup([]);
      assert.deepEqual(await store.list(REPO), { tags: [], more: false });
      assert.equal(
        (await createTagStore(driver, cachesOf(driver)).resolve(REPO, 'v1')) === undefined,
        true,
      );
    });

    it('returns an empty page and no more for n=0', async () => {
      const { store } = await setup();
      assert.deepEqual(await store.list(REPO, { n: 0 }), { tags: [], more: false });
      assert.deepEqual(await store.list(REPO, { n: 0, last: 'a' }), { tags: [], more: false });
    });

    it('pages with n, and says whether more follow', async () => {
      const { store } = await setup();
      assert.deepEqual(await store.list(REPO, { n: 3 }), { tags: SORTED.slice(0, 3), more: true });
      assert.deepEqual(await store.list(REPO, { n: 3, last: SORTED[2]! }), {
        tags: SORTED.slice(3, 6),
        more: true,
      });
      // The last page is exactly full: no more.
      assert.deepEqual(await store.list(REPO, { n: 2, last: SORTED[5]! }), {
        tags: SORTED.slice(6),
        more: false,
      });
      assert.deepEqual(await store.list(REPO, { n: SORTED.length }), { tags: SORTED, more: false });
      assert.deepEqual(await store.list(REPO, { n: 100 }), { tags: SORTED, more: false });
    });

    it('starts strictly after last, whether or not last is a tag', async () => {
      const { store } = await setup();
      assert.deepEqual(await store.list(REPO, { last: 'latest' }), {
        tags: SORTED.slice(4),
        more: false,
      });
      assert.deepEqual(await store.list(REPO, { last: 'c' }), {
        tags: SORTED.slice(3),
        more: false,
      });
      assert.deepEqual(await store.list(REPO, { last: '0' }), { tags: SORTED, more: false });
    });

    it('returns an empty page when last is beyond the end', async () => {
      const { store } = await setup();
      assert.deepEqual(await store.list(REPO, { n: 5, last: 'zzz' }), { tags: [], more: false });
      assert.deepEqual(await store.list(REPO, { last: SORTED.at(-1)! }), {
        tags: [],
        more: false,
      });
    });

    it('refuses a negative or fractional n with PAGINATION_NUMBER_INVALID', async () => {
      const { store } = await setup();
      for (const n of [-1, 1.5, Number.NaN]) {
        await rejectsWith(store.list(REPO, { n }), 'PAGINATION_NUMBER_INVALID');
      }
    });

    it('skips a tag directory that lost its link', async () => {
      const { driver, store } = await setup(['a', 'b']);
      // What a crash while a tag was being written could leave: a directory, no link.
      await driver.putContent(`${tagsPath(REPO)}/ghost/current/link.tmp`, Buffer.from('x'));
      assert.deepEqual(await store.list(REPO), { tags: ['a', 'b'], more: false });
      assert.deepEqual(await store.list(REPO, { n: 1, last: 'a' }), { tags: ['b'], more: false });
    });

    it('checks each tag directory for its link once, then lists from memory', async () => {
      const { driver } = await setup(['a', 'b']);
      await driver.putContent(`${tagsPath(REPO)}/ghost/current/link.tmp`, Buffer.from('x'));
      const stats: string[] = [];
      const counting: StorageDriver = Object.create(driver) as StorageDriver;
      Object.assign(counting, {
        stat: (path: string) => {
          stats.push(path);
          return driver.stat(path);
        },
      });
      const store = createTagStore(counting, cachesOf(counting));
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await store.list(REPO), { tags: ['a', 'b'], more: false });
      }
      const tagStats = stats.filter((p) => p.startsWith(`${tagsPath(REPO)}/`));
      assert.deepEqual(tagStats.filter((p) => !p.includes('/ghost/')).sort(), [
        tagCurrentLinkPath(REPO, 'a'),
        tagCurrentLinkPath(REPO, 'b'),
      ]);
      assert.equal(tagStats.filter((p) => p.includes('/ghost/')).length, 1);
      // Tags written by this process join the remembered list.
      await createManifestStore(counting, cachesOf(counting)).put(
        REPO,
        'aa',
        image,
        MediaTypes.ociManifest,
      );
      assert.deepEqual(await store.list(REPO), { tags: ['a', 'aa', 'b'], more: false });
      assert.equal(await createManifestStore(counting, cachesOf(counting)).delete(REPO, 'a'), true);
      assert.deepEqual(await store.list(REPO), { tags: ['aa', 'b'], more: false });
    });

    it('forgets a tag it has listed once the tag is deleted, or its manifest is', async () => {
      const { driver, store } = await setup(['a', 'b', 'c']);
      const manifests = createManifestStore(driver, cachesOf(driver));
      assert.deepEqual(await store.list(REPO), { tags: ['a', 'b', 'c'], more: false });
      assert.equal(await manifests.delete(REPO, 'a'), true);
      // What a crash while tag `a` was being written again could leave.
      await driver.putContent(`${tagsPath(REPO)}/a/current/link.tmp`, Buffer.from('x'));
      assert.deepEqual(await store.list(REPO), { tags: ['b', 'c'], more: false });
      assert.equal(await manifests.delete(REPO, digestOf(image)), true);
      await driver.putContent(`${tagsPath(REPO)}/b/current/link.tmp`, Buffer.from('x'));
      assert.deepEqual(await store.list(REPO), { tags: [], more: false });
      await manifests.put(REPO, 'b', image, MediaTypes.ociManifest);
      assert.deepEqual(await store.list(REPO), { tags: ['b'], more: false });
    });

    it('forgets a deleted tag', async () => {
      const { driver, store } = await setup(['a', 'b']);
      assert.equal(await createManifestStore(driver, cachesOf(driver)).delete(REPO, 'a'), true);
      assert.deepEqual(await store.list(REPO), { tags: ['b'], more: false });
    });

    it('resolves a tag to its digest, and an unknown tag to undefined', async () => {
      const { store } = await setup(['v1']);
      assert.equal(await store.resolve(REPO, 'v1'), digestOf(image));
      assert.equal(await store.resolve(REPO, 'v2'), undefined);
      assert.equal(await store.resolve('lib/nope', 'v1'), undefined);
    });

    it('reports a link that does not hold a digest as a storage fault', async () => {
      const { driver } = await setup(['v1']);
      await driver.putContent(tagCurrentLinkPath(REPO, 'v1'), Buffer.from('garbage'));
      // Seen by a process started after the damage (this one remembers the tag it wrote).
      const restarted = createTagStore(driver, createStoreCaches(driver));
      await rejectsWith(restarted.resolve(REPO, 'v1'), 'NV2_ERR_STORAGE_IO');
    });
  });
}
