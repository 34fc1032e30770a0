import { InvalidInputError } from '../errors.js';
import {
  CREATED_ANNOTATION,
  type Descriptor,
  EMPTY_CONFIG,
  MediaTypes,
  createDescriptor,
  isDescriptor,
} from '../oci/index.js';
import type { Certificate } from '../x509/index.js';
import { NotationMediaTypes, THUMBPRINT_ANNOTATION } from './constants.js';
import { goJson, isPlainObject, rfc3339 } from './json.js';

/**
 * `artifact`: notation's current form (artifactType, empty config `application/vnd.oci.empty.v1+json`
 * with its data inline). `image`: the older form notation still writes where a registry lacks
 * artifactType support (config media type = the signature type, no artifactType).
 */
export type SignatureManifestForm = 'artifact' | 'image';

export interface SignatureManifestOptions {
  readonly subject: Descriptor;
  readonly envelope: Uint8Array;
  readonly envelopeMediaType: string;
  /** The envelope's chain, signing certificate first: its fingerprints become the thumbprint annotation. */
  readonly certificateChain: readonly Certificate[];
  /** `org.opencontainers.image.created`; default now. */
  readonly created?: Date;
  readonly form?: SignatureManifestForm;
  /** Further annotations, merged after notation's two. */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface SignatureManifest {
  readonly manifest: Buffer;
  readonly descriptor: Descriptor;
  /** The blobs the manifest references: the config `{}` and the envelope. */
  readonly config: { readonly descriptor: Descriptor; readonly content: Buffer };
  readonly layer: { readonly descriptor: Descriptor; readonly content: Buffer };
}

function plainDescriptor(d: Descriptor): Record<string, unknown> {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/** The annotations notation puts on a signature manifest. */
export function signatureAnnotations(
  chain: readonly Certificate[],
  created: Date,
): Record<string, string> {
  return {
    [THUMBPRINT_ANNOTATION]: goJson(chain.map((c) => c.fingerprintSha256)),
    [CREATED_ANNOTATION]: rfc3339(new Date(Math.floor(created.getTime() / 1000) * 1000)),
  };
}

/**
 * A signature manifest as notation pushes it: one layer (the envelope), the subject, and the
 * thumbprint and created annotations, with fields in notation's order so that equal inputs
 * give equal bytes and digest.
 */
export function buildSignatureManifest(options: SignatureManifestOptions): SignatureManifest {
  const form = options.form ?? 'artifact';
  const envelope = Buffer.from(options.envelope);
  const layer = createDescriptor(options.envelopeMediaType, envelope);
  const config =
    form === 'artifact'
      ? createDescriptor(NotationMediaTypes.emptyConfig, EMPTY_CONFIG)
      : createDescriptor(NotationMediaTypes.signature, EMPTY_CONFIG);
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
  };
  if (form === 'artifact') manifest['artifactType'] = NotationMediaTypes.signature;
  manifest['config'] =
    form === 'artifact'
      ? { ...plainDescriptor(config), data: EMPTY_CONFIG.toString('base64') }
      : plainDescriptor(config);
  manifest['layers'] = [plainDescriptor(layer)];
  manifest['subject'] = plainDescriptor(options.subject);
  const annotations = {
    ...signatureAnnotations(options.certificateChain, options.created ?? new Date()),
    ...(options.annotations ?? {}),
  };
  manifest['annotations'] = Object.fromEntries(
    Object.keys(annotations)
      .sort()
      .map((k) => [k, annotations[k]]),
  );
  const bytes = Buffer.from(goJson(manifest), 'utf8');
  const descriptor: Descriptor = {
    ...createDescriptor(MediaTypes.ociManifest, bytes),
    artifactType: NotationMediaTypes.signature,
    annotations,
  };
  return {
    manifest: bytes,
    descriptor,
    config: { descriptor: config, content: EMPTY_CONFIG },
    layer: { descriptor: layer, content: envelope },
  };
}

/** What a Notary Project signature manifest says, read without trusting it. */
export interface NotationSignatureManifest {
  readonly form: SignatureManifestForm;
  /** The envelope blob; its media type says the format (or is one nv2 does not support). */
  readonly envelope: Descriptor;
  readonly subject?: Descriptor;
  /** SHA-256 fingerprints from the thumbprint annotation, when present and well-formed. */
  readonly thumbprints?: readonly string[];
  readonly created?: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Whether a parsed manifest is a Notary Project signature manifest, in either form. */
export function isNotationSignatureManifest(manifest: unknown): boolean {
  if (!isPlainObject(manifest)) return false;
  if (manifest['artifactType'] === NotationMediaTypes.signature) return true;
  const config = manifest['config'];
  return (
    manifest['artifactType'] === undefined &&
    isPlainObject(config) &&
    config['mediaType'] === NotationMediaTypes.signature
  );
}

/**
 * Reads a signature manifest in either form: exactly one layer, the envelope.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_MANIFEST
 */
export function readSignatureManifest(bytes: Uint8Array): NotationSignatureManifest {
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new InvalidInputError('NV2_ERR_INVALID_MANIFEST', 'signature manifest is not UTF-8 JSON');
  }
  if (!isPlainObject(manifest) || !isNotationSignatureManifest(manifest)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_MANIFEST',
      `not a Notary Project signature manifest (artifactType or config media type ${NotationMediaTypes.signature})`,
    );
  }
  const layers = manifest['layers'];
  if (!Array.isArray(layers) || layers.length !== 1 || !isDescriptor(layers[0])) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_MANIFEST',
      'signature manifest must have exactly one layer',
    );
  }
  const rawAnnotations = manifest['annotations'];
  const annotations: Record<string, string> = {};
  if (isPlainObject(rawAnnotations)) {
    for (const [k, v] of Object.entries(rawAnnotations))
      if (typeof v === 'string') annotations[k] = v;
  }
  let thumbprints: string[] | undefined;
  const thumbprintText = annotations[THUMBPRINT_ANNOTATION];
  if (thumbprintText !== undefined) {
    try {
      const list: unknown = JSON.parse(thumbprintText);
      if (
        Array.isArray(list) &&
        list.every((t) => typeof t === 'string' && /^[0-9a-fA-F]{64}$/.test(t))
      ) {
        thumbprints = (list as string[]).map((t) => t.toLowerCase());
      }
    } catch {
      thumbprints = undefined;
    }
  }
  const subject = manifest['subject'];
  const layer = layers[0] as Descriptor;
  return {
    form: manifest['artifactType'] === NotationMediaTypes.signature ? 'artifact' : 'image',
    envelope: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size },
    ...(isDescriptor(subject)
      ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } }
      : {}),
    ...(thumbprints !== undefined ? { thumbprints } : {}),
    ...(annotations[CREATED_ANNOTATION] !== undefined
      ? { created: annotations[CREATED_ANNOTATION] }
      : {}),
    annotations,
  };
}
