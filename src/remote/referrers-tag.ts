import type { Descriptor, Digest } from '../oci/index.js';
import { MediaTypes, digestAlgorithm, digestHex, isDescriptor, isMediaType } from '../oci/index.js';

/**
 * The referrers tag schema (distribution-spec v1.1, "Referrers Tag Schema"): on a registry
 * without the referrers API, the referrers of a manifest are listed by an image index tagged
 * `<alg>-<ref>` (`sha256-<hex of the subject digest>`), which the clients that push referrers
 * read, extend and push back. This file is the format: the tag, the index, the descriptor a
 * referrer is listed with, and the changes. The protocol (read, change, write, check) is in
 * `Repository`.
 */

/**
 * The tag of a subject's referrers index: `<alg>-<hex>`, the algorithm truncated to 32 and
 * the hex to 64 characters as the spec requires (so a sha512 subject still makes a valid tag).
 *
 * @example referrersTag('sha256:ab…') // 'sha256-ab…'
 */
export function referrersTag(subject: Digest): string {
  return `${digestAlgorithm(subject).slice(0, 32)}-${digestHex(subject).slice(0, 64)}`;
}

/** The fields of a manifest that matter for referrers. */
export interface ReferrerFields {
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Media types that can carry a `subject` (image-spec v1.1 manifest and index). */
const SUBJECT_CARRIERS = new Set<string>([MediaTypes.ociManifest, MediaTypes.ociIndex]);

/** Whether manifests of this media type can have a `subject`. */
export function canHaveSubject(mediaType: string): boolean {
  return SUBJECT_CARRIERS.has(mediaType);
}

/** String-valued annotations, or undefined when there are none usable. */
function annotationsOf(value: unknown): Readonly<Record<string, string>> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A descriptor as listed: the required fields plus `artifactType` and `annotations`. */
function cleanDescriptor(value: Descriptor): Descriptor {
  const annotations = annotationsOf(value.annotations);
  return {
    mediaType: value.mediaType,
    digest: value.digest,
    size: value.size,
    ...(isMediaType(value.artifactType) ? { artifactType: value.artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

/**
 * Reads `subject`, `artifactType` and `annotations` of a manifest of `mediaType`; undefined
 * for media types that cannot have a subject and for bytes that are not a JSON object. For an
 * image manifest without `artifactType`, the config's media type stands in, as the referrers
 * API reports it.
 */
export function referrerFields(content: Uint8Array, mediaType: string): ReferrerFields | undefined {
  if (!canHaveSubject(mediaType)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const m = parsed as Record<string, unknown>;
  let artifactType = isMediaType(m['artifactType']) ? m['artifactType'] : undefined;
  if (artifactType === undefined && mediaType === MediaTypes.ociManifest) {
    const config = m['config'];
    if (isDescriptor(config)) artifactType = config.mediaType;
  }
  const annotations = annotationsOf(m['annotations']);
  return {
    ...(isDescriptor(m['subject']) ? { subject: cleanDescriptor(m['subject']) } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

/** The descriptor a referrer is listed with: its own, plus its artifactType and annotations. */
export function referrerDescriptor(manifest: Descriptor, fields: ReferrerFields): Descriptor {
  return {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    ...(fields.artifactType !== undefined ? { artifactType: fields.artifactType } : {}),
    ...(fields.annotations !== undefined ? { annotations: fields.annotations } : {}),
  };
}

/** The bytes of a referrers index listing `referrers`. */
export function encodeReferrersIndex(referrers: readonly Descriptor[]): Uint8Array {
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: referrers }),
  );
}

/**
 * The descriptors an image index lists (a referrers API page, or a tag schema index), each
 * reduced to the descriptor fields, duplicates dropped. Undefined when the bytes are not an
 * image index with a `manifests` array of descriptors.
 */
export function decodeReferrersIndex(content: Uint8Array): Descriptor[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const manifests = (parsed as { manifests?: unknown }).manifests;
  if (manifests === null) return [];
  if (!Array.isArray(manifests)) return undefined;
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const entry of manifests) {
    if (!isDescriptor(entry)) return undefined;
    if (seen.has(entry.digest)) continue;
    seen.add(entry.digest);
    out.push(cleanDescriptor(entry));
  }
  return out;
}

/** A change to a referrers list. */
export type ReferrerChange =
  | { readonly add: Descriptor; readonly remove?: undefined }
  | { readonly remove: Digest; readonly add?: undefined };

/** Whether `list` already reflects `change`. */
export function changeApplied(list: readonly Descriptor[], change: ReferrerChange): boolean {
  if (change.add !== undefined) return list.some((d) => d.digest === change.add.digest);
  return !list.some((d) => d.digest === change.remove);
}

/**
 * `list` with `change` applied (an added referrer replaces any entry with its digest and goes
 * last); undefined when nothing would change.
 */
export function applyChange(
  list: readonly Descriptor[],
  change: ReferrerChange,
): Descriptor[] | undefined {
  if (change.add !== undefined) {
    const existing = list.find((d) => d.digest === change.add.digest);
    if (existing !== undefined && JSON.stringify(existing) === JSON.stringify(change.add)) {
      return undefined;
    }
    return [...list.filter((d) => d.digest !== change.add.digest), change.add];
  }
  if (!list.some((d) => d.digest === change.remove)) return undefined;
  return list.filter((d) => d.digest !== change.remove);
}
