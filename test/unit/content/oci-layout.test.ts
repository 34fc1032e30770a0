import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openOciLayout, parseOciLayoutLocator } from '../../../src/content/index.js';
import { type Descriptor, MediaTypes, digestHex } from '../../../src/oci/index.js';
import { skopeo } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/fixtures.js';
import { writeImageLayout, writeIndexLayout } from '../../helpers/oci-layout.js';
import {
  blob,
  describeTarget,
  fetchAll,
  image,
  index,
  last,
  pushAll,
  readAll,
  signature,
} from '../../suites/target.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

async function newLayoutDir(): Promise<string> {
  return join(await tempDir(), 'layout');
}

interface IndexJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: (Descriptor & Record<string, unknown>)[];
  [key: string]: unknown;
}

async function readIndexJson(dir: string): Promise<IndexJson> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as IndexJson;
}

async function blobFiles(dir: string, alg = 'sha256'): Promise<string[]> {
  return (await readdir(join(dir, 'blobs', alg))).sort();
}

function digests(list: readonly Descriptor[]): string[] {
  return list.map((d) => d.digest).sort();
}

function plain(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

describeTarget('OCI layout', async () => openOciLayout(await newLayoutDir(), { create: true }));

describe('OCI layout: the format on disk', () => {
  it('create writes oci-layout, an empty index.json and blobs/', async () => {
    const dir = await newLayoutDir();
    await openOciLayout(dir, { create: true });
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')), {
      imageLayoutVersion: '1.0.0',
    });
    assert.deepEqual(await readIndexJson(dir), {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [],
    });
    assert.deepEqual(await readdir(join(dir, 'blobs')), []);
    // Opening again, with or without create, keeps what is there.
    await openOciLayout(dir, { create: true });
    await openOciLayout(dir);
  });

  it('blobs live at blobs/<alg>/<hex> with their exact bytes; index.json lists tags and untagged referrers', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const subject = image(2);
    const sig = signature(last(subject));
    await pushAll(layout, [...subject, ...sig]);
    await layout.tag(last(subject), 'v1');
    for (const item of [...subject, ...sig]) {
      const path = join(dir, 'blobs', 'sha256', digestHex(item.descriptor.digest));
      assert.deepEqual(await readFile(path), item.content);
    }
    // Nothing else in blobs/sha256: no temporary files left.
    const digests = new Set([...subject, ...sig].map((i) => digestHex(i.descriptor.digest)));
    assert.deepEqual(await blobFiles(dir), [...digests].sort());
    const json = await readIndexJson(dir);
    assert.equal(json.schemaVersion, 2);
    assert.equal(json.mediaType, MediaTypes.ociIndex);
    assert.deepEqual(json.manifests, [
      { ...plain(last(subject)), annotations: { [REF_NAME]: 'v1' } },
      { ...plain(last(sig)), artifactType: MediaTypes.nv2ArtifactType },
    ]);
  });

  it('moving a tag keeps the manifest it left listed, untagged; a second tag adds an entry', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const a = image(1);
    const b = image(1);
    await pushAll(layout, [...a, ...b]);
    await layout.tag(last(a), 'v1');
    await layout.tag(last(a), 'stable');
    await layout.tag(last(b), 'v1');
    const entries = (await readIndexJson(dir)).manifests;
    assert.deepEqual(
      entries.map((e) => [e.digest, e.annotations?.[REF_NAME]]),
      [
        [last(b).digest, 'v1'],
        [last(a).digest, 'stable'],
      ],
    );
    await layout.tag(last(b), 'stable');
    assert.deepEqual((await readIndexJson(dir)).manifests, [
      { ...plain(last(b)), annotations: { [REF_NAME]: 'v1' } },
      plain(last(a)),
      { ...plain(last(b)), annotations: { [REF_NAME]: 'stable' } },
    ]);
    assert.deepEqual(await layout.resolve(last(a).digest), plain(last(a)));
  });

  it('skopeo reads a layout nv2 wrote: an image, and an index of two images', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const img = image(2);
    const amd = image(1);
    const arm = image(1);
    const idx = index([
      { ...plain(last(amd)), platform: { architecture: 'amd64', os: 'linux' } } as Descriptor,
      { ...plain(last(arm)), platform: { architecture: 'arm64', os: 'linux' } } as Descriptor,
    ]);
    await pushAll(layout, [...img, ...amd, ...arm, idx, ...signature(last(img))]);
    await layout.tag(last(img), 'v1');
    await layout.tag(idx.descriptor, 'multi');
    const raw = await skopeo('inspect', '--raw', `oci:${dir}:v1`);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout, img[img.length - 1]!.content.toString('utf8'));
    const rawIndex = await skopeo('inspect', '--raw', `oci:${dir}:multi`);
    assert.equal(rawIndex.code, 0, rawIndex.stderr);
    assert.equal(rawIndex.stdout, idx.content.toString('utf8'));

    // skopeo copies out of it, byte for byte, and nv2 reads what skopeo wrote.
    const out = await newLayoutDir();
    const copied = await skopeo(
      'copy',
      '--preserve-digests',
      '--all',
      `oci:${dir}:multi`,
      `oci:${out}:multi`,
    );
    assert.equal(copied.code, 0, copied.stderr);
    const theirs = await openOciLayout(out);
    assert.deepEqual(await theirs.resolve('multi'), plain(idx.descriptor));
    assert.deepEqual(await theirs.resolve(last(arm).digest), plain(last(arm)));
    for (const item of [...amd, ...arm, idx]) {
      assert.deepEqual(await fetchAll(theirs, item.descriptor), item.content);
    }
  });

  it('reads layouts written the way skopeo writes them: children of an index are not listed', async () => {
    const single = await newLayoutDir();
    const image1 = await writeImageLayout(single, { tag: 'v1', layers: 2, layerSize: 1024 });
    const layout = await openOciLayout(single);
    const resolved = await layout.resolve('v1');
    assert.equal(resolved.digest, image1.digest);
    const doc = JSON.parse((await fetchAll(layout, resolved)).toString('utf8')) as {
      layers: Descriptor[];
    };
    for (const layer of doc.layers) {
      assert.equal((await fetchAll(layout, layer)).byteLength, 1024);
    }

    const multi = await newLayoutDir();
    const idx = await writeIndexLayout(multi, { tag: 'all' });
    const layout2 = await openOciLayout(multi);
    const top = await layout2.resolve('all');
    assert.equal(top.digest, idx.digest);
    const children = (
      JSON.parse((await fetchAll(layout2, top)).toString('utf8')) as { manifests: Descriptor[] }
    ).manifests;
    for (const child of children) {
      assert.deepEqual(await layout2.resolve(child.digest), plain(child));
    }
    // A child nothing in index.json lists: its tag lands on a new entry.
    await layout2.tag(children[0]!, 'amd64');
    assert.deepEqual(await layout2.resolve('amd64'), plain(children[0]!));
    const raw = await skopeo('inspect', '--raw', `oci:${multi}:amd64`);
    assert.equal(raw.code, 0, raw.stderr);
  });

  it('sees what another writer added to index.json since it was opened (skopeo, another store)', async () => {
    const dir = await newLayoutDir();
    const mine = await openOciLayout(dir, { create: true });
    const subject = image(1);
    await pushAll(mine, subject);
    await mine.tag(last(subject), 'v1');
    assert.deepEqual(await mine.referrers(last(subject)), []);

    const other = await openOciLayout(dir);
    const sig = signature(last(subject));
    await pushAll(other, sig);
    assert.deepEqual(
      (await mine.referrers(last(subject))).map((d) => d.digest),
      [last(sig).digest],
    );

    const src = await newLayoutDir();
    const written = await writeImageLayout(src, { tag: 'x', layers: 1, layerSize: 512 });
    const copied = await skopeo(
      'copy',
      '--preserve-digests',
      `oci:${src}:x`,
      `oci:${dir}:from-skopeo`,
    );
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal((await mine.resolve('from-skopeo')).digest, written.digest);
    // ... and keeps skopeo's entry, and its own, when it writes next.
    await mine.tag(last(subject), 'v2');
    const names = (await readIndexJson(dir)).manifests.map((e) => e.annotations?.[REF_NAME]);
    assert.deepEqual(names.filter((n) => n !== undefined).sort(), ['from-skopeo', 'v1', 'v2']);
    assert.equal((await other.resolve('v2')).digest, last(subject).digest);
  });

  it('finds referrers listed only inside a listed index (a referrers tag schema index)', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const subject = image(1);
    const sig = signature(last(subject));
    const tagSchema = index([{ ...plain(last(sig)), artifactType: MediaTypes.nv2ArtifactType }]);
    await pushAll(layout, [...subject, ...sig, tagSchema]);
    // As a tool that copied the tag schema index alone would write index.json.
    const json = await readIndexJson(dir);
    json.manifests = [
      { ...plain(last(subject)), annotations: { [REF_NAME]: 'v1' } },
      {
        ...plain(tagSchema.descriptor),
        annotations: { [REF_NAME]: `sha256-${digestHex(last(subject).digest)}` },
      },
    ];
    await writeFile(join(dir, 'index.json'), JSON.stringify(json));
    const reopened = await openOciLayout(dir);
    assert.deepEqual(
      (await reopened.referrers(last(subject))).map((d) => d.digest),
      [last(sig).digest],
    );
    assert.deepEqual(await reopened.resolve(last(sig).digest), plain(last(sig)));
  });

  it('keeps fields of index.json it does not use', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const a = image(1);
    await pushAll(layout, a);
    const json = await readIndexJson(dir);
    json['annotations'] = { 'org.example.kept': 'yes' };
    json.manifests[0]!['platform'] = { architecture: 'amd64', os: 'linux' };
    await writeFile(join(dir, 'index.json'), JSON.stringify(json));
    await layout.tag(last(a), 'v1');
    await pushAll(layout, image(1));
    const after = await readIndexJson(dir);
    assert.deepEqual(after['annotations'], { 'org.example.kept': 'yes' });
    assert.deepEqual(after.manifests[0]!['platform'], { architecture: 'amd64', os: 'linux' });
    assert.equal(after.manifests[0]!.annotations?.[REF_NAME], 'v1');
  });

  it('resolves ref names other tools write (fully qualified), tags only what is a tag', async () => {
    const dir = await newLayoutDir();
    await writeImageLayout(dir, { tag: 'docker.io/library/alpine:3.20', layers: 1, layerSize: 16 });
    const layout = await openOciLayout(dir);
    const d = await layout.resolve('docker.io/library/alpine:3.20');
    await assert.rejects(layout.tag(d, 'docker.io/library/alpine:3'), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    await assert.rejects(layout.resolve('not a name'), { code: 'NV2_ERR_INVALID_REFERENCE' });
  });

  it('many concurrent pushes and tags, through two stores on one directory, all land in index.json', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const twin = await openOciLayout(dir);
    const images = Array.from({ length: 20 }, () => image(1));
    const store = (i: number) => (i % 2 === 0 ? layout : twin);
    await Promise.all(images.map((items, i) => pushAll(store(i), items.slice(0, -1))));
    await Promise.all(images.map((items, i) => pushAll(store(i), items.slice(-1))));
    assert.deepEqual(
      digests((await readIndexJson(dir)).manifests),
      digests(images.map((items) => last(items))),
    );
    await Promise.all(images.map((items, i) => store(i + 1).tag(last(items), `t${i}`)));
    const entries = (await readIndexJson(dir)).manifests;
    assert.equal(entries.length, 20);
    for (const [i, items] of images.entries()) {
      assert.equal((await layout.resolve(`t${i}`)).digest, last(items).digest);
    }
  });

  it('delete removes the blob and every index.json entry of it', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const subject = image(1);
    const sig = signature(last(subject));
    await pushAll(layout, [...subject, ...sig]);
    await layout.tag(last(subject), 'v1');
    await layout.tag(last(sig), 'sig');
    await layout.delete(last(sig));
    assert.deepEqual(await layout.referrers(last(subject)), []);
    await assert.rejects(layout.resolve('sig'), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
    assert.deepEqual(
      (await readIndexJson(dir)).manifests.map((e) => e.digest),
      [last(subject).digest],
    );
    assert.equal(await layout.exists(last(sig)), false);
    await assert.rejects(layout.delete(last(sig)), { code: 'NV2_ERR_CONTENT_NOT_FOUND' });
  });
});

describe('OCI layout: crash safety and verification', () => {
  it('a refused or failed push leaves no blob and no temporary file', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const b = blob(randomBytes(200_000));
    await assert.rejects(layout.push(b.descriptor, randomBytes(200_000)), {
      code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH',
    });
    await assert.rejects(layout.push(b.descriptor, b.content.subarray(0, 1000)), {
      code: 'NV2_ERR_CONTENT_SIZE_MISMATCH',
    });
    const failing = (async function* () {
      yield b.content.subarray(0, 100_000);
      throw new Error('connection reset');
    })();
    await assert.rejects(layout.push(b.descriptor, failing), /connection reset/);
    assert.deepEqual(await blobFiles(dir), []);
    assert.equal(await layout.exists(b.descriptor), false);
    const m = image(1);
    await pushAll(layout, m.slice(0, -1));
    await assert.rejects(layout.push(last(m), Buffer.from('{}')), {
      code: 'NV2_ERR_CONTENT_SIZE_MISMATCH',
    });
    assert.deepEqual((await readIndexJson(dir)).manifests, []);
    assert.equal(
      (await blobFiles(dir)).some((f) => f.startsWith('.')),
      false,
    );
  });

  it('a blob changed on disk fails the fetch with NV2_ERR_CONTENT_DIGEST_MISMATCH', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const b = blob(randomBytes(100_000));
    await layout.push(b.descriptor, b.content);
    const corrupt = Buffer.from(b.content);
    corrupt[50_000] = corrupt[50_000]! ^ 0xff;
    await writeFile(join(dir, 'blobs', 'sha256', digestHex(b.descriptor.digest)), corrupt);
    await assert.rejects(fetchAll(layout, b.descriptor), {
      code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH',
    });
  });

  it('a fetched stream destroyed before it is read closes its file', async () => {
    const dir = await newLayoutDir();
    const layout = await openOciLayout(dir, { create: true });
    const b = blob(randomBytes(100_000));
    await layout.push(b.descriptor, b.content);
    for (let i = 0; i < 50; i++) (await layout.fetch(b.descriptor)).destroy();
    assert.deepEqual(await readAll(await layout.fetch(b.descriptor)), b.content);
  });
});

describe('openOciLayout refuses what is not a layout', () => {
  it('a missing directory without create', async () => {
    await assert.rejects(openOciLayout(await newLayoutDir()), { code: 'NV2_ERR_FILE_NOT_FOUND' });
  });

  it('a directory without oci-layout, with another version, or a malformed index.json', async () => {
    const dir = await newLayoutDir();
    await mkdir(dir);
    await assert.rejects(openOciLayout(dir), { code: 'NV2_ERR_INVALID_OCI_LAYOUT' });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '2.0.0' }));
    await assert.rejects(openOciLayout(dir, { create: true }), {
      code: 'NV2_ERR_INVALID_OCI_LAYOUT',
    });
    assert.deepEqual(await readdir(dir), ['oci-layout']);
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await assert.rejects(openOciLayout(dir), { code: 'NV2_ERR_INVALID_OCI_LAYOUT' });
    await writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[{"digest":"x"}]}');
    await assert.rejects(openOciLayout(dir), { code: 'NV2_ERR_INVALID_OCI_LAYOUT' });
    await writeFile(join(dir, 'index.json'), 'not json');
    await assert.rejects(openOciLayout(dir), { code: 'NV2_ERR_INVALID_OCI_LAYOUT' });
  });
});

describe('parseOciLayoutLocator', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const cases: [string, { dir: string; reference?: string }][] = [
    ['oci-layout:./out', { dir: './out' }],
    ['oci-layout:/tmp/out:v1', { dir: '/tmp/out', reference: 'v1' }],
    [`oci-layout:/tmp/out@${digest}`, { dir: '/tmp/out', reference: digest }],
    ['oci-layout:a:b', { dir: 'a', reference: 'b' }],
    ['oci-layout:a:b:latest', { dir: 'a:b', reference: 'latest' }],
    [`oci-layout:a:b@${digest}`, { dir: 'a:b', reference: digest }],
    ['oci-layout:me@host/dir:v1', { dir: 'me@host/dir', reference: 'v1' }],
  ];
  for (const [input, expected] of cases) {
    it(`${input}`, () => assert.deepEqual(parseOciLayoutLocator(input), expected));
  }

  it('refuses other schemes, empty directories, bad tags and bad digests', () => {
    assert.throws(() => parseOciLayoutLocator('oci:./out'), { code: 'NV2_ERR_INVALID_TARGET' });
    assert.throws(() => parseOciLayoutLocator('oci-layout:'), { code: 'NV2_ERR_INVALID_TARGET' });
    assert.throws(() => parseOciLayoutLocator('oci-layout::v1'), {
      code: 'NV2_ERR_INVALID_TARGET',
    });
    assert.throws(() => parseOciLayoutLocator('oci-layout:out:'), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    assert.throws(() => parseOciLayoutLocator('oci-layout:/a:b/c'), {
      code: 'NV2_ERR_INVALID_REFERENCE',
    });
    assert.throws(() => parseOciLayoutLocator('oci-layout:out@sha256:abc'), {
      code: 'NV2_ERR_INVALID_DIGEST',
    });
  });
});
