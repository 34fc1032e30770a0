import type { ReadOnlyTarget, Target } from '../content/index.js';
import { type Descriptor, MediaTypes, createDescriptor } from '../oci/index.js';
import { type SignOptions, type Signer, sign } from '../signature/index.js';
import {
  EMPTY_CONFIG,
  EMPTY_CONFIG_DESCRIPTOR,
  childrenOf,
  fetchManifestJson,
  plain,
  signatureManifest,
} from './manifest.js';

/** Options of `pushSignature`. */
export interface PushSignatureOptions {
  /** The manifest's `org.opencontainers.image.created`; default now. */
  readonly now?: Date;
}

/**
 * Stores a signature (a JWS) as the signature artifact of artifact-layout.md: pushes the
 * empty config blob, the JWS as the layer, then the manifest whose `subject` is `subject`.
 * Returns the signature manifest's descriptor (with `artifactType`).
 *
 * @example
 * const manifest = await pushSignature(store, subject, jws);
 */
export async function pushSignature(
  target: Target,
  subject: Descriptor,
  jws: string | Uint8Array,
  options: PushSignatureOptions = {},
): Promise<Descriptor> {
  const bytes = typeof jws === 'string' ? Buffer.from(jws, 'latin1') : Buffer.from(jws);
  const layer = createDescriptor(MediaTypes.nv2Signature, bytes);
  await target.push(EMPTY_CONFIG_DESCRIPTOR, EMPTY_CONFIG);
  await target.push(layer, bytes);
  const manifest = signatureManifest(subject, layer, options.now ?? new Date());
  await target.push(manifest.descriptor, manifest.content);
  return manifest.descriptor;
}

/** Options of `signArtifact`: how to sign, and where the signature goes. */
export interface SignArtifactOptions extends SignOptions {
  /**
   * Where to store the signature artifact (the prototype's `--push-reference`); default the
   * target that holds the artifact.
   */
  readonly signatureTarget?: Target;
  /** Push the signature (default true); false only makes the JWS (`--signature-only`). */
  readonly push?: boolean;
  /** Also sign each manifest an index names (one level: the platform manifests). */
  readonly recursive?: boolean;
}

/** One signature `signArtifact` made. */
export interface SignedArtifact {
  /** What was signed: the resolved manifest's mediaType, digest and size. */
  readonly subject: Descriptor;
  /** The signature (JWS compact serialization). */
  readonly jws: string;
  /** The signature manifest pushed; absent with `push: false`. */
  readonly signatureManifest?: Descriptor;
  /** Signatures of the index's children, with `recursive`. */
  readonly children: readonly SignedArtifact[];
}

async function signOne(
  source: ReadOnlyTarget,
  subject: Descriptor,
  signer: Signer,
  options: SignArtifactOptions,
  destination: Target | undefined,
  now: Date,
): Promise<SignedArtifact> {
  const jws = sign(subject, signer, { ...options, now });
  const signatureManifestDescriptor =
    destination !== undefined ? await pushSignature(destination, subject, jws, { now }) : undefined;
  const children: SignedArtifact[] = [];
  if (options.recursive === true) {
    const manifest = await fetchManifestJson(source, subject);
    for (const child of childrenOf(manifest)) {
      children.push(
        await signOne(source, child, signer, { ...options, recursive: false }, destination, now),
      );
    }
  }
  return {
    subject,
    jws,
    ...(signatureManifestDescriptor !== undefined
      ? { signatureManifest: signatureManifestDescriptor }
      : {}),
    children,
  };
}

/**
 * Signs what `reference` names in `target`: resolves it once, signs the resolved descriptor
 * (mediaType, digest, size) and pushes the signature artifact beside it (or into
 * `signatureTarget`). With `recursive`, each manifest of an index is signed too.
 *
 * @example
 * const { subject, signatureManifest } = await signArtifact(repo, 'v1', { key, certificateChain },
 *   { references: ['registry.example.com/app:v1'] });
 */
export async function signArtifact(
  target: Target,
  reference: string,
  signer: Signer,
  options: SignArtifactOptions = {},
): Promise<SignedArtifact> {
  const subject = plain(await target.resolve(reference));
  const destination = options.push === false ? undefined : (options.signatureTarget ?? target);
  return signOne(target, subject, signer, options, destination, options.now ?? new Date());
}
