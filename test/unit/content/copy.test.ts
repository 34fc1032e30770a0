import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type CopyProgressEvent,
  type ReadOnlyTarget,
  type Target,
  copy,
  createMemoryStore,
  openOciLayout,
} from '../../../src/content/index.js';
import { type Descriptor, MediaTypes } from '../../../src/oci/index.js';
import { run } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/fixtures.js';
import { writeIndexLayout } from '../../helpers/oci-layout.js';
import {
  type Item,
  SBOM_TYPE,
  blob,
  fetchAll,
  image,
  index,
  last,
  manifest,
  pushAll,
  sbom,
  signature,
} from '../../suites/target.js';

function plain(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

function digests(list: readonly { digest: string }[]): string[] {
  return list.map((d) => d.digest).sort();
}

function unique(items: readonly Item[]): Item[] {
  return [...new Map(items.map((i) => [i.descriptor.digest, i])).values()];
}

const isManifest = (i: Item) =>
  i.descriptor.mediaType === MediaTypes.ociManifest ||
  i.descriptor.mediaType === MediaTypes.ociIndex;

/**
 * An index of two images sharing a layer, tagged v1, with referrers two levels deep:
 * index ← signature, index ← SBOM ← signature of the SBOM, arm64 image ← signature.
 * Plus an unrelated image that no copy of v1 may take along.
 */
async function fixture() {
  const src = createMemoryStore();
  const shared = blob();
  const amdConfig = blob(
    '{"architecture":"amd64","os":"linux"}',
    'application/vnd.oci.image.config.v1+json',
  );
  const armConfig = blob(
    '{"architecture":"arm64","os":"linux"}',
    'application/vnd.oci.image.config.v1+json',
  );
  const amdLayer = blob();
  const armLayer = blob();
  const amd = manifest({ config: amdConfig, layers: [shared, amdLayer] });
  const arm = manifest({ config: armConfig, layers: [shared, armLayer] });
  const idx = index([
    { ...plain(amd.descriptor), platform: { architecture: 'amd64', os: 'linux' } } as Descriptor,
    { ...plain(arm.descriptor), platform: { architecture: 'arm64', os: 'linux' } } as Descriptor,
  ]);
  const graph = [shared, amdConfig, amdLayer, amd, armConfig, armLayer, arm, idx];
  const sigIdx = signature(idx.descriptor);
  const bom = sbom(idx.descriptor);
  const bomSig = signature(last(bom), '2026-11-25T10:00:00Z');
  const sigArm = signature(arm.descriptor, '2026-11-26T10:00:00Z');
  const unrelated = image(1);
  const unrelatedSig = signature(last(unrelated));
  await pushAll(src, [
    ...graph,
    ...sigIdx,
    ...bom,
    ...bomSig,
    ...sigArm,
    ...unrelated,
    ...unrelatedSig,
  ]);
  await src.tag(idx.descriptor, 'v1');
  await src.tag(last(unrelated), 'other');
  const all = unique([...graph, ...sigIdx, ...bom, ...bomSig, ...sigArm]);
  return { src, idx, amd, arm, graph, sigIdx, bom, bomSig, sigArm, unrelated, all };
}

/** Every item is in `store` with the same bytes. */
async function assertHolds(store: Target, items: readonly Item[]): Promise<void> {
  for (const item of items) {
    assert.deepEqual(await fetchAll(store, item.descriptor), item.content, item.descriptor.digest);
  }
}

/** A target that records what is pushed and tagged, in order, and how content arrived. */
function recording(target: Target) {
  const log: { op: 'push' | 'tag'; digest: string; streamed?: boolean; ref?: string }[] = [];
  const wrapped: Target = {
    fetch: (d) => target.fetch(d),
    exists: (d) => target.exists(d),
    resolve: (r) => target.resolve(r),
    async push(d, content) {
      await target.push(d, content);
      log.push({ op: 'push', digest: d.digest, streamed: !(content instanceof Uint8Array) });
    },
    async tag(d, ref) {
      await target.tag(d, ref);
      log.push({ op: 'tag', digest: d.digest, ref });
    },
  };
  return { wrapped, log };
}

describe('copy', () => {
  it('memory → OCI layout → memory: the graph and two levels of referrers, digests identical', async () => {
    const f = await fixture();
    const dir = join(await tempDir(), 'layout');
    const layout = await openOciLayout(dir, { create: true });

    const toLayout = await copy(f.src, 'v1', layout);
    assert.deepEqual(toLayout.descriptor, plain(f.idx.descriptor));
    assert.deepEqual(
      digests(toLayout.referrers),
      digests([last(f.sigIdx), last(f.bom), last(f.bomSig), last(f.sigArm)]),
    );
    const manifests = f.all.filter(isManifest);
    assert.equal(toLayout.manifestsCopied, manifests.length);
    assert.equal(toLayout.blobsCopied, f.all.length - manifests.length);
    assert.equal(toLayout.manifestsSkipped + toLayout.blobsSkipped, 0);
    assert.equal(
      toLayout.bytesCopied,
      f.all.reduce((n, i) => n + i.descriptor.size, 0),
    );
    await assertHolds(layout, f.all);
    assert.deepEqual(await layout.resolve('v1'), plain(f.idx.descriptor));
    assert.equal(await layout.exists(last(f.unrelated)), false);
    assert.deepEqual(
      digests(await layout.referrers(f.idx.descriptor)),
      digests([last(f.sigIdx), last(f.bom)]),
    );
    assert.deepEqual(digests(await layout.referrers(last(f.bom))), [last(f.bomSig).digest]);
    assert.deepEqual(digests(await layout.referrers(f.arm.descriptor)), [last(f.sigArm).digest]);
    const raw = await run('skopeo', ['--insecure-policy', 'inspect', '--raw', `oci:${dir}:v1`]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout, f.idx.content.toString('utf8'));

    // A layout opened afresh finds every referrer from index.json alone.
    const reopened = await openOciLayout(dir);
    const back = createMemoryStore();
    const toMemory = await copy(reopened, 'v1', back);
    assert.deepEqual(toMemory.descriptor, plain(f.idx.descriptor));
    assert.equal(toMemory.referrers.length, 4);
    await assertHolds(back, f.all);
    assert.deepEqual(await back.resolve('v1'), plain(f.idx.descriptor));
    assert.deepEqual(
      await back.referrers(f.idx.descriptor),
      await f.src.referrers(f.idx.descriptor),
    );
    assert.deepEqual(await back.referrers(last(f.bom)), await f.src.referrers(last(f.bom)));
    assert.equal(await back.exists(last(f.unrelated)), false);
  });

  it('skips what the destination has, and copies only what is new (a signature added later)', async () => {
    const f = await fixture();
    const dst = createMemoryStore();
    await dst.push(f.graph[0]!.descriptor, f.graph[0]!.content); // the shared layer
    const first = await copy(f.src, 'v1', dst);
    assert.equal(first.blobsSkipped, 1);
    assert.equal(first.blobsCopied, f.all.filter((i) => !isManifest(i)).length - 1);

    const again = await copy(f.src, 'v1', dst);
    assert.equal(again.blobsCopied + again.manifestsCopied + again.bytesCopied, 0);
    assert.equal(again.manifestsSkipped, f.all.filter(isManifest).length);

    const late = signature(f.amd.descriptor, '2027-01-01T00:00:00Z');
    await pushAll(f.src, late);
    const third = await copy(f.src, 'v1', dst);
    assert.equal(third.manifestsCopied, 1);
    assert.equal(third.blobsCopied, 1); // the new signature file; the empty config is there
    assert.deepEqual(digests(await dst.referrers(f.amd.descriptor)), [last(late).digest]);
  });

  it('pushes children before parents, subjects before referrers, streams blobs, tags last', async () => {
    const f = await fixture();
    const { wrapped, log } = recording(createMemoryStore());
    await copy(f.src, 'v1', wrapped, undefined, { concurrency: 8 });
    const at = (digest: string) => log.findIndex((e) => e.op === 'push' && e.digest === digest);
    for (const item of f.all.filter(isManifest)) {
      const doc = JSON.parse(item.content.toString('utf8')) as {
        config?: Descriptor;
        layers?: Descriptor[];
        manifests?: Descriptor[];
        subject?: Descriptor;
      };
      const children = [
        ...(doc.config ? [doc.config] : []),
        ...(doc.layers ?? []),
        ...(doc.manifests ?? []),
      ];
      for (const child of children) assert.ok(at(child.digest) < at(item.descriptor.digest));
      if (doc.subject) assert.ok(at(doc.subject.digest) < at(item.descriptor.digest));
    }
    assert.deepEqual(log[log.length - 1], {
      op: 'tag',
      digest: f.idx.descriptor.digest,
      ref: 'v1',
    });
    assert.equal(log.filter((e) => e.op === 'push').length, f.all.length);
    for (const entry of log) {
      const item = f.all.find((i) => i.descriptor.digest === entry.digest)!;
      if (entry.op === 'push' && !isManifest(item)) assert.equal(entry.streamed, true);
    }
  });

  it('referrers: false copies the graph alone; artifactTypes picks referrers at every level', async () => {
    const f = await fixture();
    const bare = createMemoryStore();
    const result = await copy(f.src, 'v1', bare, undefined, { referrers: false });
    assert.deepEqual(result.referrers, []);
    assert.deepEqual(await bare.referrers(f.idx.descriptor), []);
    await assertHolds(bare, f.graph);

    const sigsOnly = createMemoryStore();
    const picked = await copy(f.src, 'v1', sigsOnly, undefined, {
      artifactTypes: [MediaTypes.nv2ArtifactType],
    });
    assert.deepEqual(digests(picked.referrers), digests([last(f.sigIdx), last(f.sigArm)]));
    assert.equal(await sigsOnly.exists(last(f.bom)), false);
    assert.equal(await sigsOnly.exists(last(f.bomSig)), false);

    const both = createMemoryStore();
    const all = await copy(f.src, 'v1', both, undefined, {
      artifactTypes: [MediaTypes.nv2ArtifactType, SBOM_TYPE],
    });
    assert.equal(all.referrers.length, 4);
  });

  it('tags dstRef; by default srcRef when it is a tag, nothing when it is a digest', async () => {
    const f = await fixture();
    const dst = createMemoryStore();
    await copy(f.src, f.idx.descriptor.digest, dst);
    assert.deepEqual(await dst.resolve(f.idx.descriptor.digest), plain(f.idx.descriptor));
    await assert.rejects(dst.resolve('v1'), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    await copy(f.src, 'v1', dst, 'release');
    assert.deepEqual(await dst.resolve('release'), plain(f.idx.descriptor));
    await assert.rejects(dst.resolve('v1'), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    await copy(f.src, 'v1', dst, f.idx.descriptor.digest);
    await assert.rejects(dst.resolve('v1'), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    await assert.rejects(copy(f.src, 'v1', dst, last(f.unrelated).digest), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    await assert.rejects(copy(f.src, 'v1', dst, 'not a tag'), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    await assert.rejects(copy(f.src, 'nope', dst), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    await assert.rejects(copy(f.src, 'v1', dst, undefined, { concurrency: 0 }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
  });

  it('reports each node once through onProgress, matching the counts', async () => {
    const f = await fixture();
    const events: CopyProgressEvent[] = [];
    const result = await copy(f.src, 'v1', createMemoryStore(), undefined, {
      concurrency: 1,
      onProgress: (e) => events.push(e),
    });
    assert.equal(events.length, f.all.length);
    assert.deepEqual(
      digests(events.map((e) => e.descriptor)),
      digests(f.all.map((i) => i.descriptor)),
    );
    assert.equal(events.filter((e) => e.kind === 'manifest').length, result.manifestsCopied);
  });

  it('content missing from the source fails the copy, and its parents are not pushed', async () => {
    const f = await fixture();
    await f.src.delete(f.graph[2]!.descriptor); // a layer of the amd64 image
    const dst = createMemoryStore();
    await assert.rejects(copy(f.src, 'v1', dst), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    assert.equal(await dst.exists(f.amd.descriptor), false);
    assert.equal(await dst.exists(f.idx.descriptor), false);
    await assert.rejects(dst.resolve('v1'), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
  });

  it('a source that cannot list referrers: the graph alone', async () => {
    const f = await fixture();
    const readOnly: ReadOnlyTarget = {
      fetch: (d) => f.src.fetch(d),
      exists: (d) => f.src.exists(d),
      resolve: (r) => f.src.resolve(r),
    };
    const dst = createMemoryStore();
    const result = await copy(readOnly, 'v1', dst);
    assert.deepEqual(result.referrers, []);
    await assertHolds(dst, f.graph);
  });

  it('copies a layout written the way skopeo writes it', async () => {
    const dir = await tempDir();
    const written = await writeIndexLayout(dir, { tag: 'all' });
    const dst = createMemoryStore();
    const result = await copy(await openOciLayout(dir), 'all', dst);
    assert.equal(result.descriptor.digest, written.digest);
    assert.equal(result.manifestsCopied, 3);
    assert.equal(result.blobsCopied, 6);
    assert.equal((await dst.resolve('all')).digest, written.digest);
  });
});
