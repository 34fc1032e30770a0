import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryStore } from '../../../src/content/index.js';
import { MAX_MANIFEST_BYTES, MediaTypes, createDescriptor } from '../../../src/oci/index.js';
import {
  blob,
  describeTarget,
  fetchAll,
  image,
  last,
  manifest,
  pushAll,
  signature,
} from '../../suites/target.js';

describeTarget('memory store', async () => createMemoryStore());

describe('memory store', () => {
  it('refuses a manifest that is not JSON, or not of the type it is pushed as', async () => {
    const store = createMemoryStore();
    const notJson = blob('not json', MediaTypes.ociManifest);
    await assert.rejects(store.push(notJson.descriptor, notJson.content), {
      code: 'NV2_ERR_INVALID_MANIFEST',
    });
    const bytes = manifest({ mediaType: MediaTypes.dockerManifest }).content;
    const asOci = createDescriptor(MediaTypes.ociManifest, bytes);
    await assert.rejects(store.push(asOci, bytes), { code: 'NV2_ERR_INVALID_MANIFEST' });
    const noConfig = blob(JSON.stringify({ schemaVersion: 2, layers: [] }), MediaTypes.ociManifest);
    await assert.rejects(store.push(noConfig.descriptor, noConfig.content), {
      code: 'NV2_ERR_INVALID_MANIFEST',
    });
    assert.equal(await store.exists(asOci), false);
    assert.equal(await store.exists(notJson.descriptor), false);
  });

  it('refuses a manifest larger than MAX_MANIFEST_BYTES before reading it', async () => {
    const store = createMemoryStore();
    let read = false;
    const source = (async function* () {
      read = true;
      yield new Uint8Array(1);
    })();
    const big = { ...last(image()), size: MAX_MANIFEST_BYTES + 1 };
    await assert.rejects(store.push(big, source), { code: 'NV2_ERR_FILE_TOO_LARGE' });
    assert.equal(read, false);
  });

  it('a subject in a Docker manifest does not make it a referrer', async () => {
    const store = createMemoryStore();
    const subject = image();
    const docker = manifest({ mediaType: MediaTypes.dockerManifest, subject: last(subject) });
    await pushAll(store, [...subject, docker]);
    assert.deepEqual(await store.referrers(last(subject)), []);
  });

  it('refuses references that are neither tags nor digests, and descriptors that are not', async () => {
    const store = createMemoryStore();
    const items = image();
    await pushAll(store, items);
    await assert.rejects(store.tag(last(items), 'a tag'), { code: 'NV2_ERR_INVALID_REFERENCE' });
    await assert.rejects(store.resolve('UPPER/case:x'), { code: 'NV2_ERR_INVALID_REFERENCE' });
    await assert.rejects(store.fetch({ ...last(items), digest: 'sha256:abc' as never }), {
      code: 'NV2_ERR_INVALID_ARGUMENT',
    });
    // A manifest's own digest as the reference: nothing to do.
    await store.tag(last(items), last(items).digest);
  });

  it('delete removes content, its tags and its place in the referrers index', async () => {
    const store = createMemoryStore();
    const subject = image();
    const sig = signature(last(subject));
    await pushAll(store, [...subject, ...sig]);
    await store.tag(last(subject), 'v1');
    await store.tag(last(sig), 'sig');
    await store.delete(last(sig));
    assert.deepEqual(await store.referrers(last(subject)), []);
    await assert.rejects(store.resolve('sig'), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    await assert.rejects(fetchAll(store, last(sig)), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    await store.delete(subject[0]!.descriptor);
    assert.equal(await store.exists(subject[0]!.descriptor), false);
    assert.deepEqual(await store.resolve('v1'), {
      mediaType: last(subject).mediaType,
      digest: last(subject).digest,
      size: last(subject).size,
    });
    await assert.rejects(store.delete(last(sig)), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
  });

  it('a fetched stream destroyed early leaves the store usable', async () => {
    const store = createMemoryStore();
    const b = blob(Buffer.alloc(200_000, 1));
    await store.push(b.descriptor, b.content);
    const stream = await store.fetch(b.descriptor);
    stream.destroy();
    assert.deepEqual(await fetchAll(store, b.descriptor), b.content);
  });
});
