/**
 * Builds OCI image layouts (image-spec `image-layout.md`) on disk, for clients such as skopeo
 * to copy into and out of a registry: multi-layer images and multi-platform indexes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function writeBlob(
  layout: string,
  data: Uint8Array,
): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layout, 'blobs', 'sha256', digest.slice(7)), data);
  return { digest, size: data.byteLength };
}

/** A descriptor as written into manifests and index.json. */
export interface LayoutDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { architecture: string; os: string };
  readonly annotations?: Record<string, string>;
}

async function writeImage(
  layout: string,
  layers: number,
  layerSize: number,
  architecture: string,
): Promise<LayoutDescriptor> {
  const layerDescriptors: LayoutDescriptor[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < layers; i++) {
    // Uncompressed "tar" layers: clients copy them as they are, so digests survive round trips.
    const data = randomBytes(layerSize);
    const blob = await writeBlob(layout, data);
    layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob });
    diffIds.push(blob.digest);
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: diffIds },
      config: {},
    }),
  );
  const configBlob = await writeBlob(layout, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: layerDescriptors,
    }),
  );
  const blob = await writeBlob(layout, manifest);
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...blob,
    platform: { architecture, os: 'linux' },
  };
}

async function writeLayoutIndex(layout: string, manifests: LayoutDescriptor[]): Promise<void> {
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
}

/** An OCI layout holding one image with `layers` random layers, tagged `tag`. */
export async function writeImageLayout(
  layout: string,
  options: { tag: string; layers?: number; layerSize?: number },
): Promise<LayoutDescriptor> {
  const image = await writeImage(
    layout,
    options.layers ?? 3,
    options.layerSize ?? 64 * 1024,
    'amd64',
  );
  const { platform: _platform, ...descriptor } = image;
  await writeLayoutIndex(layout, [
    { ...descriptor, annotations: { 'org.opencontainers.image.ref.name': options.tag } },
  ]);
  return descriptor;
}

/** An OCI layout holding an image index of two platform images, tagged `tag`. */
export async function writeIndexLayout(
  layout: string,
  options: { tag: string },
): Promise<LayoutDescriptor> {
  const images = [
    await writeImage(layout, 2, 32 * 1024, 'amd64'),
    await writeImage(layout, 2, 32 * 1024, 'arm64'),
  ];
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images,
    }),
  );
  const blob = await writeBlob(layout, index);
  const descriptor = { mediaType: 'application/vnd.oci.image.index.v1+json', ...blob };
  await writeLayoutIndex(layout, [
    { ...descriptor, annotations: { 'org.opencontainers.image.ref.name': options.tag } },
  ]);
  return descriptor;
}
