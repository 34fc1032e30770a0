import {
  type ReadOnlyTarget,
  type ReferrerLister,
  hasReferrers,
  readBoundedStream,
} from '../content/index.js';
import { InvalidInputError, Nv2Error, VerificationFailedError } from '../errors.js';
// The notation module (CBOR, CMS) loads only when a Notary Project signature is met.
import type { NotationEnvelope } from '../notation/index.js';
import {
  type Descriptor,
  MAX_ENVELOPE_BYTES,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  isDescriptor,
} from '../oci/index.js';
import { MAX_SIGNATURE_BYTES, type ParsedSignature, parseSignature } from '../signature/index.js';
import { fetchManifestJson, fetchSignatureLayer } from './manifest.js';

/** One signature artifact found for a subject. */
export interface SignatureEntry {
  /** The signature manifest, as the referrers listing described it. */
  readonly manifest: Descriptor;
  /** The signature file's bytes, when they could be read. */
  readonly jws?: Buffer;
  /** The signature, parsed for form (not for trust), when it could be. */
  readonly signature?: ParsedSignature;
  /** Why the signature could not be read or parsed. */
  readonly error?: Nv2Error;
}

/** Requires a store that can list referrers. */
export function requireReferrers<T extends object>(target: T): T & ReferrerLister {
  if (!hasReferrers(target)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_TARGET',
      'this store cannot list referrers, so signatures cannot be found in it',
    );
  }
  return target;
}

function malformed(manifest: Descriptor, message: string): VerificationFailedError {
  return new VerificationFailedError(
    'NV2_ERR_SIGNATURE_MALFORMED',
    `signature manifest ${manifest.digest}: ${message}`,
  );
}

/** Reads one nv2 signature manifest and its layer. Errors are returned, not thrown (except bugs). */
export async function readSignatureEntry(
  target: ReadOnlyTarget,
  manifest: Descriptor,
): Promise<SignatureEntry> {
  try {
    const json = await fetchManifestJson(target, manifest);
    const layers = json['layers'];
    const layer = Array.isArray(layers)
      ? (layers as unknown[]).find(
          (l): l is Descriptor => isDescriptor(l) && l.mediaType === MediaTypes.nv2Signature,
        )
      : undefined;
    if (layer === undefined) {
      throw malformed(manifest, `it has no ${MediaTypes.nv2Signature} layer`);
    }
    const jws = await fetchSignatureLayer(
      target,
      manifest,
      layer,
      MAX_SIGNATURE_BYTES,
      'signature layer',
    );
    try {
      return { manifest, jws, signature: parseSignature(jws) };
    } catch (err) {
      if (err instanceof Nv2Error) return { manifest, jws, error: err };
      throw err;
    }
  } catch (err) {
    if (err instanceof Nv2Error) return { manifest, error: err };
    throw err;
  }
}

/** Options of `listSignatures`. */
export interface ListSignaturesOptions {
  /**
   * Where the signatures are, when not beside the artifact (a signature repository, as
   * cosign's `COSIGN_REPOSITORY`, filled by `sign --push-reference`): they are listed and read
   * there instead of in `target`.
   */
  readonly signatureTarget?: ReadOnlyTarget & ReferrerLister;
}

/**
 * The nv2 signatures of `subject` in `target` (or `signatureTarget`): its referrers with artifactType
 * `application/vnd.cncf.notary.v2`, each manifest fetched and its signature layer read (at
 * most `MAX_SIGNATURE_BYTES`) and parsed for form. A signature that cannot be read or parsed
 * is listed with its `error`; a failure to list the referrers is thrown.
 *
 * @example
 * for (const entry of await listSignatures(repo, await repo.resolve('v1'))) console.log(entry.manifest.digest);
 */
export async function listSignatures(
  target: ReadOnlyTarget & ReferrerLister,
  subject: Descriptor,
  options: ListSignaturesOptions = {},
): Promise<SignatureEntry[]> {
  const store = options.signatureTarget ?? target;
  const referrers = await requireReferrers(store).referrers(subject, {
    artifactType: MediaTypes.nv2ArtifactType,
  });
  // Stores may ignore the filter: keep only signatures.
  const signatures = referrers.filter(
    (r) => r.artifactType === undefined || r.artifactType === MediaTypes.nv2ArtifactType,
  );
  return Promise.all(signatures.map((manifest) => readSignatureEntry(store, manifest)));
}

/** One Notary Project signature (JWS or COSE envelope) found for a subject. */
export interface NotationSignatureEntry {
  /** The signature manifest, as the referrers listing described it. */
  readonly manifest: Descriptor;
  /** `jws` or `cose`, when the envelope's media type is one of them. */
  readonly format?: 'jws' | 'cose';
  /** The envelope layer's media type. */
  readonly envelopeMediaType?: string;
  /** The envelope's bytes, when they could be read. */
  readonly envelope?: Buffer;
  /** The envelope parsed for form (not for trust), when it could be. */
  readonly parsed?: NotationEnvelope;
  /** Why the envelope could not be read or parsed. */
  readonly error?: Nv2Error;
}

async function readNotationEntry(
  target: ReadOnlyTarget,
  manifest: Descriptor,
): Promise<NotationSignatureEntry> {
  let envelopeMediaType: string | undefined;
  try {
    const bytes = await readBoundedStream(
      await target.fetch(manifest),
      MAX_MANIFEST_BYTES,
      `signature manifest ${manifest.digest}`,
    );
    const { parseNotationEnvelope, readSignatureManifest } = await import('../notation/index.js');
    const read = readSignatureManifest(bytes);
    envelopeMediaType = read.envelope.mediaType;
    const format =
      envelopeMediaType === MediaTypes.notationJws
        ? 'jws'
        : envelopeMediaType === MediaTypes.notationCose
          ? 'cose'
          : undefined;
    if (format === undefined) {
      throw new VerificationFailedError(
        'NV2_ERR_UNSUPPORTED_SIGNATURE_FORMAT',
        `signature manifest ${manifest.digest}: envelope media type ${envelopeMediaType} is not a Notary Project envelope (${MediaTypes.notationJws}, ${MediaTypes.notationCose})`,
      );
    }
    const envelope = await fetchSignatureLayer(target, manifest, read.envelope, MAX_ENVELOPE_BYTES);
    const base = { manifest, format, envelopeMediaType, envelope } as const;
    try {
      return { ...base, parsed: parseNotationEnvelope(envelope, envelopeMediaType) };
    } catch (err) {
      return {
        ...base,
        error:
          err instanceof Nv2Error
            ? err
            : new VerificationFailedError(
                'NV2_ERR_SIGNATURE_MALFORMED',
                `signature manifest ${manifest.digest}: ${err instanceof Error ? err.message : String(err)}`,
              ),
      };
    }
  } catch (err) {
    if (err instanceof Nv2Error)
      return {
        manifest,
        ...(envelopeMediaType !== undefined ? { envelopeMediaType } : {}),
        error: err,
      };
    throw err;
  }
}

/**
 * The Notary Project signatures of `subject` in `target` (or `signatureTarget`): its referrers
 * with artifactType `application/vnd.cncf.notary.signature` (either manifest form), each
 * envelope read and parsed for form. One that cannot be read or parsed is listed with its
 * `error`; a failure to list the referrers is thrown.
 *
 * @example
 * for (const entry of await listNotationSignatures(repo, subject)) console.log(entry.format);
 */
export async function listNotationSignatures(
  target: ReadOnlyTarget & ReferrerLister,
  subject: Descriptor,
  options: ListSignaturesOptions = {},
): Promise<NotationSignatureEntry[]> {
  const store = options.signatureTarget ?? target;
  const referrers = await requireReferrers(store).referrers(subject, {
    artifactType: MediaTypes.notationSignature,
  });
  const signatures = referrers.filter((r) => r.artifactType === MediaTypes.notationSignature);
  return Promise.all(signatures.map((manifest) => readNotationEntry(store, manifest)));
}
