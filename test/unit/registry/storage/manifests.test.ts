import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Descriptor } from '../../../../src/oci/index.js';
import { MAX_MANIFEST_BYTES, MediaTypes, digestOf } from '../../../../src/oci/index.js';
import { putBlobContent } from '../../../../src/registry/storage/blobs.js';
import type { StorageDriver } from '../../../../src/registry/storage/driver.js';
import { createFilesystemDriver } from '../../../../src/registry/storage/filesystem.js';
import { createManifestStore } from '../../../../src/registry/storage/manifests.js';
import { createMemoryDriver } from '../../../../src/registry/storage/memory.js';
import {
  blobDataPath,
  manifestRevisionLinkPath,
  referrersPath,
  tagCurrentLinkPath,
} from '../../../../src/registry/storage/paths.js';
import { createReferrersIndex } from '../../../../src/registry/storage/referrers.js';
import type { ManifestStore } from '../../../../src/registry/storage/store.js';
import { createTagStore } from '../../../../src/registry/storage/tags.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { cachesOf } from '../../../helpers/store-caches.js';
import { createStoreCaches } from '../../../../src/registry/storage/caches.js';

const DRIVERS: readonly [string, () => Promise<StorageDriver>][] = [
  ['memory', async () => createMemoryDriver()],
  ['filesystem', async () => createFilesystemDriver({ root: await tempDir() })],
];

const REPO = 'lib/app';
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_CONFIG_TYPE = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Stores `content` as a blob of `repo` and describes it. */
async function blob(
  driver: StorageDriver,
  content: string,
  mediaType = LAYER_TYPE,
  repo = REPO,
): Promise<Descriptor> {
  const bytes = Buffer.from(content);
  const digest = digestOf(bytes);
  await putBlobContent(driver, cachesOf(driver), repo, bytes, digest);
  return { mediaType, digest, size: bytes.length };
}

/** A descriptor of bytes that were never pushed. */
function absent(content: string, mediaType = LAYER_TYPE): Descriptor {
  const bytes = Buffer.from(content);
  return { mediaType, digest: digestOf(bytes), size: bytes.length };
}

function describeFor(manifest: Buffer, mediaType: string): Descriptor {
  return { mediaType, digest: digestOf(manifest), size: manifest.length };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code);
    return true;
  });
}

for (const [driverName, makeDriver] of DRIVERS) {
  describe(`manifest store (${driverName} driver)`, () => {
    async function setup(): Promise<{
      driver: StorageDriver;
      manifests: ManifestStore;
      config: Descriptor;
      layer: Descriptor;
      image: Buffer;
    }> {
      const driver = await makeDriver();
      const config = await blob(driver, '{"architecture":"amd64"}', CONFIG_TYPE);
      const layer = await blob(driver, 'layer bytes');
      const image = json({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config,
        layers: [layer],
      });
      return {
        driver,
        manifests: createManifestStore(driver, cachesOf(driver)),
        config,
        layer,
        image,
      };
    }

    describe('put and get', () => {
      it('stores an OCI manifest under a tag and serves it by tag and by digest', async () => {
        const { manifests, image } = await setup();
        const stored = await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
        const expected = describeFor(image, MediaTypes.ociManifest);
        assert.deepEqual(stored.descriptor, expected);
        assert.equal(stored.subject, undefined);
        for (const reference of ['v1', expected.digest]) {
          const got = await manifests.get(REPO, reference);
          assert.ok(got !== undefined);
          assert.deepEqual(got.content, image);
          assert.deepEqual(got.descriptor, expected);
          assert.deepEqual(await manifests.stat(REPO, reference), expected);
        }
      });

      it('stores the bytes exactly as pushed: odd whitespace, key order, escapes', async () => {
        const { driver, manifests, config, layer } = await setup();
        const text =
          '{\n\t"layers" :[ ' +
          JSON.stringify(layer) +
          ' ],   "schemaVersion":2,\r\n "config":' +
          JSON.stringify(config) +
          ',"mediaType":"application\\/vnd.oci.image.manifest.v1+json" ,' +
          '"annotations":{"k":"caf\\u00e9"}}\n\n';
        const bytes = Buffer.from(text);
        const stored = await manifests.put(REPO, 'odd', bytes, MediaTypes.ociManifest);
        assert.equal(stored.descriptor.digest, digestOf(bytes));
        assert.equal(stored.descriptor.size, bytes.length);
        assert.deepEqual(stored.descriptor.annotations, { k: 'café' });
        assert.deepEqual((await manifests.get(REPO, 'odd'))?.content, bytes);
        assert.deepEqual(await driver.getContent(blobDataPath(digestOf(bytes))), bytes);
      });

      it('accepts a push by digest without creating a tag', async () => {
        const { driver, manifests, image } = await setup();
        const digest = digestOf(image);
        const stored = await manifests.put(REPO, digest, image, MediaTypes.ociManifest);
        assert.equal(stored.descriptor.digest, digest);
        assert.deepEqual((await createTagStore(driver, cachesOf(driver)).list(REPO)).tags, []);
        assert.deepEqual((await manifests.get(REPO, digest))?.content, image);
      });

      it('accepts a push by sha512 digest and stores the manifest under it', async () => {
        const { manifests, image } = await setup();
        const digest = digestOf(image, 'sha512');
        const stored = await manifests.put(REPO, digest, image, MediaTypes.ociManifest);
        assert.equal(stored.descriptor.digest, digest);
        assert.deepEqual((await manifests.get(REPO, digest))?.content, image);
        assert.equal(await manifests.get(REPO, digestOf(image)), undefined);
      });

      it('stores Docker schema 2 manifests and manifest lists', async () => {
        const { driver, manifests } = await setup();
        const config = await blob(driver, '{"os":"linux"}', DOCKER_CONFIG_TYPE);
        const layer = await blob(driver, 'docker layer', DOCKER_LAYER_TYPE);
        const image = json({
          schemaVersion: 2,
          mediaType: MediaTypes.dockerManifest,
          config,
          layers: [layer],
        });
        const stored = await manifests.put(REPO, 'docker', image, MediaTypes.dockerManifest);
        assert.equal(stored.descriptor.mediaType, MediaTypes.dockerManifest);
        const list = json({
          schemaVersion: 2,
          mediaType: MediaTypes.dockerManifestList,
          manifests: [
            {
              ...describeFor(image, MediaTypes.dockerManifest),
              platform: { architecture: 'amd64', os: 'linux' },
            },
          ],
        });
        const storedList = await manifests.put(REPO, 'list', list, MediaTypes.dockerManifestList);
        assert.equal(storedList.descriptor.mediaType, MediaTypes.dockerManifestList);
        assert.equal(
          (await manifests.stat(REPO, 'list'))?.mediaType,
          MediaTypes.dockerManifestList,
        );
      });

      it('stores an OCI index whose children are in the repository', async () => {
        const { manifests, image } = await setup();
        await manifests.put(REPO, digestOf(image), image, MediaTypes.ociManifest);
        const index = json({
          schemaVersion: 2,
          mediaType: MediaTypes.ociIndex,
          manifests: [describeFor(image, MediaTypes.ociManifest)],
        });
        const stored = await manifests.put(REPO, 'multi', index, MediaTypes.ociIndex);
        assert.equal(stored.descriptor.mediaType, MediaTypes.ociIndex);
      });

      it('takes the media type from the mediaType field for a generic Content-Type', async () => {
        const { manifests, image } = await setup();
        for (const contentType of ['', 'application/json', 'application/octet-stream']) {
          const stored = await manifests.put(REPO, 'generic', image, contentType);
          assert.equal(stored.descriptor.mediaType, MediaTypes.ociManifest);
        }
      });

      it('ignores Content-Type parameters and case', async () => {
        const { manifests, image } = await setup();
        const stored = await manifests.put(
          REPO,
          'v1',
          image,
          'Application/VND.oci.image.manifest.v1+json; charset=utf-8',
        );
        assert.equal(stored.descriptor.mediaType, MediaTypes.ociManifest);
      });

      it('reads OCI manifests and indexes without a mediaType field back with their type', async () => {
        const { manifests, config, layer } = await setup();
        const image = json({ schemaVersion: 2, config, layers: [layer] });
        await manifests.put(REPO, 'bare', image, MediaTypes.ociManifest);
        assert.equal((await manifests.stat(REPO, 'bare'))?.mediaType, MediaTypes.ociManifest);
        const index = json({
          schemaVersion: 2,
          manifests: [describeFor(image, MediaTypes.ociManifest)],
        });
        await manifests.put(REPO, 'bare-index', index, MediaTypes.ociIndex);
        assert.equal((await manifests.stat(REPO, 'bare-index'))?.mediaType, MediaTypes.ociIndex);
      });

      it('accepts an image manifest with no layers (image-spec: layers SHOULD, not MUST, be non-empty)', async () => {
        const { driver, manifests } = await setup();
        const empty = await blob(driver, '{}', MediaTypes.ociEmpty);
        const artifact = json({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          artifactType: 'application/vnd.example.thing',
          config: empty,
          layers: [],
        });
        const stored = await manifests.put(REPO, 'artifact', artifact, MediaTypes.ociManifest);
        assert.equal(stored.descriptor.artifactType, 'application/vnd.example.thing');
      });

      it('does not require foreign layers that give urls', async () => {
        const { manifests, config } = await setup();
        const foreign = {
          ...absent(
            'windows base layer',
            'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          ),
          urls: ['https://example.com/layer'],
        };
        const image = json({
          schemaVersion: 2,
          mediaType: MediaTypes.dockerManifest,
          config: { ...config, mediaType: DOCKER_CONFIG_TYPE },
          layers: [foreign],
        });
        await manifests.put(REPO, 'win', image, MediaTypes.dockerManifest);
      });

      it('moves a tag to the last manifest pushed to it', async () => {
        const { driver, manifests, image, config } = await setup();
        const other = json({ schemaVersion: 2, config, layers: [] });
        await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
        await manifests.put(REPO, 'v1', other, MediaTypes.ociManifest);
        assert.equal(
          await createTagStore(driver, cachesOf(driver)).resolve(REPO, 'v1'),
          digestOf(other),
        );
        assert.deepEqual((await manifests.get(REPO, 'v1'))?.content, other);
        // The first manifest is still stored, by digest.
        assert.deepEqual((await manifests.get(REPO, digestOf(image)))?.content, image);
      });

      it('returns undefined for unknown tags, digests, and manifests of other repositories', async () => {
        const { manifests, image } = await setup();
        await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
        assert.equal(await manifests.get(REPO, 'nope'), undefined);
        assert.equal(await manifests.stat(REPO, digestOf(Buffer.from('x'))), undefined);
        assert.equal(await manifests.get('lib/other', 'v1'), undefined);
        assert.equal(await manifests.get('lib/other', digestOf(image)), undefined);
        assert.equal(await manifests.get(REPO, 'not a reference!'), undefined);
      });

      it('is safe under concurrent pushes of the same manifest and to the same tag', async () => {
        const { driver, manifests, config } = await setup();
        const variants = Array.from({ length: 8 }, (_, i) =>
          json({ schemaVersion: 2, config, layers: [], annotations: { n: String(i) } }),
        );
        await Promise.all([
          ...variants.map((m) => manifests.put(REPO, 'race', m, MediaTypes.ociManifest)),
          ...variants.map((m) => manifests.put(REPO, 'race', m, MediaTypes.ociManifest)),
        ]);
        const winner = await createTagStore(driver, cachesOf(driver)).resolve(REPO, 'race');
        assert.ok(variants.some((m) => digestOf(m) === winner));
        for (const m of variants) {
          assert.deepEqual((await manifests.get(REPO, digestOf(m)))?.content, m);
        }
      });
    });

    describe('put validation', () => {
      it('refuses a manifest over 4 MiB with SIZE_INVALID', async () => {
        const { manifests } = await setup();
        const big = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
        await rejectsWith(manifests.put(REPO, 'big', big, MediaTypes.ociManifest), 'SIZE_INVALID');
      });

      it('honours a configured size limit', async () => {
        const { driver, image } = await setup();
        const small = createManifestStore(driver, cachesOf(driver), {
          maxManifestBytes: image.length - 1,
        });
        await rejectsWith(small.put(REPO, 'v1', image, MediaTypes.ociManifest), 'SIZE_INVALID');
        const exact = createManifestStore(driver, cachesOf(driver), {
          maxManifestBytes: image.length,
        });
        await exact.put(REPO, 'v1', image, MediaTypes.ociManifest);
      });

      it('refuses a digest reference that does not match the bytes with DIGEST_INVALID', async () => {
        const { manifests, image } = await setup();
        const wrong = digestOf(Buffer.from('something else'));
        await rejectsWith(
          manifests.put(REPO, wrong, image, MediaTypes.ociManifest),
          'DIGEST_INVALID',
        );
        assert.equal(await manifests.get(REPO, digestOf(image)), undefined);
      });

      it('refuses malformed references', async () => {
        const { manifests, image } = await setup();
        await rejectsWith(
          manifests.put(REPO, 'sha256:ABC', image, MediaTypes.ociManifest),
          'DIGEST_INVALID',
        );
        await rejectsWith(
          manifests.put(REPO, 'not/a tag', image, MediaTypes.ociManifest),
          'TAG_INVALID',
        );
      });

      it('refuses unknown media types, a missing one, and a mismatch with MANIFEST_INVALID', async () => {
        const { manifests, image, config, layer } = await setup();
        const untyped = json({ schemaVersion: 2, config, layers: [layer] });
        const cases: [Buffer, string][] = [
          [image, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
          [image, MediaTypes.ociIndex], // field says manifest
          [image, MediaTypes.dockerManifest],
          [untyped, 'application/json'], // neither names a type
          [untyped, ''],
          [json({ ...JSON.parse(image.toString()), mediaType: 'text/plain' }), 'application/json'],
          [json({ ...JSON.parse(image.toString()), mediaType: 7 }), MediaTypes.ociManifest],
          // Docker schema 2 requires the field.
          [
            json({
              schemaVersion: 2,
              config: { ...config, mediaType: DOCKER_CONFIG_TYPE },
              layers: [],
            }),
            MediaTypes.dockerManifest,
          ],
        ];
        for (const [content, contentType] of cases) {
          await rejectsWith(manifests.put(REPO, 'v1', content, contentType), 'MANIFEST_INVALID');
        }
      });

      it('refuses schema violations with MANIFEST_INVALID', async () => {
        const { manifests, config, layer } = await setup();
        const base = {
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config,
          layers: [layer],
        };
        const index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
        const cases: [string, Buffer, string][] = [
          ['not JSON', Buffer.from('{"schemaVersion":2,'), MediaTypes.ociManifest],
          ['a JSON array', json([base]), MediaTypes.ociManifest],
          ['a JSON string', json('manifest'), MediaTypes.ociManifest],
          ['schemaVersion 1', json({ ...base, schemaVersion: 1 }), MediaTypes.ociManifest],
          ['schemaVersion "2"', json({ ...base, schemaVersion: '2' }), MediaTypes.ociManifest],
          ['no schemaVersion', json({ ...base, schemaVersion: undefined }), MediaTypes.ociManifest],
          ['no config', json({ ...base, config: undefined }), MediaTypes.ociManifest],
          ['config not an object', json({ ...base, config: 'x' }), MediaTypes.ociManifest],
          [
            'config without size',
            json({ ...base, config: { ...config, size: undefined } }),
            MediaTypes.ociManifest,
          ],
          ['no layers', json({ ...base, layers: undefined }), MediaTypes.ociManifest],
          ['layers not an array', json({ ...base, layers: layer }), MediaTypes.ociManifest],
          [
            'layer with upper-case digest',
            json({ ...base, layers: [{ ...layer, digest: layer.digest.toUpperCase() }] }),
            MediaTypes.ociManifest,
          ],
          [
            'layer with unknown algorithm',
            json({ ...base, layers: [{ ...layer, digest: `md5:${'0'.repeat(32)}` }] }),
            MediaTypes.ociManifest,
          ],
          [
            'layer with negative size',
            json({ ...base, layers: [{ ...layer, size: -1 }] }),
            MediaTypes.ociManifest,
          ],
          [
            'layer with fractional size',
            json({ ...base, layers: [{ ...layer, size: 1.5 }] }),
            MediaTypes.ociManifest,
          ],
          [
            'layer with string size',
            json({ ...base, layers: [{ ...layer, size: '11' }] }),
            MediaTypes.ociManifest,
          ],
          [
            'layer with bad mediaType',
            json({ ...base, layers: [{ ...layer, mediaType: 'tar' }] }),
            MediaTypes.ociManifest,
          ],
          [
            'layer with urls not strings',
            json({ ...base, layers: [{ ...layer, urls: [1] }] }),
            MediaTypes.ociManifest,
          ],
          [
            'layer with non-string annotation',
            json({ ...base, layers: [{ ...layer, annotations: { a: 1 } }] }),
            MediaTypes.ociManifest,
          ],
          ['annotations an array', json({ ...base, annotations: ['a'] }), MediaTypes.ociManifest],
          [
            'annotation not a string',
            json({ ...base, annotations: { a: true } }),
            MediaTypes.ociManifest,
          ],
          [
            'subject not a descriptor',
            json({ ...base, subject: { digest: config.digest } }),
            MediaTypes.ociManifest,
          ],
          ['subject a string', json({ ...base, subject: config.digest }), MediaTypes.ociManifest],
          [
            'artifactType not a media type',
            json({ ...base, artifactType: 'signature' }),
            MediaTypes.ociManifest,
          ],
          ['artifactType a number', json({ ...base, artifactType: 3 }), MediaTypes.ociManifest],
          [
            'index without manifests',
            json({ ...index, manifests: undefined }),
            MediaTypes.ociIndex,
          ],
          ['index manifests not an array', json({ ...index, manifests: {} }), MediaTypes.ociIndex],
          [
            'index child not a descriptor',
            json({ ...index, manifests: [{ mediaType: MediaTypes.ociManifest }] }),
            MediaTypes.ociIndex,
          ],
          ['index subject not a descriptor', json({ ...index, subject: {} }), MediaTypes.ociIndex],
          [
            'bare manifest that would read back as an index',
            json({ schemaVersion: 2, manifests: [], layers: [] }),
            MediaTypes.ociManifest,
          ],
        ];
        for (const [what, content, contentType] of cases) {
          await assert.rejects(
            manifests.put(REPO, 'v1', content, contentType),
            (err: unknown) => {
              assert.equal((err as { code?: unknown }).code, 'MANIFEST_INVALID', what);
              return true;
            },
            what,
          );
        }
        assert.equal(await manifests.get(REPO, 'v1'), undefined);
      });

      it('refuses a manifest whose config or layer is not in the repository with MANIFEST_BLOB_UNKNOWN', async () => {
        const { driver, manifests, config, layer } = await setup();
        const missingLayer = absent('never pushed');
        const missingConfig = absent('{"never":true}', CONFIG_TYPE);
        const cases: [Buffer, string][] = [
          [
            json({
              schemaVersion: 2,
              mediaType: MediaTypes.ociManifest,
              config: missingConfig,
              layers: [layer],
            }),
            missingConfig.digest,
          ],
          [
            json({
              schemaVersion: 2,
              mediaType: MediaTypes.ociManifest,
              config,
              layers: [layer, missingLayer],
            }),
            missingLayer.digest,
          ],
        ];
        for (const [content, digest] of cases) {
          await assert.rejects(
            manifests.put(REPO, 'v1', content, MediaTypes.ociManifest),
            (err: unknown) => {
              const e = err as { code?: unknown; detail?: unknown };
              assert.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
              assert.deepEqual(e.detail, { digest });
              return true;
            },
          );
        }
        // A blob linked into another repository only does not count.
        const elsewhere = await blob(driver, 'in another repository', LAYER_TYPE, 'lib/other');
        const content = json({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config,
          layers: [elsewhere],
        });
        await rejectsWith(
          manifests.put(REPO, 'v1', content, MediaTypes.ociManifest),
          'MANIFEST_BLOB_UNKNOWN',
        );
        assert.equal(await manifests.get(REPO, 'v1'), undefined);
      });

      it('refuses an index whose child manifest is not in the repository with MANIFEST_BLOB_UNKNOWN', async () => {
        const { driver, manifests, image } = await setup();
        const child = describeFor(image, MediaTypes.ociManifest);
        const index = json({
          schemaVersion: 2,
          mediaType: MediaTypes.ociIndex,
          manifests: [child],
        });
        await assert.rejects(
          manifests.put(REPO, 'multi', index, MediaTypes.ociIndex),
          (err: unknown) => {
            const e = err as { code?: unknown; detail?: unknown };
            assert.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
            assert.deepEqual(e.detail, { digest: child.digest });
            return true;
          },
        );
        // Pushed as a blob is not enough: the child must be a manifest of the repository.
        await putBlobContent(driver, cachesOf(driver), REPO, image, child.digest);
        await rejectsWith(
          manifests.put(REPO, 'multi', index, MediaTypes.ociIndex),
          'MANIFEST_BLOB_UNKNOWN',
        );
        await manifests.put(REPO, child.digest, image, MediaTypes.ociManifest);
        await manifests.put(REPO, 'multi', index, MediaTypes.ociIndex);
      });
    });

    describe('subject and referrers', () => {
      it('accepts a manifest whose subject does not exist and indexes it', async () => {
        const { driver, manifests, config } = await setup();
        const subject = absent('{"not":"pushed"}', MediaTypes.ociManifest);
        const signature = json({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          artifactType: MediaTypes.nv2ArtifactType,
          config,
          layers: [],
          subject,
          annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
        });
        const stored = await manifests.put(
          REPO,
          digestOf(signature),
          signature,
          MediaTypes.ociManifest,
        );
        assert.deepEqual(stored.subject, subject);
        assert.deepEqual((await manifests.get(REPO, digestOf(signature)))?.subject, subject);
        assert.deepEqual(
          await createReferrersIndex(driver, cachesOf(driver)).list(REPO, subject.digest),
          [
            {
              ...describeFor(signature, MediaTypes.ociManifest),
              artifactType: MediaTypes.nv2ArtifactType,
              annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
            },
          ],
        );
      });

      it('does not index the subject field of Docker manifests (not part of that format)', async () => {
        const { driver, manifests, config } = await setup();
        const subject = absent('{"x":1}', MediaTypes.ociManifest);
        const docker = json({
          schemaVersion: 2,
          mediaType: MediaTypes.dockerManifest,
          config: { ...config, mediaType: DOCKER_CONFIG_TYPE },
          layers: [],
          subject,
        });
        const stored = await manifests.put(REPO, 'docker', docker, MediaTypes.dockerManifest);
        assert.equal(stored.subject, undefined);
        assert.deepEqual(
          await createReferrersIndex(driver, cachesOf(driver)).list(REPO, subject.digest),
          [],
        );
      });
    });

    describe('delete', () => {
      it('deletes a tag only, keeping the manifest', async () => {
        const { driver, manifests, image } = await setup();
        await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
        await manifests.put(REPO, 'v2', image, MediaTypes.ociManifest);
        assert.equal(await manifests.delete(REPO, 'v1'), true);
        assert.equal(await manifests.get(REPO, 'v1'), undefined);
        assert.ok(await manifests.get(REPO, 'v2'));
        assert.ok(await manifests.get(REPO, digestOf(image)));
        assert.deepEqual((await createTagStore(driver, cachesOf(driver)).list(REPO)).tags, ['v2']);
        assert.equal(await manifests.delete(REPO, 'v1'), false);
        assert.equal(await manifests.delete(REPO, 'never'), false);
      });

      it('deletes by digest: the revision, every tag pointing at it, and its referrers entry', async () => {
        const { driver, manifests, image, config } = await setup();
        const other = json({ schemaVersion: 2, config, layers: [] });
        const subject = describeFor(other, MediaTypes.ociManifest);
        const referrer = json({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config,
          layers: [],
          subject,
        });
        await manifests.put(REPO, 'v1', referrer, MediaTypes.ociManifest);
        await manifests.put(REPO, 'v2', referrer, MediaTypes.ociManifest);
        await manifests.put(REPO, 'keep', image, MediaTypes.ociManifest);
        const referrers = createReferrersIndex(driver, cachesOf(driver));
        assert.equal((await referrers.list(REPO, subject.digest)).length, 1);

        assert.equal(await manifests.delete(REPO, digestOf(referrer)), true);
        assert.equal(await manifests.get(REPO, digestOf(referrer)), undefined);
        assert.equal(await manifests.get(REPO, 'v1'), undefined);
        assert.deepEqual((await createTagStore(driver, cachesOf(driver)).list(REPO)).tags, [
          'keep',
        ]);
        assert.deepEqual(await referrers.list(REPO, subject.digest), []);
        await assert.rejects(driver.stat(manifestRevisionLinkPath(REPO, digestOf(referrer))));
        assert.deepEqual(
          await driver.list(referrersPath(REPO, subject.digest)).catch(() => []),
          [],
        );
        assert.equal(await manifests.delete(REPO, digestOf(referrer)), false);
      });

      it('keeps the referrers of a deleted subject listed', async () => {
        const { driver, manifests, image, config } = await setup();
        const subject = describeFor(image, MediaTypes.ociManifest);
        const referrer = json({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config,
          layers: [],
          subject,
        });
        await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
        await manifests.put(REPO, digestOf(referrer), referrer, MediaTypes.ociManifest);
        assert.equal(await manifests.delete(REPO, subject.digest), true);
        assert.equal(
          (await createReferrersIndex(driver, cachesOf(driver)).list(REPO, subject.digest)).length,
          1,
        );
      });

      it('deletes a tag whose link is corrupt', async () => {
        const { driver, manifests, image } = await setup();
        await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
        await driver.putContent(tagCurrentLinkPath(REPO, 'v1'), Buffer.from('not a digest'));
        // Seen by a process started after the damage (this one remembers the tag it wrote).
        const restarted = createManifestStore(driver, createStoreCaches(driver));
        await rejectsWith(restarted.get(REPO, 'v1'), 'NV2_ERR_STORAGE_IO');
        assert.equal(await restarted.delete(REPO, 'v1'), true);
        assert.equal(await restarted.get(REPO, 'v1'), undefined);
      });

      it('returns false for an unknown digest or a manifest of another repository', async () => {
        const { manifests, image } = await setup();
        await manifests.put(REPO, 'v1', image, MediaTypes.ociManifest);
        assert.equal(await manifests.delete('lib/other', digestOf(image)), false);
        assert.equal(await manifests.delete(REPO, digestOf(Buffer.from('x'))), false);
        assert.equal(await manifests.delete(REPO, 'not a reference!'), false);
        assert.ok(await manifests.get(REPO, 'v1'));
      });
    });
  });
}
