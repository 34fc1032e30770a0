/**
 * The metadata contract of the registry's storage layer (`src/registry/storage/store.ts`:
 * blobs, uploads, manifests, tags, referrers, catalog), run against every implementation:
 * the embedded one over a storage driver and the PostgreSQL one. A test file is one call:
 *
 *   describeMetadataStore('embedded', async () => createStore(createMemoryDriver()));
 *
 * `make` must return a new, empty store on every call.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Digest } from '../../src/oci/index.js';
import { MediaTypes, digestOf } from '../../src/oci/index.js';
import type { RegistryStore } from '../../src/registry/storage/store.js';

const ARTIFACT = 'application/vnd.example.signature';
const OTHER_ARTIFACT = 'application/vnd.example.sbom';

async function* chunks(...parts: Buffer[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield p;
}

/** Uploads random bytes as a blob of `repo`; returns its descriptor. */
async function pushBlob(
  store: RegistryStore,
  repo: string,
  bytes = randomBytes(64),
  mediaType = 'application/vnd.oci.image.layer.v1.tar',
): Promise<{ mediaType: string; digest: Digest; size: number }> {
  const digest = digestOf(bytes);
  await store.uploads.putBlob(repo, digest, chunks(bytes));
  return { mediaType, digest, size: bytes.length };
}

/** An image manifest (config + one layer, both pushed), optionally with a subject. */
async function imageManifest(
  store: RegistryStore,
  repo: string,
  options: { subject?: { digest: Digest; size: number }; artifactType?: string } = {},
): Promise<Buffer> {
  const config = await pushBlob(store, repo, Buffer.from('{}'), MediaTypes.ociEmpty);
  const layer = await pushBlob(store, repo);
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      ...(options.artifactType !== undefined ? { artifactType: options.artifactType } : {}),
      config,
      layers: [layer],
      ...(options.subject !== undefined
        ? { subject: { mediaType: MediaTypes.ociManifest, ...options.subject } }
        : {}),
      annotations: { nonce: randomBytes(8).toString('hex') },
    }),
  );
}

export function describeMetadataStore(name: string, make: () => Promise<RegistryStore>): void {
  describe(`metadata store contract: ${name}`, () => {
    it('blobs: an uploaded blob is linked into its repository only; mount links it elsewhere', async () => {
      const store = await make();
      const blob = await pushBlob(store, 'a/one');
      assert.deepEqual(await store.blobs.stat('a/one', blob.digest), {
        digest: blob.digest,
        size: blob.size,
      });
      assert.equal(await store.blobs.stat('a/two', blob.digest), undefined);
      assert.equal(await store.blobs.mount('a/two', blob.digest, 'a/three'), undefined);
      assert.equal((await store.blobs.mount('a/two', blob.digest, 'a/one'))?.size, blob.size);
      assert.equal((await store.blobs.stat('a/two', blob.digest))?.size, blob.size);
      const read: Buffer[] = [];
      for await (const c of await store.blobs.open('a/two', blob.digest, { start: 1, end: 3 }))
        read.push(c as Buffer);
      assert.equal(Buffer.concat(read).length, 3);
      assert.equal(await store.blobs.delete('a/two', blob.digest), true);
      assert.equal(await store.blobs.delete('a/two', blob.digest), false);
      assert.equal(await store.blobs.stat('a/two', blob.digest), undefined);
      assert.ok(await store.blobs.stat('a/one', blob.digest));
    });

    it('uploads: chunked session, offsets checked, commit verifies, cancel forgets', async () => {
      const store = await make();
      const bytes = randomBytes(300);
      const session = await store.uploads.start('up/repo');
      assert.equal((await store.uploads.get('up/repo', session.id))?.size, 0);
      await store.uploads.append('up/repo', session.id, chunks(bytes.subarray(0, 100)), {
        offset: 0,
      });
      await assert.rejects(
        store.uploads.append('up/repo', session.id, chunks(bytes.subarray(100)), { offset: 50 }),
        { code: 'RANGE_INVALID' },
      );
      const after = await store.uploads.append('up/repo', session.id, chunks(bytes.subarray(100)), {
        offset: 100,
      });
      assert.equal(after.size, 300);
      const info = await store.uploads.commit('up/repo', session.id, digestOf(bytes));
      assert.deepEqual(info, { digest: digestOf(bytes), size: 300 });
      assert.equal(await store.uploads.get('up/repo', session.id), undefined);
      assert.ok(await store.blobs.stat('up/repo', digestOf(bytes)));

      const bad = await store.uploads.start('up/repo');
      await assert.rejects(
        store.uploads.commit('up/repo', bad.id, digestOf(Buffer.from('other')), chunks(bytes)),
        { code: 'DIGEST_INVALID' },
      );
      const cancelled = await store.uploads.start('up/repo');
      assert.equal(await store.uploads.cancel('up/repo', cancelled.id), true);
      assert.equal(await store.uploads.cancel('up/repo', cancelled.id), false);
      const old = await store.uploads.start('up/repo');
      assert.equal(await store.uploads.purge(new Date(Date.now() + 60_000)), 1);
      assert.equal(await store.uploads.get('up/repo', old.id), undefined);
    });

    it('manifests: put by tag and digest, get, stat, blob links checked, delete', async () => {
      const store = await make();
      const content = await imageManifest(store, 'm/repo');
      const digest = digestOf(content);
      const stored = await store.manifests.put('m/repo', 'v1', content, MediaTypes.ociManifest);
      assert.equal(stored.descriptor.digest, digest);
      assert.deepEqual((await store.manifests.get('m/repo', 'v1'))?.content, content);
      assert.deepEqual(
        (await store.manifests.get('m/repo', digest))?.descriptor,
        stored.descriptor,
      );
      assert.equal((await store.manifests.stat('m/repo', 'v1'))?.size, content.length);
      // The manifest's bytes are a blob of the repository.
      assert.equal((await store.blobs.stat('m/repo', digest))?.size, content.length);
      assert.equal(await store.manifests.get('m/other', 'v1'), undefined);

      const foreign = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: 'application/json', digest: digestOf(Buffer.from('x')), size: 1 },
          layers: [],
        }),
      );
      await assert.rejects(store.manifests.put('m/repo', 'v2', foreign, MediaTypes.ociManifest), {
        code: 'MANIFEST_BLOB_UNKNOWN',
      });
      await assert.rejects(
        store.manifests.put('m/repo', digestOf(foreign), content, MediaTypes.ociManifest),
        {
          code: 'DIGEST_INVALID',
        },
      );

      await store.manifests.put('m/repo', 'v2', content, MediaTypes.ociManifest);
      assert.equal(await store.manifests.delete('m/repo', 'v2'), true);
      assert.equal(await store.manifests.delete('m/repo', 'v2'), false);
      assert.ok(await store.manifests.get('m/repo', 'v1'));
      assert.equal(await store.manifests.delete('m/repo', digest), true);
      assert.equal(await store.manifests.get('m/repo', digest), undefined);
      assert.equal(await store.tags.resolve('m/repo', 'v1'), undefined);
      assert.equal(await store.manifests.delete('m/repo', digest), false);
    });

    it('manifests: an index needs its children in the repository', async () => {
      const store = await make();
      const child = await imageManifest(store, 'i/repo');
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociIndex,
          manifests: [
            { mediaType: MediaTypes.ociManifest, digest: digestOf(child), size: child.length },
          ],
        }),
      );
      await assert.rejects(store.manifests.put('i/repo', 'all', index, MediaTypes.ociIndex), {
        code: 'MANIFEST_BLOB_UNKNOWN',
      });
      await store.manifests.put('i/repo', digestOf(child), child, MediaTypes.ociManifest);
      await store.manifests.put('i/repo', 'all', index, MediaTypes.ociIndex);
      assert.equal((await store.manifests.stat('i/repo', 'all'))?.mediaType, MediaTypes.ociIndex);
    });

    it('tags: move, delete, list in byte order with n/last paging, NAME_UNKNOWN', async () => {
      const store = await make();
      const one = await imageManifest(store, 't/repo');
      const two = await imageManifest(store, 't/repo');
      const names = ['b', 'B', 'a', 'a1', 'a_', 'z', '0'];
      for (const tag of names)
        await store.manifests.put('t/repo', tag, one, MediaTypes.ociManifest);
      const sorted = [...names].sort();
      assert.deepEqual((await store.tags.list('t/repo')).tags, sorted);
      const pages: string[] = [];
      let last: string | undefined;
      for (;;) {
        const page = await store.tags.list('t/repo', { n: 3, ...(last ? { last } : {}) });
        pages.push(...page.tags);
        if (!page.more) break;
        last = page.tags.at(-1);
      }
      assert.deepEqual(pages, sorted);
      assert.deepEqual(await store.tags.list('t/repo', { n: 0 }), { tags: [], more: false });
      await assert.rejects(store.tags.list('t/repo', { n: -1 }), {
        code: 'PAGINATION_NUMBER_INVALID',
      });
      await assert.rejects(store.tags.list('t/none'), { code: 'NAME_UNKNOWN' });

      await store.manifests.put('t/repo', 'a', two, MediaTypes.ociManifest);
      assert.equal(await store.tags.resolve('t/repo', 'a'), digestOf(two));
      assert.deepEqual((await store.manifests.get('t/repo', 'a'))?.content, two);
      assert.equal(await store.manifests.delete('t/repo', 'a'), true);
      assert.equal(await store.tags.resolve('t/repo', 'a'), undefined);
      assert.ok(!(await store.tags.list('t/repo')).tags.includes('a'));
    });

    it('tags: two writers moving one tag at once leave it on one of them, consistently', async () => {
      const store = await make();
      const manifests = await Promise.all(
        Array.from({ length: 6 }, () => imageManifest(store, 'c/repo')),
      );
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          manifests.map((m) => store.manifests.put('c/repo', 'latest', m, MediaTypes.ociManifest)),
        );
        const resolved = await store.tags.resolve('c/repo', 'latest');
        const got = await store.manifests.get('c/repo', 'latest');
        assert.ok(manifests.some((m) => digestOf(m) === resolved));
        assert.equal(got?.descriptor.digest, resolved);
      }
    });

    it('referrers: listed by subject, filtered by artifactType, stable order while inserting', async () => {
      const store = await make();
      const subjectBytes = await imageManifest(store, 'r/repo');
      const subject = { digest: digestOf(subjectBytes), size: subjectBytes.length };
      // Listed even before the subject exists.
      const early = await imageManifest(store, 'r/repo', { subject, artifactType: ARTIFACT });
      await store.manifests.put('r/repo', digestOf(early), early, MediaTypes.ociManifest);
      await store.manifests.put('r/repo', 'v1', subjectBytes, MediaTypes.ociManifest);
      const digests = [digestOf(early)];
      for (let i = 0; i < 6; i++) {
        const type = i % 2 === 0 ? ARTIFACT : OTHER_ARTIFACT;
        const m = await imageManifest(store, 'r/repo', { subject, artifactType: type });
        await store.manifests.put('r/repo', digestOf(m), m, MediaTypes.ociManifest);
        digests.push(digestOf(m));
        const listed = await store.referrers.list('r/repo', subject.digest);
        // Every listing is in the same order: what was listed before keeps its relative place.
        assert.deepEqual(
          listed.map((d) => d.digest),
          [...digests].sort(),
        );
      }
      const signatures = await store.referrers.list('r/repo', subject.digest, {
        artifactType: ARTIFACT,
      });
      assert.equal(signatures.length, 4);
      assert.ok(signatures.every((d) => d.artifactType === ARTIFACT && d.annotations?.['nonce']));
      assert.deepEqual(await store.referrers.list('r/other', subject.digest), []);
      assert.equal(await store.manifests.delete('r/repo', digestOf(early)), true);
      assert.equal((await store.referrers.list('r/repo', subject.digest)).length, 6);
    });

    it('catalog: repositories in byte order, paged with n/last', async () => {
      const store = await make();
      const names = ['z/last', 'a/first', 'a/first/nested', 'm/middle', 'A/upper'];
      for (const name of names) await pushBlob(store, name);
      const sorted = [...names].sort();
      assert.deepEqual((await store.catalog.list()).repositories, sorted);
      const first = await store.catalog.list({ n: 2 });
      assert.deepEqual(first, { repositories: sorted.slice(0, 2), more: true });
      const rest = await store.catalog.list({ n: 10, last: sorted[1]! });
      assert.deepEqual(rest, { repositories: sorted.slice(2), more: false });
    });
  });
}
