import { InvalidInputError, VerificationInconclusiveError, isNv2Error } from '../errors.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { MediaTypes, isDescriptor } from '../oci/index.js';

/**
 * What the content stores and `copy` need to know about a manifest: its children (the edges
 * a copy follows), its `subject` (the edge the referrers index follows backwards), its
 * `artifactType` and `annotations` (what a referrers listing shows). Private to `content`.
 */

/** What a manifest media type is: an image manifest (config + layers) or an index (manifests). */
interface ManifestKind {
  readonly kind: 'manifest' | 'index';
  /**
   * Whether the format has `subject` and `artifactType` (image-spec v1.1). Docker schema 2
   * manifests and manifest lists do not: those fields are ignored there, as CNCF distribution
   * and the nv2 registry do.
   */
  readonly oci: boolean;
}

/** The manifest media types content stores treat as manifests; every other type is a blob. */
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

/** Whether content of this media type is an index (OCI image index, Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return Object.hasOwn(MANIFEST_KINDS, mediaType) && MANIFEST_KINDS[mediaType]!.kind === 'index';
}

/** What a manifest says, as the stores and copy use it. */
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

function stringMap(value: unknown): Readonly<Record<string, string>> | undefined {
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

/** Only the three fields that identify content, as `resolve` returns them. */
export function plainDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * Checks a descriptor given to a store method.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function checkDescriptor(d: Descriptor): void {
  if (!isDescriptor(d)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `not a valid descriptor: ${JSON.stringify(d)}`,
    );
  }
}

/** The content stores' "absent" error. */
export function notFound(what: string): InvalidInputError {
  return new InvalidInputError('NV2_ERR_CONTENT_NOT_FOUND', `${what}: not found`);
}

/** A reference that is neither a tag nor a digest. */
export function invalidReference(reference: string): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_INVALID_REFERENCE',
    `${JSON.stringify(reference)} is neither a tag nor a digest`,
  );
}

/** Content given to `push` as an async iterable. */
export function asAsyncIterable(
  content: AsyncIterable<Uint8Array> | Uint8Array,
): AsyncIterable<Uint8Array> {
  if (content instanceof Uint8Array) {
    return (async function* () {
      yield content;
    })();
  }
  return content;
}

/** Filters referrer descriptors by artifact type, and sorts them by digest for stable output. */
export function selectReferrers(
  referrers: Iterable<Descriptor>,
  artifactType: string | undefined,
): Descriptor[] {
  const out: Descriptor[] = [];
  for (const r of referrers) {
    if (artifactType === undefined || r.artifactType === artifactType) out.push(r);
  }
  return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

/** A digest-keyed map of referrer descriptors per subject (the stores' referrers index). */
export type ReferrersIndex = Map<Digest, Map<Digest, Descriptor>>;

/** Records `referrer` (with `facts.subject`) in `index`. */
export function indexReferrer(
  index: ReferrersIndex,
  referrer: Descriptor,
  facts: ManifestFacts,
): void {
  if (facts.subject === undefined) return;
  let entries = index.get(facts.subject.digest);
  if (entries === undefined) index.set(facts.subject.digest, (entries = new Map()));
  entries.set(referrer.digest, referrerDescriptor(referrer, facts));
}

/**
 * Turns a failed file-system call into NV2_ERR_IO (an inconclusive, retryable failure);
 * nv2 errors and anything that is not a system error pass through unchanged.
 */
export function ioError(err: unknown, what: string): unknown {
  if (isNv2Error(err)) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.syscall === 'string') {
    return new VerificationInconclusiveError('NV2_ERR_IO', `${what}: ${e.message}`, { cause: err });
  }
  return err;
}
