/**
 * The Target contract (`src/content/target.ts`), run against every implementation: the
 * memory store, the OCI layout store, and the registry client (`remote.Repository`). A
 * store's test file is one call:
 *
 *   describeTarget('memory store', async () => createMemoryStore());
 *
 * `make` must return a new, empty target on every call (for a registry: a new repository).
 * Tests use only what every implementation can do: children are pushed before the manifests
 * that list them (registries require it), content is fetched by the descriptor it was
 * pushed as, and listings are compared as sets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { ReferrerLister, Target } from '../../src/content/index.js';
import { type Descriptor, MediaTypes, createDescriptor } from '../../src/oci/index.js';

const NOT_FOUND = { code: 'NV2_ERR_CONTENT_NOT_FOUND' };
const DIGEST_MISMATCH = { code: 'NV2_ERR_CONTENT_DIGEST_MISMATCH' };
const SIZE_MISMATCH = { code: 'NV2_ERR_CONTENT_SIZE_MISMATCH' };

/** Content and the descriptor it is pushed as. */
export interface Item {
  readonly descriptor: Descriptor;
  readonly content: Buffer;
}

/** A blob of `content` (random bytes by default). */
export function blob(
  content: Buffer | string = randomBytes(64),
  mediaType = 'application/vnd.oci.image.layer.v1.tar',
): Item {
  const bytes = Buffer.from(content);
  return { descriptor: createDescriptor(mediaType, bytes), content: bytes };
}

/** The empty config of artifacts (image-spec "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG = blob('{}', MediaTypes.ociEmpty);

/** Options of `manifest`. */
export interface ManifestOptions {
  readonly mediaType?: string;
  readonly config?: Item;
  readonly layers?: readonly Item[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

function plain(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * An image manifest (OCI by default, or Docker schema 2) over `config` and `layers`; with
 * `subject`, a referrer of it.
 */
export function manifest(options: ManifestOptions = {}): Item {
  const mediaType = options.mediaType ?? MediaTypes.ociManifest;
  const config =
    options.config ?? blob(randomBytes(16), 'application/vnd.oci.image.config.v1+json');
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(options.artifactType !== undefined ? { artifactType: options.artifactType } : {}),
    config: config.descriptor,
    layers: (options.layers ?? []).map((l) => l.descriptor),
    ...(options.subject !== undefined ? { subject: plain(options.subject) } : {}),
    ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
  };
  return blob(JSON.stringify(doc), mediaType);
}

/** An image index (OCI by default, or a Docker manifest list) of `manifests`. */
export function index(
  manifests: readonly Descriptor[],
  options: {
    mediaType?: string;
    subject?: Descriptor;
    artifactType?: string;
    annotations?: Record<string, string>;
  } = {},
): Item {
  const mediaType = options.mediaType ?? MediaTypes.ociIndex;
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(options.artifactType !== undefined ? { artifactType: options.artifactType } : {}),
    manifests,
    ...(options.subject !== undefined ? { subject: plain(options.subject) } : {}),
    ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
  };
  return blob(JSON.stringify(doc), mediaType);
}

/** An image: config, `layers` random layers and the manifest, in push order (manifest last). */
export function image(
  layers = 2,
  options: Omit<ManifestOptions, 'config' | 'layers'> = {},
): Item[] {
  const mediaType = options.mediaType ?? MediaTypes.ociManifest;
  const docker = mediaType === MediaTypes.dockerManifest;
  const config = blob(
    JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }),
    docker
      ? 'application/vnd.docker.container.image.v1+json'
      : 'application/vnd.oci.image.config.v1+json',
  );
  const layerItems = Array.from({ length: layers }, () =>
    blob(
      randomBytes(128),
      docker
        ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
        : 'application/vnd.oci.image.layer.v1.tar',
    ),
  );
  return [config, ...layerItems, manifest({ ...options, config, layers: layerItems })];
}

/**
 * An nv2 signature artifact of `subject` (specs/artifact-layout.md): empty config, the
 * signature file, the manifest; in push order.
 */
export function signature(subject: Descriptor, created = '2026-11-23T10:00:00Z'): Item[] {
  const jws = blob(`eyJ.${randomBytes(32).toString('base64url')}.sig`, MediaTypes.nv2Signature);
  return [
    EMPTY_CONFIG,
    jws,
    manifest({
      artifactType: MediaTypes.nv2ArtifactType,
      config: EMPTY_CONFIG,
      layers: [jws],
      subject,
      annotations: { 'org.opencontainers.image.created': created },
    }),
  ];
}

/** The media type of the SBOM artifacts the tests make. */
export const SBOM_TYPE = 'application/spdx+json';

/** An SBOM artifact of `subject`, in push order. */
export function sbom(subject: Descriptor): Item[] {
  const doc = blob(
    JSON.stringify({ spdxVersion: 'SPDX-2.3', n: randomBytes(8).toString('hex') }),
    SBOM_TYPE,
  );
  return [
    EMPTY_CONFIG,
    doc,
    manifest({ artifactType: SBOM_TYPE, config: EMPTY_CONFIG, layers: [doc], subject }),
  ];
}

/** The last item: the manifest of what `image`, `signature` or `sbom` made. */
export function last(items: readonly Item[]): Descriptor {
  return items[items.length - 1]!.descriptor;
}

/** Pushes items in order. */
export async function pushAll(target: Target, items: readonly Item[]): Promise<void> {
  for (const item of items) await target.push(item.descriptor, item.content);
}

/** Reads a stream to its end. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Fetches and reads content: an error at `fetch` or while reading rejects the same way. */
export async function fetchAll(target: Target, d: Descriptor): Promise<Buffer> {
  return readAll(await target.fetch(d));
}

async function* chunked(content: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < content.byteLength; i += size) yield content.subarray(i, i + size);
}

/** A referrer descriptor as a listing shows it, with empty annotations dropped. */
function listed(d: Descriptor): Descriptor {
  const { annotations, ...rest } = d;
  return annotations !== undefined && Object.keys(annotations).length > 0
    ? { ...rest, annotations }
    : rest;
}

function byDigest(list: readonly Descriptor[]): Descriptor[] {
  return [...list].map(listed).sort((a, b) => (a.digest < b.digest ? -1 : 1));
}

/** The referrer descriptor a listing must show for a manifest made by `manifest()`. */
function expectedReferrer(item: Item, artifactType: string, annotations?: Record<string, string>) {
  return listed({
    ...plain(item.descriptor),
    artifactType,
    ...(annotations ? { annotations } : {}),
  });
}

/** Runs the Target contract against targets made by `make`. */
export function describeTarget(name: string, make: () => Promise<Target & ReferrerLister>): void {
  describe(`Target contract: ${name}`, () => {
    describe('blobs', () => {
      it('fetch returns exactly what was pushed, and exists turns true', async () => {
        const t = await make();
        const b = blob(randomBytes(1000));
        assert.equal(await t.exists(b.descriptor), false);
        await t.push(b.descriptor, b.content);
        assert.equal(await t.exists(b.descriptor), true);
        assert.deepEqual(await fetchAll(t, b.descriptor), b.content);
      });

      it('push takes an async iterable of many chunks', async () => {
        const t = await make();
        const b = blob(randomBytes(256 * 1024 + 7));
        await t.push(b.descriptor, chunked(b.content, 10_000));
        assert.deepEqual(await fetchAll(t, b.descriptor), b.content);
      });

      it('an empty blob', async () => {
        const t = await make();
        const b = blob(Buffer.alloc(0));
        await t.push(b.descriptor, b.content);
        assert.equal(await t.exists(b.descriptor), true);
        assert.equal((await fetchAll(t, b.descriptor)).byteLength, 0);
      });

      it('pushing what is there already succeeds and changes nothing', async () => {
        const t = await make();
        const b = blob();
        await t.push(b.descriptor, b.content);
        await t.push(b.descriptor, b.content);
        await t.push(b.descriptor, chunked(b.content, 7));
        assert.deepEqual(await fetchAll(t, b.descriptor), b.content);
      });

      it('content of another digest is refused and never becomes visible', async () => {
        const t = await make();
        const b = blob(randomBytes(300));
        const other = Buffer.from(b.content);
        other[0] = other[0]! ^ 1;
        await assert.rejects(t.push(b.descriptor, other), DIGEST_MISMATCH);
        await assert.rejects(t.push(b.descriptor, chunked(other, 64)), DIGEST_MISMATCH);
        assert.equal(await t.exists(b.descriptor), false);
        await assert.rejects(fetchAll(t, b.descriptor), NOT_FOUND);
      });

      it('content longer or shorter than its size is refused and never becomes visible', async () => {
        const t = await make();
        const b = blob(randomBytes(300));
        await assert.rejects(
          t.push(b.descriptor, Buffer.concat([b.content, Buffer.from('x')])),
          SIZE_MISMATCH,
        );
        await assert.rejects(t.push(b.descriptor, b.content.subarray(0, 299)), SIZE_MISMATCH);
        await assert.rejects(
          t.push(b.descriptor, chunked(b.content.subarray(0, 10), 3)),
          SIZE_MISMATCH,
        );
        assert.equal(await t.exists(b.descriptor), false);
        await assert.rejects(fetchAll(t, b.descriptor), NOT_FOUND);
      });

      it('after a refused push, the right content can still be pushed', async () => {
        const t = await make();
        const b = blob(randomBytes(300));
        await assert.rejects(t.push(b.descriptor, randomBytes(300)), DIGEST_MISMATCH);
        await t.push(b.descriptor, b.content);
        assert.deepEqual(await fetchAll(t, b.descriptor), b.content);
      });

      it('absent content: exists is false, fetch rejects with NV2_ERR_CONTENT_NOT_FOUND', async () => {
        const t = await make();
        const b = blob();
        assert.equal(await t.exists(b.descriptor), false);
        await assert.rejects(t.fetch(b.descriptor), NOT_FOUND);
      });

      it('fetch by a descriptor of another size fails with NV2_ERR_CONTENT_SIZE_MISMATCH', async () => {
        const t = await make();
        const b = blob(randomBytes(100));
        await t.push(b.descriptor, b.content);
        await assert.rejects(fetchAll(t, { ...b.descriptor, size: 99 }), SIZE_MISMATCH);
        await assert.rejects(fetchAll(t, { ...b.descriptor, size: 101 }), SIZE_MISMATCH);
      });
    });

    describe('manifests and tags', () => {
      it('a manifest resolves by digest to its media type, digest and size; fetch returns its bytes', async () => {
        const t = await make();
        const items = image();
        await pushAll(t, items);
        const m = items[items.length - 1]!;
        assert.deepEqual(await t.resolve(m.descriptor.digest), plain(m.descriptor));
        assert.equal(await t.exists(m.descriptor), true);
        assert.deepEqual(await fetchAll(t, m.descriptor), m.content);
        for (const child of items.slice(0, -1))
          assert.equal(await t.exists(child.descriptor), true);
      });

      it('pushing a manifest again succeeds and changes nothing', async () => {
        const t = await make();
        const items = image();
        await pushAll(t, items);
        await pushAll(t, items);
        const m = items[items.length - 1]!;
        assert.deepEqual(await t.resolve(m.descriptor.digest), plain(m.descriptor));
        assert.deepEqual(await fetchAll(t, m.descriptor), m.content);
      });

      it('a manifest of another digest is refused and does not resolve', async () => {
        const t = await make();
        const [config, layer] = image(1);
        await pushAll(t, [config!, layer!]);
        const m = manifest({ config: config!, layers: [layer!], annotations: { n: 'a' } });
        // Valid JSON of the same size, over content that is there: only the digest differs.
        const other = manifest({ config: config!, layers: [layer!], annotations: { n: 'b' } });
        await assert.rejects(t.push(m.descriptor, other.content), DIGEST_MISMATCH);
        await assert.rejects(t.resolve(m.descriptor.digest), NOT_FOUND);
        assert.equal(await t.exists(m.descriptor), false);
        await t.push(m.descriptor, m.content);
        assert.deepEqual(await t.resolve(m.descriptor.digest), plain(m.descriptor));
      });

      it('tag points a tag at a manifest; tagging again moves it', async () => {
        const t = await make();
        const a = image();
        const b = image();
        await pushAll(t, a);
        await pushAll(t, b);
        await t.tag(last(a), 'v1');
        await t.tag(last(a), 'latest');
        assert.deepEqual(await t.resolve('v1'), plain(last(a)));
        assert.deepEqual(await t.resolve('latest'), plain(last(a)));
        await t.tag(last(b), 'v1');
        assert.deepEqual(await t.resolve('v1'), plain(last(b)));
        assert.deepEqual(await t.resolve('latest'), plain(last(a)));
        // The manifest a tag moved away from is still there by digest.
        assert.deepEqual(await t.resolve(last(a).digest), plain(last(a)));
        await t.tag(last(b), 'v1');
        assert.deepEqual(await t.resolve('v1'), plain(last(b)));
      });

      it('unknown tags and digests reject with NV2_ERR_CONTENT_NOT_FOUND', async () => {
        const t = await make();
        await assert.rejects(t.resolve('nope'), NOT_FOUND);
        await assert.rejects(t.resolve(last(image()).digest), NOT_FOUND);
      });

      it('tagging a manifest that is not there rejects with NV2_ERR_CONTENT_NOT_FOUND', async () => {
        const t = await make();
        const items = image();
        await assert.rejects(t.tag(last(items), 'v1'), NOT_FOUND);
        await assert.rejects(t.resolve('v1'), NOT_FOUND);
      });

      it('a Docker schema 2 manifest keeps its media type', async () => {
        const t = await make();
        const items = image(2, { mediaType: MediaTypes.dockerManifest });
        await pushAll(t, items);
        await t.tag(last(items), 'docker');
        assert.deepEqual(await t.resolve('docker'), plain(last(items)));
        assert.equal((await t.resolve(last(items).digest)).mediaType, MediaTypes.dockerManifest);
        assert.deepEqual(await fetchAll(t, last(items)), items[items.length - 1]!.content);
      });

      it('a Docker manifest list and its children', async () => {
        const t = await make();
        const amd = image(1, { mediaType: MediaTypes.dockerManifest });
        const arm = image(1, { mediaType: MediaTypes.dockerManifest });
        const list = index(
          [
            { ...plain(last(amd)), platform: { architecture: 'amd64', os: 'linux' } } as Descriptor,
            { ...plain(last(arm)), platform: { architecture: 'arm64', os: 'linux' } } as Descriptor,
          ],
          { mediaType: MediaTypes.dockerManifestList },
        );
        await pushAll(t, [...amd, ...arm, list]);
        await t.tag(list.descriptor, 'multi');
        assert.deepEqual(await t.resolve('multi'), plain(list.descriptor));
        assert.deepEqual(await t.resolve(last(arm).digest), plain(last(arm)));
        assert.deepEqual(await fetchAll(t, list.descriptor), list.content);
      });

      it('an OCI index: its children resolve by digest and fetch', async () => {
        const t = await make();
        const amd = image(2);
        const arm = image(2);
        const idx = index([plain(last(amd)), plain(last(arm))]);
        await pushAll(t, [...amd, ...arm, idx]);
        await t.tag(idx.descriptor, 'v1');
        assert.deepEqual(await t.resolve('v1'), plain(idx.descriptor));
        for (const child of [amd, arm]) {
          assert.deepEqual(await t.resolve(last(child).digest), plain(last(child)));
          assert.deepEqual(await fetchAll(t, last(child)), child[child.length - 1]!.content);
        }
        assert.deepEqual(await fetchAll(t, idx.descriptor), idx.content);
      });

      it('an index of indexes', async () => {
        const t = await make();
        const leaf = image(1);
        const inner = index([plain(last(leaf))]);
        const outer = index([inner.descriptor]);
        await pushAll(t, [...leaf, inner, outer]);
        assert.deepEqual(await t.resolve(outer.descriptor.digest), plain(outer.descriptor));
        assert.deepEqual(await t.resolve(inner.descriptor.digest), plain(inner.descriptor));
      });
    });

    describe('referrers', () => {
      it('lists the manifests whose subject is the manifest, with artifactType and annotations', async () => {
        const t = await make();
        const subject = image();
        const sig = signature(last(subject));
        const bom = sbom(last(subject));
        await pushAll(t, [...subject, ...sig, ...bom]);
        assert.deepEqual(
          byDigest(await t.referrers(last(subject))),
          byDigest([
            expectedReferrer(sig[2]!, MediaTypes.nv2ArtifactType, {
              'org.opencontainers.image.created': '2026-11-23T10:00:00Z',
            }),
            expectedReferrer(bom[2]!, SBOM_TYPE),
          ]),
        );
      });

      it('filters by artifactType', async () => {
        const t = await make();
        const subject = image();
        const sig1 = signature(last(subject));
        const sig2 = signature(last(subject), '2026-11-24T10:00:00Z');
        const bom = sbom(last(subject));
        await pushAll(t, [...subject, ...sig1, ...bom, ...sig2]);
        const sigs = await t.referrers(last(subject), { artifactType: MediaTypes.nv2ArtifactType });
        assert.deepEqual(
          sigs.map((d) => d.digest).sort(),
          [last(sig1).digest, last(sig2).digest].sort(),
        );
        for (const d of sigs) assert.equal(d.artifactType, MediaTypes.nv2ArtifactType);
        const boms = await t.referrers(last(subject), { artifactType: SBOM_TYPE });
        assert.deepEqual(
          boms.map((d) => d.digest),
          [last(bom).digest],
        );
        assert.deepEqual(
          await t.referrers(last(subject), { artifactType: 'application/vnd.example.none' }),
          [],
        );
      });

      it('a manifest without referrers, and one that is not there, list none', async () => {
        const t = await make();
        const subject = image();
        await pushAll(t, subject);
        assert.deepEqual(await t.referrers(last(subject)), []);
        assert.deepEqual(await t.referrers(last(image())), []);
      });

      it('a referrer pushed before its subject is listed, before and after the subject arrives', async () => {
        const t = await make();
        const subject = image();
        const sig = signature(last(subject));
        await pushAll(t, sig);
        assert.deepEqual(
          (await t.referrers(last(subject))).map((d) => d.digest),
          [last(sig).digest],
        );
        await pushAll(t, subject);
        assert.deepEqual(
          (await t.referrers(last(subject))).map((d) => d.digest),
          [last(sig).digest],
        );
      });

      it('without its own artifactType, a referrer shows its config media type', async () => {
        const t = await make();
        const subject = image();
        const config = blob('{"kind":"attestation"}', 'application/vnd.example.attestation.config');
        const layer = blob();
        const ref = manifest({ config, layers: [layer], subject: last(subject) });
        await pushAll(t, [...subject, config, layer, ref]);
        const [only, ...rest] = await t.referrers(last(subject));
        assert.deepEqual(rest, []);
        assert.equal(only?.digest, ref.descriptor.digest);
        assert.equal(only?.artifactType, 'application/vnd.example.attestation.config');
      });

      it('referrers of referrers: the signature of an SBOM is listed under the SBOM only', async () => {
        const t = await make();
        const subject = image();
        const bom = sbom(last(subject));
        const bomSig = signature(last(bom));
        await pushAll(t, [...subject, ...bom, ...bomSig]);
        assert.deepEqual(
          (await t.referrers(last(subject))).map((d) => d.digest),
          [last(bom).digest],
        );
        assert.deepEqual(
          (await t.referrers(last(bom))).map((d) => d.digest),
          [last(bomSig).digest],
        );
      });

      it('the children of an index have referrers of their own', async () => {
        const t = await make();
        const amd = image(1);
        const arm = image(1);
        const idx = index([plain(last(amd)), plain(last(arm))]);
        const sigIdx = signature(idx.descriptor);
        const sigArm = signature(last(arm));
        await pushAll(t, [...amd, ...arm, idx, ...sigIdx, ...sigArm]);
        assert.deepEqual(
          (await t.referrers(idx.descriptor)).map((d) => d.digest),
          [last(sigIdx).digest],
        );
        assert.deepEqual(
          (await t.referrers(last(arm))).map((d) => d.digest),
          [last(sigArm).digest],
        );
        assert.deepEqual(await t.referrers(last(amd)), []);
      });

      it('an OCI index with a subject is a referrer', async () => {
        const t = await make();
        const subject = image();
        const part = image(1);
        const bundle = index([plain(last(part))], {
          subject: last(subject),
          artifactType: 'application/vnd.example.bundle',
          annotations: { purpose: 'test' },
        });
        await pushAll(t, [...subject, ...part, bundle]);
        assert.deepEqual(byDigest(await t.referrers(last(subject))), [
          expectedReferrer(bundle, 'application/vnd.example.bundle', { purpose: 'test' }),
        ]);
      });
    });
  });
}
