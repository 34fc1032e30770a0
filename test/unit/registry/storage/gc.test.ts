import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, it } from 'node:test';
import type { Descriptor, Digest } from '../../../../src/oci/index.js';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { createBlobStore, putBlobContent } from '../../../../src/registry/storage/blobs.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { collectGarbage } from '../../../../src/registry/storage/gc.js';
import { createManifestStore } from '../../../../src/registry/storage/manifests.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import { blobDataPath } from '../../../../src/registry/storage/paths.js';
import { createReferrersIndex } from '../../../../src/registry/storage/referrers.js';
import { createUploadStore } from '../../../../src/registry/storage/uploads.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { cachesOf } from '../../../helpers/store-caches.js';

const DRIVERS: readonly [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  ['filesystem', async () => createFilesystemDriver({ root: await tempDir() })],
];

const APP = 'lib/app';
const OTHER = 'lib/other';
const DAY = 24 * 60 * 60 * 1000;
const T0 = new Date('2026-01-01T00:00:00Z');
/** When the collections run: eight days after T0, so sessions started at T0 are stale. */
const NOW = (): Date => new Date(T0.getTime() + 8 * DAY);
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CONFIG = 'application/vnd.oci.image.config.v1+json';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

async function* chunks(...parts: Buffer[]): AsyncIterable<Uint8Array> {
  yield* parts;
}

/** Every file in storage with its content. */
async function snapshot(driver: StorageDriver): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  await driver.walk('/', async (info) => {
    files.set(info.path, (await driver.getContent(info.path)).toString('base64'));
  });
  return files;
}

/**
 * A registry with something of everything:
 *
 * - `lib/app`: image `tagged` (tag v1) and image `untagged`, sharing a layer; a signature of
 *   each, and a signature of each signature; an index (tag multi) whose child has no tag; a
 *   referrer of a subject that was never pushed; an unreferenced blob; a blob only `lib/other`
 *   references; a stale and a fresh upload session.
 * - `lib/other`: an image (tag v1) using that blob.
 */
async function populate(driver: StorageDriver) {
  const manifests = createManifestStore(driver, cachesOf(driver));
  const blob = async (repo: string, content: string, mediaType = LAYER): Promise<Descriptor> => {
    const bytes = Buffer.from(content);
    await putBlobContent(driver, cachesOf(driver), repo, bytes, digestOf(bytes));
    return { mediaType, digest: digestOf(bytes), size: bytes.length };
  };
  const push = async (
    repo: string,
    reference: string | undefined,
    fields: Record<string, unknown>,
    mediaType: string = MediaTypes.ociManifest,
  ): Promise<Descriptor> => {
    const content = json({ schemaVersion: 2, mediaType, ...fields });
    const stored = await manifests.put(repo, reference ?? digestOf(content), content, mediaType);
    return stored.descriptor;
  };

  const empty = await blob(APP, '{}', MediaTypes.ociEmpty);
  const shared = await blob(APP, 'shared layer');
  const taggedConfig = await blob(APP, '{"image":"tagged"}', CONFIG);
  const taggedLayer = await blob(APP, 'tagged layer');
  const untaggedConfig = await blob(APP, '{"image":"untagged"}', CONFIG);
  const untaggedLayer = await blob(APP, 'untagged layer');
  const childConfig = await blob(APP, '{"image":"child"}', CONFIG);
  const sigBlobs = await Promise.all(
    ['sig tagged', 'sig of sig tagged', 'sig untagged', 'sig of sig untagged', 'dangling'].map(
      (s) => blob(APP, s),
    ),
  );
  const orphan = await blob(APP, 'an orphan blob nobody references');
  const otherLayer = await blob(OTHER, 'layer of other');
  await putBlobContent(
    driver,
    cachesOf(driver),
    APP,
    Buffer.from('layer of other'),
    otherLayer.digest,
  );

  const tagged = await push(APP, 'v1', { config: taggedConfig, layers: [taggedLayer, shared] });
  const untagged = await push(APP, undefined, {
    config: untaggedConfig,
    layers: [untaggedLayer, shared],
  });
  const signature = (subject: Descriptor, layer: Descriptor) =>
    push(APP, undefined, {
      artifactType: MediaTypes.nv2ArtifactType,
      config: empty,
      layers: [layer],
      subject,
    });
  const sigTagged = await signature(tagged, sigBlobs[0]!);
  const sigSigTagged = await signature(sigTagged, sigBlobs[1]!);
  const sigUntagged = await signature(untagged, sigBlobs[2]!);
  const sigSigUntagged = await signature(sigUntagged, sigBlobs[3]!);
  const never: Descriptor = {
    mediaType: MediaTypes.ociManifest,
    digest: digestOf(Buffer.from('never pushed')),
    size: 12,
  };
  const dangling = await signature(never, sigBlobs[4]!);
  const child = await push(APP, undefined, { config: childConfig, layers: [shared] });
  const index = await push(APP, 'multi', { manifests: [child] }, MediaTypes.ociIndex);
  await putBlobContent(driver, cachesOf(driver), OTHER, Buffer.from('{}'), empty.digest);
  const otherImage = await push(OTHER, 'v1', { config: empty, layers: [otherLayer] });

  const staleUploads = createUploadStore(driver, cachesOf(driver), { now: () => T0 });
  const stale = await staleUploads.start(APP);
  await staleUploads.append(APP, stale.id, chunks(Buffer.from('half a layer')));
  const freshUploads = createUploadStore(driver, cachesOf(driver), {
    now: () => new Date(NOW().getTime() - DAY),
  });
  const fresh = await freshUploads.start(APP);

  return {
    manifests,
    blobs: { empty, shared, taggedLayer, untaggedConfig, untaggedLayer, sigBlobs, orphan },
    otherLayer,
    tagged,
    untagged,
    sigTagged,
    sigSigTagged,
    sigUntagged,
    sigSigUntagged,
    never,
    dangling,
    child,
    index,
    otherImage,
    uploads: { stale, fresh },
  };
}

async function hasBlobData(driver: StorageDriver, digest: Digest): Promise<boolean> {
  return driver.stat(blobDataPath(digest)).then(
    () => true,
    () => false,
  );
}

for (const [driverName, makeDriver] of DRIVERS) {
  describe(`garbage collection (${driverName} driver)`, () => {
    it('sweeps unreferenced blobs and stale uploads, keeping every manifest by default', async () => {
      const driver = await makeDriver();
      const s = await populate(driver);
      const report = await collectGarbage(driver, { caches: cachesOf(driver), now: NOW });

      assert.equal(report.dryRun, false);
      assert.equal(report.repositories, 2);
      assert.equal(report.manifestsDeleted, 0);
      assert.deepEqual(report.deletedBlobs, [s.blobs.orphan.digest]);
      assert.equal(report.blobsDeleted, 1);
      assert.equal(report.blobLinksDeleted, 1);
      assert.equal(report.blobBytesFreed, s.blobs.orphan.size);
      assert.equal(report.uploadsDeleted, 1);
      assert.equal(report.uploadBytesFreed, 'half a layer'.length);
      assert.equal(report.bytesFreed, s.blobs.orphan.size + 'half a layer'.length);
      assert.equal(report.referrerEntriesDeleted, 0);

      assert.equal(await hasBlobData(driver, s.blobs.orphan.digest), false);
      const blobs = createBlobStore(driver, cachesOf(driver));
      assert.equal(await blobs.stat(APP, s.blobs.orphan.digest), undefined);
      // A blob only another repository's manifest uses stays, and so does this link to it.
      assert.ok(await blobs.stat(APP, s.otherLayer.digest));
      for (const d of [s.tagged, s.untagged, s.sigUntagged, s.dangling, s.child, s.index]) {
        assert.ok(await s.manifests.get(APP, d.digest), d.digest);
      }
      const uploads = createUploadStore(driver, cachesOf(driver));
      assert.equal(await uploads.get(APP, s.uploads.stale.id), undefined);
      assert.ok(await uploads.get(APP, s.uploads.fresh.id));
    });

    it('changes nothing in a dry run, and reports what a real run removes', async () => {
      const driver = await makeDriver();
      await populate(driver);
      for (const deleteUntagged of [false, true]) {
        const before = await snapshot(driver);
        const dry = await collectGarbage(driver, {
          caches: cachesOf(driver),
          dryRun: true,
          deleteUntagged,
          now: NOW,
        });
        assert.equal(dry.dryRun, true);
        assert.ok(dry.blobsDeleted > 0);
        assert.deepEqual(await snapshot(driver), before);
        if (deleteUntagged) {
          const real = await collectGarbage(driver, {
            caches: cachesOf(driver),
            deleteUntagged,
            now: NOW,
          });
          assert.deepEqual({ ...real, dryRun: true }, dry);
        }
      }
    });

    it('removes untagged manifests except referrers of live ones, to a fixed point', async () => {
      const driver = await makeDriver();
      const s = await populate(driver);
      const report = await collectGarbage(driver, {
        caches: cachesOf(driver),
        deleteUntagged: true,
        now: NOW,
      });

      const gone = [s.untagged, s.sigUntagged, s.sigSigUntagged, s.dangling];
      assert.deepEqual(
        report.deletedManifests.map((m) => m.digest).sort(),
        gone.map((d) => d.digest).sort(),
      );
      assert.ok(report.deletedManifests.every((m) => m.repository === APP));
      for (const d of gone) assert.equal(await s.manifests.get(APP, d.digest), undefined);
      // Tagged, referrers of tagged (and theirs), an index and its untagged child stay.
      for (const d of [s.tagged, s.sigTagged, s.sigSigTagged, s.index, s.child]) {
        assert.ok(await s.manifests.get(APP, d.digest), d.digest);
      }
      assert.ok(await s.manifests.get(OTHER, 'v1'));

      // Their blobs went with them: bytes, configs, layers; shared ones stayed.
      const expectedBlobs = [
        s.blobs.orphan,
        s.blobs.untaggedConfig,
        s.blobs.untaggedLayer,
        s.blobs.sigBlobs[2]!,
        s.blobs.sigBlobs[3]!,
        s.blobs.sigBlobs[4]!,
        ...gone,
      ];
      assert.deepEqual([...report.deletedBlobs].sort(), expectedBlobs.map((d) => d.digest).sort());
      assert.equal(
        report.blobBytesFreed,
        expectedBlobs.reduce((sum, d) => sum + d.size, 0),
      );
      for (const d of expectedBlobs) assert.equal(await hasBlobData(driver, d.digest), false);
      for (const d of [s.blobs.shared, s.blobs.taggedLayer, s.blobs.empty, s.blobs.sigBlobs[0]!]) {
        assert.equal(await hasBlobData(driver, d.digest), true);
      }

      // The referrers index follows.
      const referrers = createReferrersIndex(driver, cachesOf(driver));
      const listed = async (subject: Descriptor) =>
        (await referrers.list(APP, subject.digest)).map((d) => d.digest);
      assert.deepEqual(await listed(s.tagged), [s.sigTagged.digest]);
      assert.deepEqual(await listed(s.sigTagged), [s.sigSigTagged.digest]);
      assert.deepEqual(await listed(s.untagged), []);
      assert.deepEqual(await listed(s.never), []);
      assert.equal(report.referrerEntriesDeleted, 3);

      // A second run finds nothing more to do.
      const again = await collectGarbage(driver, {
        caches: cachesOf(driver),
        deleteUntagged: true,
        now: NOW,
      });
      assert.equal(again.manifestsDeleted, 0);
      assert.equal(again.blobsDeleted, 0);
      assert.equal(again.blobLinksDeleted, 0);
      assert.equal(again.referrerEntriesDeleted, 0);
    });

    it('removes links whose blob data is gone', async () => {
      const driver = await makeDriver();
      const bytes = Buffer.from('lost bytes');
      const digest = digestOf(bytes);
      await putBlobContent(driver, cachesOf(driver), APP, bytes, digest);
      await driver.delete(posix.dirname(blobDataPath(digest)));
      const report = await collectGarbage(driver, { caches: cachesOf(driver), now: NOW });
      assert.equal(report.blobLinksDeleted, 1);
      assert.equal(report.blobsDeleted, 0);
      assert.equal(await createBlobStore(driver, cachesOf(driver)).delete(APP, digest), false);
    });

    it('stops before deleting anything when a manifest cannot be read', async () => {
      const driver = await makeDriver();
      const s = await populate(driver);
      await driver.putContent(blobDataPath(s.tagged.digest), Buffer.from('not json'));
      await assert.rejects(
        collectGarbage(driver, { caches: cachesOf(driver), now: NOW }),
        (err: unknown) => {
          assert.equal((err as { code?: unknown }).code, 'NV2_ERR_STORAGE_IO');
          return true;
        },
      );
      assert.equal(await hasBlobData(driver, s.blobs.orphan.digest), true);
      assert.ok(await createUploadStore(driver, cachesOf(driver)).get(APP, s.uploads.stale.id));
    });

    it('does nothing on empty storage', async () => {
      const report = await collectGarbage(await makeDriver(), { deleteUntagged: true });
      assert.equal(report.repositories, 0);
      assert.equal(report.blobs, 0);
      assert.equal(report.bytesFreed, 0);
    });
  });
}
