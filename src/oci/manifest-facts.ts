import { InvalidInputError } from '../errors.js';
import { type Descriptor, isDescriptor } from './descriptor.js';
import { type Digest, digestAlgorithm, digestHex, isDigest } from './digest.js';
import { MediaTypes } from './media-types.js';

/**
 * What every store needs to know about a manifest, written once for the client, the registry
 * and the content stores: which media types are manifests (and of which kind), its children
 * (the edges a copy and garbage collection follow), its `subject` (the edge the referrers
 * index follows backwards), its `artifactType` and `annotations` (what a referrers listing
 * shows), and the referrers tag schema.
 */

/** What a manifest media type is: an image manifest (config + layers) or an index (manifests). */
export interface ManifestKind {
  readonly kind: 'manifest' | 'index';
  /**
   * Whether the format has `subject` and `artifactType` (image-spec v1.1). Docker schema 2
   * manifests and manifest lists do not: those fields are ignored there, as CNCF distribution
   * and the nv2 registry do.
   */
  readonly oci: boolean;
}

/** The manifest media types stores treat as manifests; every other type is a blob. */
const MANIFEST_KINDS: Readonly<Record<string, ManifestKind>> = {
  [MediaTypes.ociManifest]: { kind: 'manifest', oci: true },
  [MediaTypes.ociIndex]: { kind: 'index', oci: true },
  [MediaTypes.dockerManifest]: { kind: 'manifest', oci: false },
  [MediaTypes.dockerManifestList]: { kind: 'index', oci: false },
};

/**
 * Whether content of this media type is a manifest, which stores keep, resolve and tag as
 * one: OCI image manifest and index, Docker schema 2 manifest and manifest list. Anything
 * else is a blob. A registry client uses it to pick `/manifests/` or `/blobs/`.
 *
 * @example isManifestMediaType('application/vnd.oci.image.index.v1+json') // true
 */
export function isManifestMediaType(mediaType: string): boolean {
  return Object.hasOwn(MANIFEST_KINDS, mediaType);
}

/** What manifests of this media type are, or undefined when it is not a manifest media type. */
export function manifestKind(mediaType: string): ManifestKind | undefined {
  return Object.hasOwn(MANIFEST_KINDS, mediaType) ? MANIFEST_KINDS[mediaType] : undefined;
}

/**
 * Whether manifests of this media type can have a `subject`, that is, can be referrers
 * (image-spec v1.1 manifest and index; Docker schema 2 has no such field).
 */
export function canHaveSubject(mediaType: string): boolean {
  return manifestKind(mediaType)?.oci === true;
}

/** Whether content of this media type is an index (OCI image index, Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return Object.hasOwn(MANIFEST_KINDS, mediaType) && MANIFEST_KINDS[mediaType]!.kind === 'index';
}

/** What a manifest says, as the stores, copy and garbage collection use it. */
export interface ManifestFacts {
  readonly mediaType: string;
  /**
   * `config` then `layers[]` of an image manifest, or `manifests[]` of an index, in document
   * order, each exactly as written (extra fields such as `platform` or `urls` included).
   */
  readonly children: readonly Descriptor[];
  /** The `subject` (OCI types only). */
  readonly subject?: Descriptor;
  /** The manifest's own `artifactType` (OCI types only), when non-empty. */
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

function invalid(message: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_INVALID_MANIFEST', message);
}

function descriptorField(value: unknown, where: string): Descriptor {
  if (!isDescriptor(value)) throw invalid(`manifest ${where} is not a valid descriptor`);
  return value;
}

function descriptorList(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`manifest ${where} is not an array`);
  return value.map((d, i) => descriptorField(d, `${where}[${i}]`));
}

/** The string-valued entries of an annotations map (others dropped), or undefined. */
export function stringMap(value: unknown): Readonly<Record<string, string>> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * Parses manifest bytes stored as `mediaType` (one of the manifest media types). Checks what
 * the stores rely on, as registries do on a manifest PUT: a JSON object whose `mediaType`
 * field, when present, is `mediaType`; an image manifest has a `config` descriptor and a
 * `layers` array of descriptors, an index a `manifests` array of descriptors; `subject`,
 * when present in an OCI type, is a descriptor.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_MANIFEST
 */
export function parseManifest(content: Uint8Array, mediaType: string): ManifestFacts {
  const kind = MANIFEST_KINDS[mediaType];
  if (kind === undefined) throw invalid(`${mediaType} is not a manifest media type`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8'),
    );
  } catch {
    throw invalid(`manifest of type ${mediaType} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('manifest is not a JSON object');
  }
  const m = parsed as Record<string, unknown>;
  if (m['mediaType'] !== undefined && m['mediaType'] !== mediaType) {
    throw invalid(
      `manifest says it is ${JSON.stringify(m['mediaType'])} but was given as ${mediaType}`,
    );
  }
  const children =
    kind.kind === 'index'
      ? descriptorList(m['manifests'], 'manifests')
      : [
          descriptorField(m['config'], 'config'),
          ...(m['layers'] === undefined && kind.oci ? [] : descriptorList(m['layers'], 'layers')),
        ];
  const facts: {
    mediaType: string;
    children: Descriptor[];
    subject?: Descriptor;
    artifactType?: string;
    annotations?: Readonly<Record<string, string>>;
  } = { mediaType, children };
  if (kind.oci) {
    if (m['subject'] !== undefined) facts.subject = descriptorField(m['subject'], 'subject');
    const artifactType = m['artifactType'];
    if (typeof artifactType === 'string' && artifactType !== '') facts.artifactType = artifactType;
  }
  const annotations = stringMap(m['annotations']);
  if (annotations !== undefined) facts.annotations = annotations;
  return facts;
}

/**
 * The media type of manifest bytes stored without a known one (a child of an index found by
 * digest alone): the `mediaType` field, else guessed from the shape as image-spec allows
 * (`manifests` → index, `config` → image manifest). Undefined when the bytes are not a manifest.
 */
export function sniffManifestMediaType(content: Uint8Array): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8'),
    );
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const m = parsed as Record<string, unknown>;
  let mediaType: string | undefined;
  if (typeof m['mediaType'] === 'string') mediaType = m['mediaType'];
  else if (Array.isArray(m['manifests'])) mediaType = MediaTypes.ociIndex;
  else if (typeof m['config'] === 'object') mediaType = MediaTypes.ociManifest;
  if (mediaType === undefined || !isManifestMediaType(mediaType)) return undefined;
  try {
    parseManifest(content, mediaType);
  } catch {
    return undefined;
  }
  return mediaType;
}

/**
 * The descriptor a referrers listing shows for a manifest (distribution-spec v1.1 "Listing
 * referrers"): media type, digest, size, `artifactType` (the manifest's, else its config's
 * media type) and the manifest's `annotations`.
 */
export function referrerDescriptor(manifest: Descriptor, facts: ManifestFacts): Descriptor {
  const artifactType =
    facts.artifactType ??
    (isIndexMediaType(facts.mediaType) ? undefined : facts.children[0]?.mediaType);
  return {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(facts.annotations !== undefined ? { annotations: { ...facts.annotations } } : {}),
  };
}

/**
 * The children of a manifest that are manifests themselves (`manifests[]` of an index); an
 * image manifest's children (config and layers) are blobs.
 */
export function childManifests(facts: ManifestFacts): readonly Descriptor[] {
  return isIndexMediaType(facts.mediaType) ? facts.children : [];
}

/** The children of a manifest that are blobs (`config` and `layers[]` of an image manifest). */
export function childBlobs(facts: ManifestFacts): readonly Descriptor[] {
  return isIndexMediaType(facts.mediaType) ? [] : facts.children;
}

/**
 * The tag of a subject's referrers index in the referrers tag schema (distribution-spec v1.1
 * "Referrers Tag Schema"): `<alg>-<hex>`, the algorithm truncated to 32 and the hex to 64
 * characters as the spec requires (so a sha512 subject still makes a valid tag).
 *
 * @example referrersTag('sha256:abc…') // 'sha256-abc…'
 */
export function referrersTag(subject: Digest): string {
  return `${digestAlgorithm(subject).slice(0, 32)}-${digestHex(subject).slice(0, 64)}`;
}

/**
 * The subject digest whose referrers tag `tag` is (`sha256-<64 hex>`), or undefined when it is
 * not one. Only tags that name a whole digest map back: a sha512 digest does not fit a tag
 * (tags are at most 128 characters), so its tag names a prefix that cannot be checked
 * against a subject.
 */
export function referrersTagSubject(tag: string): Digest | undefined {
  const dash = tag.indexOf('-');
  if (dash <= 0) return undefined;
  const digest = `${tag.slice(0, dash)}:${tag.slice(dash + 1)}`;
  return isDigest(digest) && referrersTag(digest) === tag ? digest : undefined;
}
