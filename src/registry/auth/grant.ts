import type { Descriptor, Digest } from '../../oci/index.js';
import { MediaTypes, isDescriptor, referrersTagSubject } from '../../oci/index.js';
import { ApiError } from '../api/errors.js';
import type { RepositoryAction } from './rules.js';

/**
 * What one request may do once access control has authenticated it, and the one rule that
 * depends on content: only signers store signature artifacts (the signer rule), with the
 * referrers index of the tag schema as the one other manifest a signer may write.
 */

/** The signature artifact types of the signer rule, besides configured ones. */
export const DEFAULT_SIGNATURE_TYPES: readonly string[] = [
  // nv2 (artifact-layout.md)
  'application/vnd.cncf.notary.v2',
  // the Notary Project (notation)
  'application/vnd.cncf.notary.signature',
];

/**
 * What one request may do. The grant of a registry without access control allows everything.
 */
export class Grant {
  /** The user, undefined when anonymous (or when there is no access control). */
  readonly user: string | undefined;
  readonly #allows: ((repository: string, action: RepositoryAction) => boolean) | undefined;
  readonly #signatureTypes: ReadonlySet<string>;

  constructor(
    user: string | undefined,
    allows: ((repository: string, action: RepositoryAction) => boolean) | undefined,
    signatureTypes: ReadonlySet<string>,
  ) {
    this.user = user;
    this.#allows = allows;
    this.#signatureTypes = signatureTypes;
  }

  /** A grant that allows everything (no access control). */
  static readonly unrestricted = new Grant(undefined, undefined, new Set());

  /** Whether the request may do `action` on `repository`. */
  allows(repository: string, action: RepositoryAction): boolean {
    return this.#allows === undefined || this.#allows(repository, action);
  }

  /**
   * The signer rule, checked once the manifest's bytes are read: a signature artifact (its
   * `artifactType`, or its config's media type, is a signature type) needs `sign`, and is
   * stored by digest only unless the request may also `push` (a tag could otherwise replace
   * an image with a signature); anything else needs `push` — except the referrers index of
   * the tag schema, which a signer may write (see `checkReferrersIndex`): notation writes it
   * by default after pushing a signature, even to a registry with the referrers API.
   *
   * `reference` is the tag or digest of the PUT; `manifests` reads this repository's manifests.
   *
   * @throws ApiError DENIED (403) saying which role is missing, or why an index under a
   *   referrers tag is not one a signer may write
   */
  async checkManifestPush(
    repository: string,
    reference: { readonly tag?: string | undefined },
    content: Uint8Array,
    manifests: ManifestLookup,
  ): Promise<void> {
    if (this.#allows === undefined) return;
    const byTag = reference.tag !== undefined;
    const type = signatureTypeOf(content, this.#signatureTypes);
    const push = this.allows(repository, 'push');
    if (type !== undefined) {
      if (!this.allows(repository, 'sign')) {
        throw denied(
          repository,
          `pushing a signature (${type}) needs the signer role on ${repository}`,
        );
      }
      if (byTag && !push) {
        throw denied(
          repository,
          `the signer role pushes signatures by digest; tags need the writer role on ${repository}`,
        );
      }
      return;
    }
    if (push) return;
    const subject = reference.tag === undefined ? undefined : referrersTagSubject(reference.tag);
    if (subject !== undefined && this.allows(repository, 'sign')) {
      const refusal = await checkReferrersIndex(content, subject, (digest) =>
        manifests(repository, digest),
      );
      if (refusal === undefined) return;
      throw denied(
        repository,
        `the signer role may write under the referrers tag ${reference.tag!} only the referrers index of ${subject}: ${refusal}; anything else needs the writer role on ${repository}`,
      );
    }
    throw denied(
      repository,
      `the signer role may push signature artifacts only; this manifest is not one, and needs the writer role on ${repository}`,
    );
  }
}

/** Reads a manifest of a repository by digest: its descriptor and `subject`, if stored. */
export type ManifestLookup = (
  repository: string,
  digest: Digest,
) => Promise<
  { readonly descriptor: Descriptor; readonly subject?: Descriptor | undefined } | undefined
>;

/** The fields a referrers index may have: those of an image index, minus subject and artifactType. */
const REFERRERS_INDEX_FIELDS: ReadonlySet<string> = new Set([
  'schemaVersion',
  'mediaType',
  'manifests',
  'annotations',
]);

/**
 * Whether `content` is a referrers index of `subject` as the tag schema writes it, and so one a
 * signer may store under `subject`'s referrers tag. It must be an OCI image index
 * (`schemaVersion` 2, `mediaType` the OCI index type) with no fields but `schemaVersion`,
 * `mediaType`, `manifests` and `annotations` — no `subject` (it would make the index a
 * referrer itself) and no `artifactType` — and every descriptor in `manifests` must name a
 * manifest stored in this repository, with the stored media type and size, whose `subject`
 * is `subject`. An empty list qualifies (a client that removed the last referrer writes one).
 * What the descriptors carry besides (`artifactType`, `annotations`) is the client's copy and
 * not compared: the referrers API, which the registry computes itself, stays the authority.
 *
 * @returns why it is not such an index, or undefined when it is
 */
export async function checkReferrersIndex(
  content: Uint8Array,
  subject: Digest,
  manifest: (
    digest: Digest,
  ) => Promise<
    { readonly descriptor: Descriptor; readonly subject?: Descriptor | undefined } | undefined
  >,
): Promise<string | undefined> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return 'it is not JSON';
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return 'it is not a JSON object';
  }
  const index = doc as Record<string, unknown>;
  if (index['mediaType'] !== MediaTypes.ociIndex || index['schemaVersion'] !== 2) {
    return `it is not an OCI image index (mediaType ${MediaTypes.ociIndex}, schemaVersion 2)`;
  }
  const extra = Object.keys(index).filter((key) => !REFERRERS_INDEX_FIELDS.has(key));
  if (extra.length > 0) return `a referrers index has no ${extra.join(', ')}`;
  const entries = index['manifests'];
  if (!Array.isArray(entries)) return 'it has no manifests list';
  // Each distinct manifest is read once: repeating an entry costs no more reads.
  const read = new Map<Digest, Awaited<ReturnType<typeof manifest>>>();
  for (const [i, entry] of entries.entries()) {
    if (!isDescriptor(entry)) return `manifests[${i}] is not a descriptor`;
    let stored = read.get(entry.digest);
    if (!read.has(entry.digest)) {
      stored = await manifest(entry.digest);
      read.set(entry.digest, stored);
    }
    if (stored === undefined) {
      return `manifests[${i}] (${entry.digest}) is not a manifest of this repository`;
    }
    if (stored.descriptor.size !== entry.size || stored.descriptor.mediaType !== entry.mediaType) {
      return `manifests[${i}] (${entry.digest}) does not match the stored manifest's media type and size`;
    }
    if (stored.subject?.digest !== subject) {
      return `manifests[${i}] (${entry.digest}) is not a referrer of ${subject}`;
    }
  }
  return undefined;
}

function denied(repository: string, message: string): ApiError {
  return new ApiError('DENIED', { message, detail: { repository } });
}

/** The signature type a manifest declares (artifactType, else config media type), if any. */
export function signatureTypeOf(
  content: Uint8Array,
  types: ReadonlySet<string>,
): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const record = doc as Record<string, unknown>;
  const artifactType = record['artifactType'];
  if (typeof artifactType === 'string' && types.has(artifactType)) return artifactType;
  const config = record['config'];
  const configType =
    typeof config === 'object' && config !== null
      ? (config as Record<string, unknown>)['mediaType']
      : undefined;
  if (typeof configType === 'string' && types.has(configType)) return configType;
  return undefined;
}
