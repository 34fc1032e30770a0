import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { InvalidInputError, VerificationInconclusiveError } from '../errors.js';
import type { DockerCommand } from './docker-command.js';
import {
  type Descriptor,
  type Digest,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  createDescriptor,
  formatReference,
  isDescriptor,
  parseReference,
  withDefaultTag,
} from '../oci/index.js';

/** Which archive a manifest was generated from. */
export type ArchiveFormat = 'docker-archive' | 'oci-archive';

/** The image manifest an archive describes. */
export interface GeneratedManifest {
  /** The manifest's mediaType, digest and size: what a signature signs. */
  readonly descriptor: Descriptor;
  /** The manifest bytes. */
  readonly content: Buffer;
  readonly format: ArchiveFormat;
  /** The names the archive gives the image (`RepoTags`, or the OCI name annotations). */
  readonly names: readonly string[];
  /**
   * Layers stored uncompressed: `docker push` compresses these, so the digest it pushes
   * differs from this manifest's.
   */
  readonly uncompressedLayers: number;
}

/** Options of `readImageArchive`. */
export interface ReadImageArchiveOptions {
  /** The image to pick when the archive holds several (a name as `docker save` was given). */
  readonly image?: string;
}

/** What was seen of one file of the archive. */
interface ArchiveFile {
  readonly digest: Digest;
  readonly size: number;
  /** The first bytes, to tell compressed layers from plain tar. */
  readonly head: Buffer;
  /** The whole content, kept for the small metadata files only. */
  readonly content?: Buffer;
}

/** The most bytes of small files kept in memory while reading one archive. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

const UNCOMPRESSED_LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.docker.image.rootfs.diff.tar',
]);

function invalid(why: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_DOCKER_ARCHIVE',
    `not a readable docker save archive or OCI image layout archive: ${why}`,
    cause !== undefined ? { cause } : undefined,
  );
}

function clean(name: string): string {
  return posix
    .normalize(name)
    .replace(/^(\.\/)+/, '')
    .replace(/\/$/, '');
}

/** Files kept whole: the archive's metadata, and blobs small enough to be manifests or configs. */
function keepsContent(name: string, size: number): boolean {
  if (size > MAX_MANIFEST_BYTES) return false;
  return (
    name === 'manifest.json' ||
    name === 'index.json' ||
    name === 'oci-layout' ||
    name.endsWith('.json') ||
    name.startsWith('blobs/')
  );
}

async function readEntries(
  input: Readable,
): Promise<{ files: Map<string, ArchiveFile>; links: Map<string, string> }> {
  const files = new Map<string, ArchiveFile>();
  const links = new Map<string, string>();
  const reader = extract();
  input.on('error', (err) => reader.destroy(err));
  input.pipe(reader);
  let kept = 0;
  try {
    for await (const entry of reader) {
      const name = clean(entry.header.name);
      const type = entry.header.type ?? 'file';
      if ((type === 'symlink' || type === 'link') && entry.header.linkname) {
        const target =
          type === 'symlink'
            ? clean(posix.join(posix.dirname(name), entry.header.linkname))
            : clean(entry.header.linkname);
        links.set(name, target);
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const size = entry.header.size ?? 0;
      const keep = keepsContent(name, size) && kept + size <= MAX_KEPT_BYTES;
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let head = Buffer.alloc(0);
      let seen = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        hash.update(chunk);
        if (head.length < 4) head = Buffer.concat([head, chunk.subarray(0, 4 - head.length)]);
        if (keep) chunks.push(chunk);
        seen += chunk.length;
      }
      if (keep) kept += seen;
      files.set(name, {
        digest: `sha256:${hash.digest('hex')}` as Digest,
        size: seen,
        head,
        ...(keep ? { content: Buffer.concat(chunks) } : {}),
      });
    }
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw invalid((err as Error).message, err);
  }
  return { files, links };
}

function lookup(
  files: Map<string, ArchiveFile>,
  links: Map<string, string>,
  name: string,
): ArchiveFile | undefined {
  let path = clean(name);
  for (let hops = 0; hops < 16 && !files.has(path); hops++) {
    const next = links.get(path);
    if (next === undefined) break;
    path = next;
  }
  return files.get(path);
}

function json(file: ArchiveFile | undefined, name: string): unknown {
  if (file?.content === undefined) throw invalid(`${name} is missing or too large`);
  try {
    return JSON.parse(file.content.toString('utf8'));
  } catch (err) {
    throw invalid(`${name} is not JSON`, err);
  }
}

/** Whether `name` (as `docker save` was given it) names what `candidate` names. */
function sameImage(name: string, candidate: string): boolean {
  const normalize = (n: string): string => formatReference(withDefaultTag(parseReference(n)));
  try {
    return normalize(name) === normalize(candidate);
  } catch {
    return name === candidate;
  }
}

function pick<T>(items: readonly T[], namesOf: (item: T) => readonly string[], image?: string): T {
  if (items.length === 0) throw invalid('it holds no image');
  if (image !== undefined) {
    const found = items.filter((item) => namesOf(item).some((n) => sameImage(image, n)));
    if (found.length === 1) return found[0]!;
    if (items.length === 1) return items[0]!;
    throw invalid(`no single image named ${image} in it`);
  }
  if (items.length === 1) return items[0]!;
  const names = items.map((item) => namesOf(item).join(', ') || '(unnamed)').join('; ');
  throw new InvalidInputError(
    'NV2_ERR_INVALID_ARGUMENT',
    `the archive holds ${items.length} images (${names}): name the one to use`,
  );
}

function layerMediaType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b)
    return 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'application/vnd.oci.image.layer.v1.tar+zstd';
  return 'application/vnd.docker.image.rootfs.diff.tar';
}

function countUncompressed(manifest: unknown): number {
  const layers = (manifest as { layers?: unknown }).layers;
  if (!Array.isArray(layers)) return 0;
  return layers.filter((l) => isDescriptor(l) && UNCOMPRESSED_LAYER_TYPES.has(l.mediaType)).length;
}

function fromOciArchive(
  files: Map<string, ArchiveFile>,
  links: Map<string, string>,
  image: string | undefined,
): GeneratedManifest {
  const index = json(files.get('index.json'), 'index.json') as { manifests?: unknown };
  if (!Array.isArray(index.manifests) || !index.manifests.every((d) => isDescriptor(d))) {
    throw invalid('index.json has no valid manifests list');
  }
  const names = (d: Descriptor): string[] =>
    ['io.containerd.image.name', 'org.opencontainers.image.ref.name']
      .map((key) => d.annotations?.[key])
      .filter((n): n is string => n !== undefined);
  const chosen = pick(index.manifests as Descriptor[], names, image);
  const [algorithm, hex] = chosen.digest.split(':');
  const blob = lookup(files, links, `blobs/${algorithm}/${hex}`);
  if (blob?.content === undefined) throw invalid(`the manifest ${chosen.digest} is missing`);
  if (blob.digest !== chosen.digest || blob.size !== chosen.size) {
    throw invalid(`the manifest blob does not match its descriptor ${chosen.digest}`);
  }
  const manifest = json(blob, chosen.digest);
  return {
    descriptor: { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.size },
    content: blob.content,
    format: 'oci-archive',
    names: names(chosen),
    uncompressedLayers: countUncompressed(manifest),
  };
}

interface ClassicEntry {
  readonly Config: string;
  readonly RepoTags: readonly string[];
  readonly Layers: readonly string[];
}

function isClassicEntry(value: unknown): value is ClassicEntry {
  const e = value as Partial<ClassicEntry> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.Config === 'string' &&
    Array.isArray(e.Layers) &&
    e.Layers.every((l) => typeof l === 'string') &&
    (e.RepoTags === undefined || e.RepoTags === null || Array.isArray(e.RepoTags))
  );
}

function fromDockerArchive(
  files: Map<string, ArchiveFile>,
  links: Map<string, string>,
  image: string | undefined,
): GeneratedManifest {
  const entries = json(files.get('manifest.json'), 'manifest.json');
  if (!Array.isArray(entries) || !entries.every(isClassicEntry)) {
    throw invalid('manifest.json is not a list of {Config, RepoTags, Layers}');
  }
  const chosen = pick(entries, (e) => e.RepoTags ?? [], image);
  const describe = (path: string, mediaType: (f: ArchiveFile) => string): Descriptor => {
    const file = lookup(files, links, path);
    if (file === undefined) throw invalid(`${path} is missing`);
    return { mediaType: mediaType(file), digest: file.digest, size: file.size };
  };
  const layers = chosen.Layers.map((path) => describe(path, (f) => layerMediaType(f.head)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: describe(chosen.Config, () => 'application/vnd.docker.container.image.v1+json'),
    layers,
  };
  const content = Buffer.from(JSON.stringify(manifest, null, 3));
  return {
    descriptor: createDescriptor(MediaTypes.dockerManifest, content),
    content,
    format: 'docker-archive',
    names: chosen.RepoTags ?? [],
    uncompressedLayers: countUncompressed(manifest),
  };
}

/**
 * Reads a `docker save` archive from `input` as a stream (nothing is written to disk) and
 * returns the image manifest it describes. An archive with `index.json` and `oci-layout`
 * (what docker 25 and later writes, and any OCI image layout packed with tar) yields the
 * manifest stored in it, byte for byte; a classic archive (`manifest.json`, `<id>.json`,
 * `<id>/layer.tar`) yields the Docker schema 2 manifest of its config and layers as stored.
 *
 * @throws InvalidInputError NV2_ERR_DOCKER_ARCHIVE when the input is not such an archive,
 *   NV2_ERR_INVALID_ARGUMENT when it holds several images and `image` picks none
 */
export async function readImageArchive(
  input: Readable,
  options: ReadImageArchiveOptions = {},
): Promise<GeneratedManifest> {
  const { files, links } = await readEntries(input);
  if (files.size === 0) throw invalid('it is empty or not a tar archive');
  if (files.has('index.json') && files.has('oci-layout')) {
    return fromOciArchive(files, links, options.image);
  }
  if (files.has('manifest.json')) return fromDockerArchive(files, links, options.image);
  throw invalid('it has neither index.json and oci-layout nor manifest.json');
}

/**
 * Runs `docker save IMAGE` and reads the manifest of the archive it writes, as it streams.
 *
 * @throws VerificationInconclusiveError NV2_ERR_DOCKER_COMMAND when docker save fails (its
 *   first line of error output is in the message, followed by `hint`)
 * @throws InvalidInputError NV2_ERR_DOCKER_ARCHIVE when what it wrote cannot be read
 */
export async function manifestFromDockerSave(
  docker: DockerCommand,
  image: string,
  options: { readonly hint?: string } = {},
): Promise<GeneratedManifest> {
  const saved = docker.stream(['save', image]);
  let generated: GeneratedManifest | undefined;
  let failure: unknown;
  try {
    generated = await readImageArchive(saved.stdout, { image });
  } catch (err) {
    failure = err;
    // Let docker finish writing: a child blocked on a full pipe would never exit.
    saved.stdout.resume();
  }
  const { code, stderr } = await saved.exited;
  if (code !== 0) {
    const why = stderr !== '' ? `: ${stderr.split('\n')[0]!}` : '';
    throw new VerificationInconclusiveError(
      'NV2_ERR_DOCKER_COMMAND',
      `docker save ${image} failed (exit ${code})${why}${options.hint ?? ''}`,
    );
  }
  if (generated === undefined) throw failure;
  return generated;
}
