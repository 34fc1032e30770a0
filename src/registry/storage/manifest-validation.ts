import { StorageError } from '../../errors.js';
import type { Descriptor, Digest, ManifestFacts, ManifestKind } from '../../oci/index.js';
import {
  FOREIGN_LAYER_MEDIA_TYPES,
  MediaTypes,
  digestAlgorithm,
  digestOf,
  isDigest,
  isMediaType,
  isTag,
  manifestKind,
} from '../../oci/index.js';
import { RegistryError } from './store.js';

/**
 * What a manifest's bytes say, without storage: the checks of a push (size, reference,
 * schema, digest) shared by every metadata store, and the lenient reading of a stored
 * manifest that serving and garbage collection rely on.
 */

/**
 * Content types that say nothing about the manifest: the media type then comes from the
 * manifest's own `mediaType` field (as distribution does for an empty or `application/json`
 * Content-Type).
 */
const GENERIC_CONTENT_TYPES: ReadonlySet<string> = new Set([
  '',
  'application/json',
  'application/octet-stream',
]);

/** A validated manifest: what put needs from the JSON. */
export interface ValidatedManifest extends ManifestFacts {
  readonly kind: ManifestKind['kind'];
  readonly config?: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A manifest push that passed every check that needs no storage. */
export interface CheckedManifestPush {
  readonly manifest: ValidatedManifest;
  /** The digest of the exact bytes (with the algorithm of a digest reference). */
  readonly digest: Digest;
  readonly descriptor: Descriptor;
  readonly referenceIsDigest: boolean;
}

/**
 * The checks of a manifest push that need no storage (size, reference grammar, schema,
 * digest reference), shared by every metadata store.
 *
 * @throws RegistryError SIZE_INVALID, TAG_INVALID, DIGEST_INVALID, MANIFEST_INVALID.
 */
export function checkManifestPush(
  reference: string,
  content: Buffer,
  contentType: string,
  maxBytes: number,
): CheckedManifestPush {
  if (content.byteLength > maxBytes) {
    throw new RegistryError(
      'SIZE_INVALID',
      `manifest is ${content.byteLength} bytes, more than the ${maxBytes} accepted`,
      { size: content.byteLength, limit: maxBytes },
    );
  }
  const referenceIsDigest = isDigest(reference);
  if (!referenceIsDigest && !isTag(reference)) {
    throw reference.includes(':')
      ? new RegistryError('DIGEST_INVALID', 'reference is not a valid digest', { reference })
      : new RegistryError('TAG_INVALID', 'reference is not a valid tag', { reference });
  }
  const manifest = validateManifest(content, contentType);
  const digest = referenceIsDigest
    ? digestOf(content, digestAlgorithm(reference))
    : digestOf(content);
  if (referenceIsDigest && digest !== reference) {
    throw new RegistryError(
      'DIGEST_INVALID',
      'manifest does not match the digest it was pushed by',
      {
        digest: reference,
        actual: digest,
      },
    );
  }
  const descriptor: Descriptor = {
    mediaType: manifest.mediaType,
    digest,
    size: content.byteLength,
    ...(manifest.artifactType !== undefined ? { artifactType: manifest.artifactType } : {}),
    ...(manifest.annotations !== undefined ? { annotations: manifest.annotations } : {}),
  };
  return { manifest, digest, descriptor, referenceIsDigest };
}

function invalid(reason: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', `manifest invalid: ${reason}`, { reason });
}

/** Strips parameters and case from a Content-Type (the spec: registries SHOULD ignore parameters). */
function normalizeContentType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The media type a stored manifest is served with: its `mediaType` field, else (an OCI
 * manifest or index that leaves the field out, which image-spec allows) `manifests[]` makes it
 * an index and anything else an image manifest, as CNCF distribution decides.
 */
function storedMediaType(json: Record<string, unknown>): string {
  const field = json['mediaType'];
  if (typeof field === 'string' && field !== '') return field;
  return Array.isArray(json['manifests']) && json['config'] === undefined
    ? MediaTypes.ociIndex
    : MediaTypes.ociManifest;
}

function parseJsonObject(content: Buffer): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** Checks a manifest pushed with `contentType`; throws MANIFEST_INVALID with the reason. */
function validateManifest(content: Buffer, contentType: string | undefined): ValidatedManifest {
  const json = parseJsonObject(content);
  if (json === undefined) throw invalid('not a JSON object');

  const field = json['mediaType'];
  if (field !== undefined && typeof field !== 'string') throw invalid('mediaType is not a string');
  const header = normalizeContentType(contentType);
  let mediaType: string;
  if (manifestKind(header) !== undefined) {
    if (field !== undefined && field !== header) {
      throw invalid(`mediaType ${JSON.stringify(field)} does not match Content-Type ${header}`);
    }
    mediaType = header;
  } else if (GENERIC_CONTENT_TYPES.has(header) && field !== undefined) {
    mediaType = field;
  } else {
    throw invalid(
      `unsupported manifest media type ${JSON.stringify(GENERIC_CONTENT_TYPES.has(header) ? (field ?? '') : header)}`,
    );
  }
  const type = manifestKind(mediaType);
  if (type === undefined)
    throw invalid(`unsupported manifest media type ${JSON.stringify(mediaType)}`);

  if (field === undefined) {
    // Docker schema 2 requires the field (distribution refuses these without it).
    if (!type.oci) throw invalid(`mediaType is required in ${mediaType}`);
    // Nothing on disk records the Content-Type: the bytes alone must say what they are.
    if (storedMediaType(json) !== mediaType) {
      throw invalid(`without a mediaType field this manifest would read back as another type`);
    }
  }
  if (json['schemaVersion'] !== 2) throw invalid('schemaVersion must be 2');

  const annotations = checkAnnotations(json['annotations'], 'annotations');
  let config: Descriptor | undefined;
  let layers: Descriptor[] = [];
  let manifests: Descriptor[] = [];
  if (type.kind === 'manifest') {
    if (json['config'] === undefined) throw invalid('config is required');
    config = checkDescriptor(json['config'], 'config');
    layers = checkDescriptorArray(json['layers'], 'layers');
  } else {
    manifests = checkDescriptorArray(json['manifests'], 'manifests');
  }

  let subject: Descriptor | undefined;
  let artifactType: string | undefined;
  if (type.oci) {
    if (json['subject'] !== undefined) subject = checkDescriptor(json['subject'], 'subject');
    const at = json['artifactType'];
    // distribution-spec v1.1 treats an empty artifactType like a missing one.
    if (at !== undefined && at !== '') {
      if (!isMediaType(at)) throw invalid('artifactType is not a media type');
      artifactType = at;
    }
  }
  return {
    mediaType,
    kind: type.kind,
    children: config !== undefined ? [config, ...layers] : manifests,
    ...(config !== undefined ? { config } : {}),
    layers,
    manifests,
    ...(subject !== undefined ? { subject } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

function checkDescriptorArray(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item, i) => checkDescriptor(item, `${where}[${i}]`));
}

/** A descriptor (image-spec descriptor.md): mediaType, digest and size required, the rest typed. */
function checkDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where} is not a descriptor`);
  }
  const d = value as Record<string, unknown>;
  if (!isMediaType(d['mediaType'])) throw invalid(`${where}.mediaType is not a media type`);
  if (!isDigest(d['digest'])) throw invalid(`${where}.digest is not a supported digest`);
  const size = d['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size is not a non-negative integer`);
  }
  const urls = d['urls'];
  if (urls !== undefined && !(Array.isArray(urls) && urls.every((u) => typeof u === 'string'))) {
    throw invalid(`${where}.urls must be an array of strings`);
  }
  if (d['data'] !== undefined && typeof d['data'] !== 'string') {
    throw invalid(`${where}.data must be a base64 string`);
  }
  const at = d['artifactType'];
  if (at !== undefined && !isMediaType(at)) {
    throw invalid(`${where}.artifactType is not a media type`);
  }
  const annotations = checkAnnotations(d['annotations'], `${where}.annotations`);
  return {
    mediaType: d['mediaType'],
    digest: d['digest'],
    size,
    ...(typeof at === 'string' ? { artifactType: at } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
    ...(Array.isArray(urls) && urls.length > 0 ? { urls } : {}),
  } as Descriptor;
}

/** Annotations are a string-to-string map (image-spec annotations.md). */
function checkAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where} must be a string-to-string map`);
  }
  for (const v of Object.values(value)) {
    if (typeof v !== 'string') throw invalid(`${where} must be a string-to-string map`);
  }
  return value as Record<string, string>;
}

export function isForeignLayer(d: Descriptor): boolean {
  const urls = (d as { urls?: unknown }).urls;
  return FOREIGN_LAYER_MEDIA_TYPES.has(d.mediaType) && Array.isArray(urls) && urls.length > 0;
}

/**
 * Reads what a stored manifest says. Lenient (the bytes were validated when pushed), but
 * bytes that are not a JSON object are a storage fault.
 *
 * @throws StorageError NV2_ERR_STORAGE_IO when the bytes are not a JSON object.
 */
export function readManifestFacts(content: Buffer, digest: Digest): ManifestFacts {
  const json = parseJsonObject(content);
  if (json === undefined) {
    throw new StorageError('NV2_ERR_STORAGE_IO', `stored manifest ${digest} is not a JSON object`);
  }
  const mediaType = storedMediaType(json);
  const oci = manifestKind(mediaType)?.oci ?? false;
  const children = [
    ...storedChildren([json['config']]),
    ...storedChildren(json['layers']),
    ...storedChildren(json['manifests']),
  ];
  let subject: Descriptor | undefined;
  let artifactType: string | undefined;
  if (oci) {
    try {
      if (json['subject'] !== undefined) subject = checkDescriptor(json['subject'], 'subject');
    } catch {
      subject = undefined;
    }
    if (isMediaType(json['artifactType'])) artifactType = json['artifactType'];
  }
  let annotations: Record<string, string> | undefined;
  try {
    annotations = checkAnnotations(json['annotations'], 'annotations');
  } catch {
    annotations = undefined;
  }
  return {
    mediaType,
    children,
    ...(subject !== undefined ? { subject } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

/**
 * The children listed in `value` (an array of descriptors), read leniently: every entry with
 * a valid digest counts, whatever else it holds, so that garbage collection, which follows
 * digests, never collects a blob a stored manifest names. Malformed `mediaType` or `size`
 * (which a manifest pushed here cannot have) read as `''` and 0.
 */
function storedChildren(value: unknown): Descriptor[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((d: unknown): Descriptor[] => {
    if (typeof d !== 'object' || d === null) return [];
    const entry = d as Record<string, unknown>;
    const digest = entry['digest'];
    if (!isDigest(digest)) return [];
    const mediaType = entry['mediaType'];
    const size = entry['size'];
    return [
      {
        mediaType: typeof mediaType === 'string' ? mediaType : '',
        digest,
        size: typeof size === 'number' ? size : 0,
      },
    ];
  });
}
