import type { Descriptor, Digest, ManifestFacts } from '../oci/index.js';
import { MediaTypes, canHaveSubject, isDescriptor, isMediaType, stringMap } from '../oci/index.js';

/**
 * The referrers tag schema (distribution-spec v1.1, "Referrers Tag Schema"): on a registry
 * without the referrers API, the referrers of a manifest are listed by an image index tagged
 * `<alg>-<ref>` (`sha256-<hex of the subject digest>`), which the clients that push referrers
 * read, extend and push back. This file is the client's side of the format: what a pushed
 * manifest says about its referrers, the index, and the changes (the tag and the listed
 * descriptor are `oci`'s). The protocol (read, change, write, check) is in
 * `Repository`.
 */

/** String-valued annotations, or undefined when there are none usable. */
function annotationsOf(value: unknown): Readonly<Record<string, string>> | undefined {
  const out = stringMap(value);
  return out !== undefined && Object.keys(out).length > 0 ? out : undefined;
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
 * What a manifest of `mediaType` about to be pushed says about its referrers: `subject`,
 * `artifactType`, `annotations` and the config (whose media type types an image manifest
 * without `artifactType`). Read leniently, as the registry is the judge of the bytes;
 * undefined for media types that cannot have a subject and for bytes that are not a JSON
 * object. The listed descriptor is then `referrerDescriptor` (oci), the rule every store uses.
 */
export function referrerFacts(content: Uint8Array, mediaType: string): ManifestFacts | undefined {
  if (!canHaveSubject(mediaType)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const m = parsed as Record<string, unknown>;
  const config = m['config'];
  const annotations = annotationsOf(m['annotations']);
  return {
    mediaType,
    children: isDescriptor(config) ? [config] : [],
    ...(isDescriptor(m['subject']) ? { subject: cleanDescriptor(m['subject']) } : {}),
    ...(isMediaType(m['artifactType']) ? { artifactType: m['artifactType'] } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
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
