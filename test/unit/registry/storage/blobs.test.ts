import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Digest } from '../../../../src/oci/index.js';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { createBlobStore, putBlobContent } from '../../../../src/registry/storage/blobs.js';
import { SMALL_BLOB_MAX_BYTES } from '../../../../src/registry/storage/content-cache.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { createManifestStore } from '../../../../src/registry/storage/manifests.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import { blobDataPath, layerLinkPath } from '../../../../src/registry/storage/paths.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { cachesOf } from '../../../helpers/store-caches.js';
import { createStoreCaches } from '../../../../src/registry/storage/caches.js';

/** Every driver the blob store runs over; each test gets a fresh, empty one. */
const DRIVERS: readonly [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  ['filesystem', async () => createFilesystemDriver({ root: await tempDir() })],
];

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

const CONTENT = Buffer.from('the quick brown fox jumps over the lazy dog');
const DIGEST = digestOf(CONTENT);
const ABSENT = digestOf(Buffer.from('never stored'));

for (const [name, makeDriver] of DRIVERS) {
  describe(`blob store (${name} driver)`, () => {
    async function setup(): Promise<{
      driver: StorageDriver;
      blobs: ReturnType<typeof createBlobStore>;
    }> {
      const driver = await makeDriver();
      return { driver, blobs: createBlobStore(driver, cachesOf(driver)) };
    }

    it('stats, opens and ranges a blob linked into the repository', async () => {
      const { driver, blobs } = await setup();
      assert.deepEqual(await putBlobContent(driver, cachesOf(driver), 'lib/a', CONTENT, DIGEST), {
        digest: DIGEST,
        size: CONTENT.length,
      });
      assert.deepEqual(await blobs.stat('lib/a', DIGEST), { digest: DIGEST, size: CONTENT.length });
      assert.deepEqual(await readAll(await blobs.open('lib/a', DIGEST)), CONTENT);
      const range = await blobs.open('lib/a', DIGEST, { start: 4, end: 8 });
      assert.deepEqual(await readAll(range), CONTENT.subarray(4, 9));
      const last = await blobs.open('lib/a', DIGEST, {
        start: CONTENT.length - 1,
        end: CONTENT.length - 1,
      });
      assert.deepEqual(await readAll(last), CONTENT.subarray(-1));
    });

    it('reads a small blob whole, from memory once read; a large one is left to open', async () => {
      const { driver, blobs } = await setup();
      await putBlobContent(driver, cachesOf(driver), 'lib/a', CONTENT, DIGEST);
      const first = await blobs.readSmall('lib/a', DIGEST);
      assert.deepEqual(first, CONTENT);
      // Remembered: the same bytes without reading storage again.
      assert.equal(await blobs.readSmall('lib/a', DIGEST), first);
      await assert.rejects(blobs.readSmall('lib/b', DIGEST), { code: 'BLOB_UNKNOWN' });
      await assert.rejects(blobs.readSmall('lib/a', ABSENT), { code: 'BLOB_UNKNOWN' });
      const large = Buffer.alloc(SMALL_BLOB_MAX_BYTES + 1, 7);
      const largeDigest = digestOf(large);
      await putBlobContent(driver, cachesOf(driver), 'lib/a', large, largeDigest);
      assert.equal(await blobs.readSmall('lib/a', largeDigest), undefined);
      assert.deepEqual(await readAll(await blobs.open('lib/a', largeDigest)), large);
    });

    it('refuses ranges outside the blob with RANGE_INVALID', async () => {
      const { driver, blobs } = await setup();
      await putBlobContent(driver, cachesOf(driver), 'lib/a', CONTENT, DIGEST);
      for (const range of [
        { start: 0, end: CONTENT.length },
        { start: 5, end: 4 },
        { start: -1, end: 3 },
        { start: 0.5, end: 3 },
      ]) {
        await assert.rejects(blobs.open('lib/a', DIGEST, range), { code: 'RANGE_INVALID' });
      }
    });

    it('does not know a blob that is not there', async () => {
      const { blobs } = await setup();
      assert.equal(await blobs.stat('lib/a', ABSENT), undefined);
      await assert.rejects(blobs.open('lib/a', ABSENT), { code: 'BLOB_UNKNOWN' });
      assert.equal(await blobs.delete('lib/a', ABSENT), false);
    });

    it('a repository does not see another repository’s blobs', async () => {
      const { driver, blobs } = await setup();
      await putBlobContent(driver, cachesOf(driver), 'team/a', CONTENT, DIGEST);
      assert.equal(await blobs.stat('team/b', DIGEST), undefined);
      assert.equal(await blobs.stat('team', DIGEST), undefined);
      assert.equal(await blobs.stat('team/a/sub', DIGEST), undefined);
      await assert.rejects(blobs.open('team/b', DIGEST), { code: 'BLOB_UNKNOWN' });
      assert.equal(await blobs.delete('team/b', DIGEST), false);
      assert.ok(await blobs.stat('team/a', DIGEST));
    });

    it('a link without data, or with other content, is not a blob', async () => {
      const { driver, blobs } = await setup();
      await driver.putContent(layerLinkPath('lib/a', DIGEST), Buffer.from(DIGEST));
      assert.equal(await blobs.stat('lib/a', DIGEST), undefined);
      await assert.rejects(blobs.open('lib/a', DIGEST), { code: 'BLOB_UNKNOWN' });
      await driver.putContent(blobDataPath(DIGEST), CONTENT);
      assert.ok(await blobs.stat('lib/a', DIGEST));
      // Links are remembered by the process that read or wrote them (link-cache.ts): a link
      // changed behind its back is seen by a process started afterwards.
      await driver.putContent(layerLinkPath('lib/a', DIGEST), Buffer.from(ABSENT));
      const restarted = createBlobStore(driver, createStoreCaches(driver));
      assert.equal(await restarted.stat('lib/a', DIGEST), undefined);
    });

    it('counts a manifest of the repository as its blob, through the revision link alone', async () => {
      const { driver, blobs } = await setup();
      const config = Buffer.from('{}');
      await putBlobContent(driver, cachesOf(driver), 'lib/a', config, digestOf(config));
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(config), size: 2 },
          layers: [],
        }),
      );
      const digest = digestOf(manifest);
      await createManifestStore(driver, cachesOf(driver)).put(
        'lib/a',
        'v1',
        manifest,
        MediaTypes.ociManifest,
      );
      await assert.rejects(driver.stat(layerLinkPath('lib/a', digest)), {
        code: 'NV2_ERR_STORAGE_NOT_FOUND',
      });
      assert.deepEqual(await blobs.stat('lib/a', digest), { digest, size: manifest.length });
      assert.deepEqual(await readAll(await blobs.open('lib/a', digest)), manifest);
      // Seen the same way by a process started later, and by no other repository.
      const restarted = createBlobStore(driver, createStoreCaches(driver));
      assert.deepEqual(await restarted.stat('lib/a', digest), { digest, size: manifest.length });
      assert.equal(await restarted.stat('lib/b', digest), undefined);
      // Mountable like any blob of the repository.
      assert.ok(await blobs.mount('lib/b', digest, 'lib/a'));
      assert.ok(await restarted.stat('lib/b', digest));
    });

    it('mounts a blob from a repository that has it', async () => {
      const { driver, blobs } = await setup();
      await putBlobContent(driver, cachesOf(driver), 'lib/src', CONTENT, DIGEST);
      assert.deepEqual(await blobs.mount('lib/dst', DIGEST, 'lib/src'), {
        digest: DIGEST,
        size: CONTENT.length,
      });
      assert.deepEqual(await blobs.stat('lib/dst', DIGEST), {
        digest: DIGEST,
        size: CONTENT.length,
      });
      assert.deepEqual(await readAll(await blobs.open('lib/dst', DIGEST)), CONTENT);
      // Mounting into itself is a no-op that still reports the blob.
      assert.ok(await blobs.mount('lib/src', DIGEST, 'lib/src'));
    });

    it('does not mount a blob the source repository lacks', async () => {
      const { driver, blobs } = await setup();
      await putBlobContent(driver, cachesOf(driver), 'lib/other', CONTENT, DIGEST);
      // The bytes exist in the registry, but not in `lib/src`: no mount, no link.
      assert.equal(await blobs.mount('lib/dst', DIGEST, 'lib/src'), undefined);
      assert.equal(await blobs.stat('lib/dst', DIGEST), undefined);
      assert.equal(await blobs.mount('lib/dst', ABSENT, 'lib/other'), undefined);
    });

    it('delete unlinks from one repository only and keeps the bytes', async () => {
      const { driver, blobs } = await setup();
      await putBlobContent(driver, cachesOf(driver), 'lib/a', CONTENT, DIGEST);
      await blobs.mount('lib/b', DIGEST, 'lib/a');
      assert.equal(await blobs.delete('lib/a', DIGEST), true);
      assert.equal(await blobs.delete('lib/a', DIGEST), false);
      assert.equal(await blobs.stat('lib/a', DIGEST), undefined);
      assert.ok(await blobs.stat('lib/b', DIGEST));
      assert.deepEqual(await driver.getContent(blobDataPath(DIGEST)), CONTENT);
    });

    it('concurrent deletes of one link: exactly one reports it', async () => {
      const { driver, blobs } = await setup();
      await putBlobContent(driver, cachesOf(driver), 'lib/a', CONTENT, DIGEST);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => blobs.delete('lib/a', DIGEST)),
      );
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('putBlobContent verifies the digest and stores nothing on mismatch', async () => {
      const { driver, blobs } = await setup();
      await assert.rejects(putBlobContent(driver, cachesOf(driver), 'lib/a', CONTENT, ABSENT), {
        code: 'DIGEST_INVALID',
      });
      assert.equal(await blobs.stat('lib/a', ABSENT), undefined);
      await assert.rejects(driver.stat(blobDataPath(ABSENT)), {
        code: 'NV2_ERR_STORAGE_NOT_FOUND',
      });
    });

    it('putBlobContent is idempotent and safe concurrently', async () => {
      const { driver, blobs } = await setup();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          putBlobContent(driver, cachesOf(driver), `lib/r${i % 3}`, CONTENT, DIGEST),
        ),
      );
      for (const result of results)
        assert.deepEqual(result, { digest: DIGEST, size: CONTENT.length });
      for (const repo of ['lib/r0', 'lib/r1', 'lib/r2']) {
        assert.deepEqual(await readAll(await blobs.open(repo, DIGEST)), CONTENT);
      }
    });

    it('stores sha512 and empty blobs', async () => {
      const { driver, blobs } = await setup();
      const sha512 = digestOf(CONTENT, 'sha512');
      await putBlobContent(driver, cachesOf(driver), 'lib/a', CONTENT, sha512);
      assert.deepEqual(await blobs.stat('lib/a', sha512), { digest: sha512, size: CONTENT.length });
      assert.equal(await blobs.stat('lib/a', DIGEST), undefined);
      assert.deepEqual(await readAll(await blobs.open('lib/a', sha512)), CONTENT);
      const empty: Digest = digestOf(new Uint8Array(0));
      await putBlobContent(driver, cachesOf(driver), 'lib/a', new Uint8Array(0), empty);
      assert.deepEqual(await blobs.stat('lib/a', empty), { digest: empty, size: 0 });
      assert.equal((await readAll(await blobs.open('lib/a', empty))).length, 0);
    });
  });
}
