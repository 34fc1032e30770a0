import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Descriptor } from '../../../../src/oci/index.js';
import { MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { putBlobContent } from '../../../../src/registry/storage/blobs.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { createManifestStore } from '../../../../src/registry/storage/manifests.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import { referrerEntryPath, referrersPath } from '../../../../src/registry/storage/paths.js';
import { createReferrersIndex } from '../../../../src/registry/storage/referrers.js';
import type { ManifestStore, ReferrersIndex } from '../../../../src/registry/storage/store.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { cachesOf } from '../../../helpers/store-caches.js';

const DRIVERS: readonly [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  ['filesystem', async () => createFilesystemDriver({ root: await tempDir() })],
];

const REPO = 'lib/app';
const SBOM_TYPE = 'application/vnd.example.sbom.v1';
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const describeFor = (content: Buffer, mediaType: string): Descriptor => ({
  mediaType,
  digest: digestOf(content),
  size: content.length,
});

for (const [driverName, makeDriver] of DRIVERS) {
  describe(`referrers index (${driverName} driver)`, () => {
    async function setup(): Promise<{
      driver: StorageDriver;
      manifests: ManifestStore;
      referrers: ReferrersIndex;
      empty: Descriptor;
      imageConfig: Descriptor;
      image: Buffer;
      subject: Descriptor;
    }> {
      const driver = await makeDriver();
      const emptyBytes = Buffer.from('{}');
      await putBlobContent(driver, cachesOf(driver), REPO, emptyBytes, digestOf(emptyBytes));
      const configBytes = Buffer.from('{"os":"linux"}');
      await putBlobContent(driver, cachesOf(driver), REPO, configBytes, digestOf(configBytes));
      const empty = describeFor(emptyBytes, MediaTypes.ociEmpty);
      const imageConfig = describeFor(configBytes, CONFIG_TYPE);
      const image = json({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: imageConfig,
        layers: [],
      });
      return {
        driver,
        manifests: createManifestStore(driver, cachesOf(driver)),
        referrers: createReferrersIndex(driver, cachesOf(driver)),
        empty,
        imageConfig,
        image,
        subject: describeFor(image, MediaTypes.ociManifest),
      };
    }

    /** An artifact manifest about `subject`. */
    function artifact(
      subject: Descriptor,
      config: Descriptor,
      fields: Record<string, unknown> = {},
    ): Buffer {
      return json({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config,
        layers: [],
        subject,
        ...fields,
      });
    }

    async function push(
      manifests: ManifestStore,
      content: Buffer,
      type: string = MediaTypes.ociManifest,
    ) {
      return manifests.put(REPO, digestOf(content), content, type);
    }

    it('lists nothing for a subject without referrers', async () => {
      const { referrers, subject } = await setup();
      assert.deepEqual(await referrers.list(REPO, subject.digest), []);
      assert.deepEqual(await referrers.list('lib/nope', subject.digest), []);
    });

    it('lists referrers pushed before their subject exists, and after', async () => {
      const { manifests, referrers, empty, image, subject } = await setup();
      const signature = artifact(subject, empty, { artifactType: MediaTypes.nv2ArtifactType });
      await push(manifests, signature);
      const expected = [
        {
          ...describeFor(signature, MediaTypes.ociManifest),
          artifactType: MediaTypes.nv2ArtifactType,
        },
      ];
      assert.deepEqual(await referrers.list(REPO, subject.digest), expected);
      await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
      assert.deepEqual(await referrers.list(REPO, subject.digest), expected);
    });

    it('filters by artifactType', async () => {
      const { manifests, referrers, empty, subject } = await setup();
      const signature = artifact(subject, empty, { artifactType: MediaTypes.nv2ArtifactType });
      const sbom = artifact(subject, empty, { artifactType: SBOM_TYPE });
      await push(manifests, signature);
      await push(manifests, sbom);
      assert.equal((await referrers.list(REPO, subject.digest)).length, 2);
      const signatures = await referrers.list(REPO, subject.digest, {
        artifactType: MediaTypes.nv2ArtifactType,
      });
      assert.deepEqual(
        signatures.map((d) => d.digest),
        [digestOf(signature)],
      );
      assert.deepEqual(
        (await referrers.list(REPO, subject.digest, { artifactType: SBOM_TYPE })).map(
          (d) => d.digest,
        ),
        [digestOf(sbom)],
      );
      assert.deepEqual(
        await referrers.list(REPO, subject.digest, { artifactType: 'application/x-none' }),
        [],
      );
    });

    it('types a manifest without artifactType by its config media type', async () => {
      const { manifests, referrers, imageConfig, subject } = await setup();
      const referrer = artifact(subject, imageConfig);
      await push(manifests, referrer);
      const [entry] = await referrers.list(REPO, subject.digest);
      assert.equal(entry?.artifactType, CONFIG_TYPE);
      assert.equal(
        (await referrers.list(REPO, subject.digest, { artifactType: CONFIG_TYPE })).length,
        1,
      );
    });

    it('types an index by its artifactType only', async () => {
      const { manifests, referrers, image, subject } = await setup();
      await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
      const untyped = json({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [],
        subject,
        annotations: { note: 'untyped' },
      });
      const typed = json({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        artifactType: SBOM_TYPE,
        manifests: [subject],
        subject,
      });
      await push(manifests, untyped, MediaTypes.ociIndex);
      await push(manifests, typed, MediaTypes.ociIndex);
      const byDigest = new Map(
        (await referrers.list(REPO, subject.digest)).map((d) => [d.digest, d]),
      );
      assert.deepEqual(byDigest.get(digestOf(untyped)), {
        ...describeFor(untyped, MediaTypes.ociIndex),
        annotations: { note: 'untyped' },
      });
      assert.deepEqual(byDigest.get(digestOf(typed)), {
        ...describeFor(typed, MediaTypes.ociIndex),
        artifactType: SBOM_TYPE,
      });
    });

    it('copies the manifest annotations into the descriptor', async () => {
      const { manifests, referrers, empty, subject } = await setup();
      const annotations = { 'org.opencontainers.image.created': '2026-11-23T10:00:00Z', x: 'y' };
      await push(manifests, artifact(subject, empty, { artifactType: SBOM_TYPE, annotations }));
      const [entry] = await referrers.list(REPO, subject.digest);
      assert.deepEqual(entry?.annotations, annotations);
    });

    it('lists in a stable order (by referrer digest)', async () => {
      const { manifests, referrers, empty, subject } = await setup();
      const pushed = Array.from({ length: 5 }, (_, i) =>
        artifact(subject, empty, { artifactType: SBOM_TYPE, annotations: { i: String(i) } }),
      );
      for (const m of pushed) await push(manifests, m);
      const listed = (await referrers.list(REPO, subject.digest)).map((d) => d.digest);
      assert.deepEqual(listed, pushed.map((m) => digestOf(m)).sort());
      assert.deepEqual(
        (await referrers.list(REPO, subject.digest)).map((d) => d.digest),
        listed,
      );
    });

    it('drops the entry when the referrer is deleted', async () => {
      const { manifests, referrers, empty, subject } = await setup();
      const signature = artifact(subject, empty, { artifactType: MediaTypes.nv2ArtifactType });
      const sbom = artifact(subject, empty, { artifactType: SBOM_TYPE });
      await push(manifests, signature);
      await push(manifests, sbom);
      assert.equal(await manifests.delete(REPO, digestOf(signature)), true);
      assert.deepEqual(
        (await referrers.list(REPO, subject.digest)).map((d) => d.digest),
        [digestOf(sbom)],
      );
    });

    it('keeps referrers per repository', async () => {
      const { manifests, referrers, empty, subject } = await setup();
      await push(manifests, artifact(subject, empty, { artifactType: SBOM_TYPE }));
      assert.deepEqual(await referrers.list('lib/other', subject.digest), []);
    });

    it('reads each valid entry once, and forgets entries when a manifest is deleted', async () => {
      const { driver, empty, subject } = await setup();
      const reads: string[] = [];
      const counting = Object.create(driver) as StorageDriver;
      Object.assign(counting, {
        getContent: (path: string) => {
          reads.push(path);
          return driver.getContent(path);
        },
      });
      // Both over the same driver object: the remembered entries are per driver.
      const referrers = createReferrersIndex(counting, cachesOf(counting));
      const manifests = createManifestStore(counting, cachesOf(counting));
      const a = artifact(subject, empty, { artifactType: SBOM_TYPE });
      const b = artifact(subject, empty, { artifactType: 'application/vnd.example.sig' });
      await push(manifests, a);
      await push(manifests, b);
      reads.length = 0;
      const both = [digestOf(a), digestOf(b)].sort();
      const listed = async () => (await referrers.list(REPO, subject.digest)).map((d) => d.digest);
      assert.deepEqual((await listed()).sort(), both);
      assert.equal(reads.length, 2);
      assert.deepEqual((await listed()).sort(), both);
      assert.equal(reads.length, 2);

      // An entry written behind the index's back (a crash's orphan) is still checked.
      const orphan = describeFor(Buffer.from('never stored'), MediaTypes.ociManifest);
      await driver.putContent(
        referrerEntryPath(REPO, subject.digest, orphan.digest),
        json({ ...orphan, artifactType: SBOM_TYPE }),
      );
      assert.deepEqual((await listed()).sort(), both);
      assert.deepEqual((await listed()).sort(), both);

      assert.equal(await manifests.delete(REPO, digestOf(a)), true);
      assert.deepEqual(await listed(), [digestOf(b)]);
      await push(manifests, a);
      assert.deepEqual((await listed()).sort(), both);

      // The manifest's revision goes while its entry stays (its subject could not be read
      // when it was deleted): not listed any more.
      const entry = await driver.getContent(referrerEntryPath(REPO, subject.digest, digestOf(b)));
      assert.equal(await manifests.delete(REPO, digestOf(b)), true);
      await driver.putContent(referrerEntryPath(REPO, subject.digest, digestOf(b)), entry);
      assert.deepEqual(await listed(), [digestOf(a)]);
    });

    it('remembers a listing until a referrer is pushed or deleted', async () => {
      const { driver, empty, subject } = await setup();
      let lists = 0;
      const counting = Object.create(driver) as StorageDriver;
      Object.assign(counting, {
        list: (path: string) => {
          // The subject's directory only (a manifest delete lists tags too).
          if (path === referrersPath(REPO, subject.digest)) lists++;
          return driver.list(path);
        },
      });
      const referrers = createReferrersIndex(counting, cachesOf(counting));
      const manifests = createManifestStore(counting, cachesOf(counting));
      const a = artifact(subject, empty, { artifactType: SBOM_TYPE });
      const b = artifact(subject, empty, { artifactType: 'application/vnd.example.sig' });
      await push(manifests, a);
      const listed = async () => (await referrers.list(REPO, subject.digest)).map((d) => d.digest);
      assert.deepEqual(await listed(), [digestOf(a)]);
      assert.deepEqual(await listed(), [digestOf(a)]);
      assert.equal(lists, 1);
      await push(manifests, b);
      assert.deepEqual((await listed()).sort(), [digestOf(a), digestOf(b)].sort());
      assert.equal(lists, 2);
      assert.equal(await manifests.delete(REPO, digestOf(a)), true);
      assert.deepEqual(await listed(), [digestOf(b)]);
      assert.equal(lists, 3);
    });

    it('skips entries whose manifest is not stored, and malformed entries', async () => {
      const { driver, manifests, referrers, empty, subject } = await setup();
      const real = artifact(subject, empty, { artifactType: SBOM_TYPE });
      await push(manifests, real);
      // An entry left behind by a crash between writing it and writing the revision.
      const orphan = describeFor(Buffer.from('never stored'), MediaTypes.ociManifest);
      await driver.putContent(
        referrerEntryPath(REPO, subject.digest, orphan.digest),
        json({ ...orphan, artifactType: SBOM_TYPE }),
      );
      const junk = digestOf(Buffer.from('junk'));
      await driver.putContent(referrerEntryPath(REPO, subject.digest, junk), Buffer.from('{'));
      assert.deepEqual(
        (await referrers.list(REPO, subject.digest)).map((d) => d.digest),
        [digestOf(real)],
      );
    });
  });
}
