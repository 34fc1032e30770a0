import type { Descriptor, Digest } from '../../oci/index.js';
import { CREATED_ANNOTATION, MediaTypes } from '../../oci/index.js';
import type { RegistryStore } from '../storage/store.js';

/**
 * What the UI shows of a manifest (ui.ts): read once from the store, with the image's
 * creation time from its config, and kept (content never changes under a digest).
 */

/** Image config blobs read for the age column are at most this large. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Facts of manifests kept (content-addressed: they never change). */
const MAX_FACTS = 50_000;

/** What the UI shows of a manifest. */
export interface ManifestView {
  readonly mediaType: string;
  readonly size: number;
  /** Config plus layers of an image; sum of children of an index. */
  readonly totalSize: number;
  readonly artifactType?: string;
  readonly config?: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifests: readonly (Descriptor & { platform?: Record<string, unknown> })[];
  readonly subject?: Descriptor;
  /** The image's creation time (config `created`, else the `created` annotation). */
  readonly created?: Date;
}

/** The manifests the UI has looked at, by repository and digest. */
export class ManifestViews {
  readonly #store: RegistryStore;
  readonly #facts = new Map<string, Promise<ManifestView | undefined>>();

  constructor(store: RegistryStore) {
    this.#store = store;
  }

  /** A manifest's facts, cached by repository and digest (content never changes). */
  of(repository: string, digest: Digest): Promise<ManifestView | undefined> {
    const key = `${repository}@${digest}`;
    let facts = this.#facts.get(key);
    if (facts === undefined) {
      facts = this.#read(repository, digest);
      if (this.#facts.size >= MAX_FACTS) {
        const oldest = this.#facts.keys().next().value;
        if (oldest !== undefined) this.#facts.delete(oldest);
      }
      this.#facts.set(key, facts);
      facts.then(
        (f) => {
          if (f === undefined) this.#facts.delete(key);
        },
        () => this.#facts.delete(key),
      );
    }
    return facts;
  }

  async #read(repository: string, digest: Digest): Promise<ManifestView | undefined> {
    const stored = await this.#store.manifests.get(repository, digest);
    if (stored === undefined) return undefined;
    let doc: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(stored.content.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null) doc = parsed as Record<string, unknown>;
    } catch {
      // Stored manifests were validated on push; an unreadable one shows as bytes only.
    }
    const config = isDescriptorLike(doc['config']) ? doc['config'] : undefined;
    const layers = Array.isArray(doc['layers']) ? doc['layers'].filter(isDescriptorLike) : [];
    const manifests = Array.isArray(doc['manifests'])
      ? doc['manifests'].filter(isDescriptorLike)
      : [];
    const annotations =
      typeof doc['annotations'] === 'object' && doc['annotations'] !== null
        ? (doc['annotations'] as Record<string, unknown>)
        : {};
    let created = parseDate(annotations[CREATED_ANNOTATION]);
    if (
      config !== undefined &&
      config.size <= MAX_CONFIG_BYTES &&
      config.mediaType !== MediaTypes.ociEmpty
    ) {
      const info = await this.#store.blobs.stat(repository, config.digest);
      if (info !== undefined) {
        const chunks: Buffer[] = [];
        for await (const chunk of await this.#store.blobs.open(repository, config.digest)) {
          chunks.push(chunk as Buffer);
        }
        try {
          const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          created = parseDate(cfg['created']) ?? created;
        } catch {
          // Not a JSON config (an artifact's): no creation time from it.
        }
      }
    }
    const artifactType =
      stored.descriptor.artifactType ??
      (config !== undefined &&
      config.mediaType !== MediaTypes.ociEmpty &&
      !config.mediaType.includes('image.config')
        ? config.mediaType
        : undefined);
    const children = [...(config !== undefined ? [config] : []), ...layers, ...manifests];
    return {
      mediaType: stored.descriptor.mediaType,
      size: stored.descriptor.size,
      totalSize: children.reduce((sum, d) => sum + d.size, 0),
      ...(artifactType !== undefined ? { artifactType } : {}),
      ...(config !== undefined ? { config } : {}),
      layers,
      manifests,
      ...(stored.subject !== undefined ? { subject: stored.subject } : {}),
      ...(created !== undefined ? { created } : {}),
    };
  }
}

function isDescriptorLike(value: unknown): value is Descriptor {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    typeof d['mediaType'] === 'string' &&
    typeof d['digest'] === 'string' &&
    typeof d['size'] === 'number'
  );
}

function parseDate(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
