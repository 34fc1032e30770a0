import type { ReadOnlyTarget, Target } from '../content/index.js';
// The notation module (CBOR, CMS) loads only when a Notary Project signature is made.
import type { EnvelopeFormat, SignatureTimestamper } from '../notation/index.js';
import {
  type Descriptor,
  EMPTY_CONFIG,
  EMPTY_CONFIG_DESCRIPTOR,
  MediaTypes,
  createDescriptor,
} from '../oci/index.js';
import {
  type SignOptions,
  type Signer,
  type SigningKey,
  isSigningKey,
  sign,
  signWithKey,
} from '../signature/index.js';
import { Certificate, orderCertificateChain } from '../x509/index.js';
import { childrenOf, fetchManifestJson, plain, signatureManifest } from './manifest.js';

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
  signer: Signer | SigningKey,
  options: SignArtifactOptions,
  destination: Target | undefined,
  now: Date,
): Promise<SignedArtifact> {
  const jws = isSigningKey(signer)
    ? await signWithKey(subject, signer, { ...options, now })
    : sign(subject, signer, { ...options, now });
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
 * `signatureTarget`). With `recursive`, each manifest of an index is signed too. `signer` is
 * a private key with its chain, or a signing key (a token key, …).
 *
 * @example
 * const { subject, signatureManifest } = await signArtifact(repo, 'v1', { key, certificateChain },
 *   { references: ['registry.example.com/app:v1'] });
 */
export async function signArtifact(
  target: Target,
  reference: string,
  signer: Signer | SigningKey,
  options: SignArtifactOptions = {},
): Promise<SignedArtifact> {
  // A signing key's chain was put in order where it was read (readCertificateChain).
  const ordered = isSigningKey(signer) ? signer : orderedSigner(signer);
  const subject = plain(await target.resolve(reference));
  const destination = options.push === false ? undefined : (options.signatureTarget ?? target);
  return signOne(target, subject, ordered, options, destination, options.now ?? new Date());
}

/**
 * `signer` with its chain in the order `x5c` requires (RFC 7515 §4.1.6): issuers after the
 * signing certificate, repeats dropped, as `orderCertificateChain` puts them.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_CERTIFICATE
 */
function orderedSigner(signer: Signer): Signer {
  const chain = signer.certificateChain;
  if (chain === undefined || chain.length < 2) return signer;
  const ordered = orderCertificateChain(chain.map((der) => new Certificate(der)));
  return { ...signer, certificateChain: ordered.map((c) => c.der) };
}

/** Options of `signNotationArtifact`: a Notary Project signature, and where it goes. */
export interface SignNotationArtifactOptions {
  /** `jws` (JWS JSON serialization) or `cose` (COSE_Sign1). */
  readonly format: EnvelopeFormat;
  /**
   * The key that signs (`fileSigningKey(key, chain)` for a key file, a PKCS#11 key, a
   * plugin key); its chain runs from the signing certificate up to and including the root.
   */
  readonly signingKey: SigningKey;
  /** Countersigns each signature with an RFC 3161 timestamp before anything is pushed. */
  readonly timestamper?: SignatureTimestamper;
  /** User metadata, signed as annotations of the target descriptor. */
  readonly userMetadata?: Readonly<Record<string, string>>;
  /** Signing time (kept to whole seconds) and the manifest's created time; default now. */
  readonly now?: Date;
  readonly expiry?: Date;
  /** `io.cncf.notary.signingAgent`, e.g. `nv2/0.1.0`. */
  readonly signingAgent?: string;
  /** Where to store the signature manifest; default the target that holds the artifact. */
  readonly signatureTarget?: Target;
  /** Push the signature (default true); false only makes the envelope. */
  readonly push?: boolean;
  /** Also sign each manifest an index names (one level: the platform manifests). */
  readonly recursive?: boolean;
}

/** One Notary Project signature `signNotationArtifact` made. */
export interface SignedNotationArtifact {
  /** What was signed: the resolved manifest's mediaType, digest and size. */
  readonly subject: Descriptor;
  /** The envelope (JWS JSON or COSE_Sign1 bytes). */
  readonly envelope: Buffer;
  /** `application/jose+json` or `application/cose`. */
  readonly envelopeMediaType: string;
  /** The signature manifest pushed (notation's form); absent with `push: false`. */
  readonly signatureManifest?: Descriptor;
  readonly children: readonly SignedNotationArtifact[];
}

async function signNotationOne(
  source: ReadOnlyTarget,
  subject: Descriptor,
  options: SignNotationArtifactOptions,
  destination: Target | undefined,
  now: Date,
): Promise<SignedNotationArtifact> {
  const { buildSignatureManifest, signNotationWithKey } = await import('../notation/index.js');
  const signature = await signNotationWithKey({
    format: options.format,
    signingKey: options.signingKey,
    descriptor: subject,
    signingTime: now,
    ...(options.userMetadata !== undefined ? { userMetadata: options.userMetadata } : {}),
    ...(options.expiry !== undefined ? { expiry: options.expiry } : {}),
    ...(options.signingAgent !== undefined ? { signingAgent: options.signingAgent } : {}),
    ...(options.timestamper !== undefined ? { timestamper: options.timestamper } : {}),
  });
  let signatureManifest: Descriptor | undefined;
  if (destination !== undefined) {
    const built = buildSignatureManifest({
      subject,
      envelope: signature.envelope,
      envelopeMediaType: signature.mediaType,
      certificateChain: signature.certificateChain,
      created: now,
      ...(signature.annotations !== undefined ? { annotations: signature.annotations } : {}),
    });
    await destination.push(built.config.descriptor, built.config.content);
    await destination.push(built.layer.descriptor, built.layer.content);
    await destination.push(built.descriptor, built.manifest);
    signatureManifest = built.descriptor;
  }
  const children: SignedNotationArtifact[] = [];
  if (options.recursive === true) {
    const manifest = await fetchManifestJson(source, subject);
    for (const child of childrenOf(manifest)) {
      children.push(
        await signNotationOne(source, child, { ...options, recursive: false }, destination, now),
      );
    }
  }
  return {
    subject,
    envelope: signature.envelope,
    envelopeMediaType: signature.mediaType,
    ...(signatureManifest !== undefined ? { signatureManifest } : {}),
    children,
  };
}

/**
 * Signs what `reference` names in `target` as the Notary Project does: resolves it once,
 * signs the resolved descriptor in a JWS or COSE envelope, and pushes the signature manifest
 * notation pushes (artifactType `application/vnd.cncf.notary.signature`, empty config, the
 * envelope as the one layer, `subject`, the thumbprint and created annotations) beside it
 * or into `signatureTarget`.
 *
 * @throws InvalidInputError NV2_ERR_UNSUPPORTED_KEY, NV2_ERR_KEY_CERT_MISMATCH,
 *   NV2_ERR_INVALID_CERTIFICATE, NV2_ERR_INVALID_ARGUMENT, NV2_ERR_SIGNER_OUTPUT_INVALID
 * @example
 * const { signatureManifest } = await signNotationArtifact(repo, 'v1',
 *   { format: 'cose', signingKey: fileSigningKey(key, chainDer), userMetadata: { env: 'prod' } });
 */
export async function signNotationArtifact(
  target: Target,
  reference: string,
  options: SignNotationArtifactOptions,
): Promise<SignedNotationArtifact> {
  const subject = plain(await target.resolve(reference));
  const destination = options.push === false ? undefined : (options.signatureTarget ?? target);
  return signNotationOne(target, subject, options, destination, options.now ?? new Date());
}
