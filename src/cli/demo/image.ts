/**
 * Builds real OCI images for the demo: gzip-compressed tar layers with files in them, a
 * config whose `rootfs.diff_ids` are the digests of the uncompressed layers, and the image
 * manifest, written into an OCI image layout, from where `nv2 copy` pushes them like any
 * image. Any OCI runtime could unpack what this makes.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { openOciLayout } from '../../content/index.js';
import { type Descriptor, MediaTypes, createDescriptor } from '../../oci/index.js';

/** A file in a layer. */
export interface ImageFile {
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
}

/** What `buildImage` makes. */
export interface BuiltImage {
  readonly manifest: Descriptor;
  readonly layers: readonly Descriptor[];
}

const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';

/** A fixed time for files and history, so that the same input builds the same digests. */
const EPOCH = new Date('2026-01-01T00:00:00Z');

async function tarOf(files: readonly ImageFile[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    archive.on('data', (chunk: unknown) => void chunks.push(chunk as Buffer));
    archive.on('end', () => resolve());
    archive.on('error', reject);
  });
  for (const file of files) {
    archive.entry(
      { name: file.path, mode: file.mode ?? 0o644, mtime: EPOCH, uid: 0, gid: 0 },
      file.content,
    );
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Writes an image of one layer per entry of `layers` into the OCI layout `dir`, tagged `tag`,
 * and returns its manifest descriptor.
 */
export async function buildImage(
  dir: string,
  tag: string,
  options: {
    readonly layers: readonly (readonly ImageFile[])[];
    readonly entrypoint: readonly string[];
    readonly labels?: Readonly<Record<string, string>>;
  },
): Promise<BuiltImage> {
  const layout = await openOciLayout(dir, { create: true });
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const files of options.layers) {
    const tar = await tarOf(files);
    diffIds.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    // mtime 0 in the gzip header keeps the compressed bytes (and digest) reproducible.
    const compressed = gzipSync(tar, { level: 9 });
    const layer = createDescriptor(LAYER_MEDIA_TYPE, compressed);
    await layout.push(layer, compressed);
    layers.push(layer);
  }
  const config = Buffer.from(
    JSON.stringify({
      created: EPOCH.toISOString(),
      architecture: 'amd64',
      os: 'linux',
      config: {
        Entrypoint: options.entrypoint,
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(options.labels !== undefined ? { Labels: options.labels } : {}),
      },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: EPOCH.toISOString(), created_by: 'nv2 demo' })),
    }),
  );
  const configDescriptor = createDescriptor(CONFIG_MEDIA_TYPE, config);
  await layout.push(configDescriptor, config);
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: configDescriptor,
      layers,
    }),
  );
  const manifest = createDescriptor(MediaTypes.ociManifest, manifestBytes);
  await layout.push(manifest, manifestBytes);
  await layout.tag(manifest, tag);
  return { manifest, layers };
}
