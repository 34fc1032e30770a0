import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  InvalidInputError,
  Nv2Error,
  VerificationFailedError,
  VerificationInconclusiveError,
} from '../errors.js';
import { listSignatures } from '../notary/index.js';
import type { Digest, Reference } from '../oci/index.js';
import { TrustSet, type VerificationResult, verify } from '../trust/index.js';
import { type Certificate, loadCertificates } from '../x509/index.js';
import { type RegistryAccess } from './registry-access.js';

/** A reference pinned to a digest: what a verifier is asked about. */
export type PinnedReference = Reference & { readonly digest: Digest };

/** What a verifier established about an image. */
export interface ImageVerification {
  /** The digest verified: the image runs by this. */
  readonly digest: Digest;
  /** The subject of the certificate whose signature verified. */
  readonly signer?: string;
  /** Things an operator should know that do not refuse the image. */
  readonly warnings: readonly string[];
}

/**
 * Verifies one image, named by digest. Implementations throw `VerificationFailedError` when
 * the image must be refused (the message says why, for people), and
 * `VerificationInconclusiveError` when no verdict could be reached (registry unreachable).
 * `signal` aborts when the admission deadline passes.
 */
export interface ImageVerifier {
  verify(image: PinnedReference, signal: AbortSignal): Promise<ImageVerification>;
}

/** Where a trust store's certificates are, relative to the configuration directory. */
export const TRUST_STORE_DIR = 'truststore/x509';
/** The trust store types read: root CAs, and signing authorities trusted as they are. */
export const TRUST_STORE_TYPES = ['ca', 'signingAuthority'] as const;

/** Files of a trust store directory that hold certificates. */
const CERTIFICATE_FILE = /\.(pem|crt|cer)$/i;

async function namedStores(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    // Kubernetes projects volumes through `..data`-style hidden links: skip dot entries.
    return entries
      .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink()))
      .map((e) => join(dir, e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new InvalidInputError('NV2_ERR_IO', `trust store ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The certificates of a loaded trust store, by type. */
export interface TrustStoreCertificates {
  readonly ca: readonly Certificate[];
  readonly signingAuthority: readonly Certificate[];
  /** The named stores read (`ca/acme`), for logs. */
  readonly stores: readonly string[];
}

/**
 * Reads the trust store under `configDir` (the Notary Project layout:
 * `truststore/x509/{ca,signingAuthority}/<name>/*.pem`).
 *
 * @throws InvalidInputError NV2_ERR_INVALID_CERTIFICATE for a file that is not a certificate,
 *   NV2_ERR_INVALID_ARGUMENT when the store holds no certificate at all
 */
export async function loadTrustStore(configDir: string): Promise<TrustStoreCertificates> {
  const found: Record<(typeof TRUST_STORE_TYPES)[number], Certificate[]> = {
    ca: [],
    signingAuthority: [],
  };
  const stores: string[] = [];
  for (const type of TRUST_STORE_TYPES) {
    for (const store of await namedStores(join(configDir, TRUST_STORE_DIR, type))) {
      const files = (await readdir(store)).filter((f) => CERTIFICATE_FILE.test(f)).sort();
      for (const file of files) {
        const path = join(store, file);
        found[type].push(...loadCertificates(await readFile(path), path));
      }
      stores.push(`${type}/${store.slice(store.lastIndexOf('/') + 1)}`);
    }
  }
  if (found.ca.length + found.signingAuthority.length === 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `no certificates under ${join(configDir, TRUST_STORE_DIR)}/{ca,signingAuthority}/<name>/: nothing could ever verify`,
    );
  }
  return { ...found, stores };
}

/** Codes that mean the signer is not trusted, as opposed to a signature that is wrong. */
const UNTRUSTED = new Set(['NV2_ERR_SIGNER_UNKNOWN', 'NV2_ERR_CERT_UNTRUSTED']);
const EXPIRED = new Set([
  'NV2_ERR_SIGNATURE_EXPIRED',
  'NV2_ERR_CERT_EXPIRED',
  'NV2_ERR_SIGNATURE_NOT_YET_VALID',
  'NV2_ERR_CERT_NOT_YET_VALID',
]);

/** How to make an untrusted signer trusted: the key-acquisition hint of a refusal. */
export const TRUST_HINT =
  "to trust this signer, add its root CA certificate to the trust store (truststore/x509/ca/<name>/ in the webhook's trust ConfigMap)); the webhook reloads it when the mounted files change";

/**
 * Why none of an image's signatures verified, for people: the most telling failure first
 * (an untrusted signer, then expiry, then an invalid signature).
 */
function refusal(errors: readonly Nv2Error[], total: number): VerificationFailedError {
  const pick =
    errors.find((e) => UNTRUSTED.has(e.code)) ??
    errors.find((e) => EXPIRED.has(e.code)) ??
    errors[0]!;
  const what = UNTRUSTED.has(pick.code)
    ? `untrusted signer: ${pick.message}; ${TRUST_HINT}`
    : EXPIRED.has(pick.code)
      ? `expired: ${pick.message}`
      : `invalid signature: ${pick.message}`;
  const others = total > 1 ? ` (${total} signatures, none verified)` : '';
  return new VerificationFailedError(pick.code, `${what}${others}`, { cause: pick });
}

/**
 * Verifies images against one trust store: every nv2 signature stored beside the image (the
 * referrers API or tag schema) is checked, and the image passes when one verifies under the
 * trust store's certificates. Every scope is held to the same store; a trust policy that picks
 * the store and level per scope replaces this verifier (see `createImageVerifier`).
 */
export class TrustStoreVerifier implements ImageVerifier {
  readonly #trust: TrustSet;
  readonly #registries: RegistryAccess;
  readonly #now: () => Date;

  constructor(
    trust: TrustSet,
    registries: RegistryAccess,
    options: { readonly now?: () => Date } = {},
  ) {
    this.#trust = trust;
    this.#registries = registries;
    this.#now = options.now ?? (() => new Date());
  }

  async verify(image: PinnedReference, signal: AbortSignal): Promise<ImageVerification> {
    const repository = this.#registries.repository(image);
    const subject = await repository.resolve(image.digest);
    signal.throwIfAborted();
    const entries = await listSignatures(repository, subject);
    if (entries.length === 0) {
      throw new VerificationFailedError(
        'NV2_ERR_NO_SIGNATURE',
        'unsigned: it has no nv2 signature',
      );
    }
    const now = this.#now();
    const target = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
    const errors: Nv2Error[] = [];
    let verified: VerificationResult | undefined;
    for (const entry of entries) {
      if (entry.jws === undefined) {
        errors.push(
          entry.error ??
            new VerificationInconclusiveError('NV2_ERR_INTERNAL', 'signature could not be read'),
        );
        continue;
      }
      try {
        verified = await verify(entry.jws, target, this.#trust, { now });
        break;
      } catch (err) {
        if (!(err instanceof Nv2Error)) throw err;
        errors.push(err);
      }
    }
    if (verified !== undefined) {
      return { digest: subject.digest, signer: verified.signer.subject, warnings: [] };
    }
    const failed = errors.filter((e) => e instanceof VerificationFailedError);
    if (failed.length === 0) {
      const first = errors[0]!;
      throw new VerificationInconclusiveError(
        first.code,
        `no signature verified and ${errors.length} could not be read: ${first.message}`,
        { cause: first },
      );
    }
    throw refusal(failed, entries.length);
  }
}

/** What `createImageVerifier` builds a verifier from. */
export interface ImageVerifierOptions {
  /** The configuration directory: trust store (and trust policy) as mounted. */
  readonly configDir: string;
  readonly registries: RegistryAccess;
  readonly now?: () => Date;
}

/**
 * The one place the admission server's verifier is made: from the configuration directory's
 * trust store, all certificates trusted for every image.
 */
export async function createImageVerifier(options: ImageVerifierOptions): Promise<ImageVerifier> {
  const store = await loadTrustStore(options.configDir);
  const trust = new TrustSet({ certificates: store.signingAuthority, roots: store.ca });
  return new TrustStoreVerifier(trust, options.registries, {
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
}
