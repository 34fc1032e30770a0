import { type Nv2Error, VerificationFailedError } from '../errors.js';
import {
  type CryptoKeyOptions,
  type HeaderParser,
  type ParsedHeader,
  assertKeyFitsAlgorithm,
  cryptoKeyOptions,
  keyId,
  parseHeaderSegment,
} from '../signature/index.js';
import { certificateNames } from './names.js';
import { Certificate, type CertificatePath, TrustAnchors, buildPaths } from '../x509/index.js';

/**
 * How many distinct signature headers a trust set remembers. The same signer produces the
 * same header segment every time, so a handful of entries serves a registry-sized workload;
 * the bound keeps memory flat when a caller feeds it endless distinct signatures.
 */
export const HEADER_CACHE_SIZE = 512;

/** How many recent headers are compared by prefix before falling back to the map. */
const RECENT_HEADERS = 4;

/** Certificates to trust, as given by the caller. */
export interface TrustSetOptions {
  /**
   * Certificates trusted as they are (a self-signed signing certificate included); signatures
   * with a `kid` are matched against these.
   */
  readonly certificates?: readonly Certificate[];
  /** Root CA certificates that signing certificates may chain to. */
  readonly roots?: readonly Certificate[];
}

/**
 * The signing key of one header segment: the signing certificate (from `x5c` or by `kid`),
 * the `x5c` certificates after it, and the key options to verify with. Whether the
 * certificate is trusted is not decided here, so that a signature's integrity can be judged
 * apart from its authenticity.
 */
export interface ResolvedSigningKey {
  readonly parsed: ParsedHeader;
  readonly certificate: Certificate;
  /** The `x5c` entries after the signing certificate. */
  readonly intermediates: readonly Certificate[];
  readonly keyOptions: CryptoKeyOptions;
  /** The signing certificate's subject CNs and DNS SANs, lower-cased, for reference checks. */
  readonly names: ReadonlySet<string>;
}

/**
 * What one header segment resolves to: the signing key and the certificate paths that
 * structurally reach trust. Computed once per segment.
 */
export interface ResolvedSigner extends ResolvedSigningKey {
  readonly paths: readonly CertificatePath[];
}

type KeyResolution = { readonly key: ResolvedSigningKey } | { readonly error: Nv2Error };
type Resolution = { readonly signer: ResolvedSigner } | { readonly error: Nv2Error };
interface CacheEntry {
  readonly parsed: ParsedHeader;
  key?: KeyResolution;
  resolution?: Resolution;
}

/**
 * A parsed set of trusted certificates, reused across verifications. It remembers what each
 * signature header resolved to, so that verifying many signatures by the same signer parses
 * the header and builds the chain once.
 */
export class TrustSet {
  readonly anchors: TrustAnchors;
  readonly #byKeyId = new Map<string, Certificate>();
  /**
   * The given certificates by their DER (as a latin1 string): an `x5c` entry that is one of
   * them is not parsed again. A signer usually embeds the very certificate it is trusted by,
   * and parsing a certificate is most of the work of verifying a first signature.
   */
  readonly #byDer = new Map<string, Certificate>();
  readonly #resolved = new Map<string, CacheEntry>();
  /** The last few headers used, most recent first: the fast path of `parseHeader`. */
  readonly #recent: CacheEntry[] = [];

  constructor(options: TrustSetOptions = {}) {
    const certificates = options.certificates ?? [];
    this.anchors = new TrustAnchors([...certificates, ...(options.roots ?? [])]);
    // `kid` is looked up among the certificates given as signers first, then among roots.
    for (const cert of [...certificates, ...(options.roots ?? [])]) {
      const id = keyId(cert.publicKey);
      if (!this.#byKeyId.has(id)) this.#byKeyId.set(id, cert);
      this.#byDer.set(cert.der.toString('latin1'), cert);
    }
  }

  /** The trusted certificate whose public key has libtrust key ID `kid`, if any. */
  findByKeyId(kid: string): Certificate | undefined {
    return this.#byKeyId.get(kid);
  }

  /**
   * Finds the parsed header of a compact signature whose header segment ends at `end`, parsing
   * it on first sight. Recently seen headers are recognized by comparison, without hashing
   * the (certificate-sized) segment. Form errors are thrown, not cached.
   */
  readonly parseHeader: HeaderParser = (compact, end) => this.#entryFor(compact, end).parsed;

  /**
   * Resolves a parsed header to its signer: the signing certificate (from `x5c` or by `kid`),
   * the key checked against `alg`, and the certificate paths to trust. Computed once per
   * header segment; trust failures are remembered like successes.
   *
   * @throws VerificationFailedError NV2_ERR_SIGNER_UNKNOWN, NV2_ERR_KEY_ALGORITHM_MISMATCH, NV2_ERR_KEY_TOO_WEAK, NV2_ERR_CERT_*
   */
  resolveSigner(parsed: ParsedHeader): ResolvedSigner {
    const entry = this.#entryOf(parsed);
    entry.resolution ??= this.#resolve(entry);
    if ('error' in entry.resolution) throw entry.resolution.error;
    return entry.resolution.signer;
  }

  /**
   * Resolves a parsed header to its signing key without deciding trust: the certificate
   * (from `x5c`, or by `kid` among this set's certificates) and the key checked against `alg`.
   * Cached per header segment like `resolveSigner`.
   *
   * @throws VerificationFailedError NV2_ERR_SIGNER_UNKNOWN, NV2_ERR_KEY_ALGORITHM_MISMATCH, NV2_ERR_KEY_TOO_WEAK, NV2_ERR_SIGNATURE_MALFORMED
   */
  resolveSigningKey(parsed: ParsedHeader): ResolvedSigningKey {
    const entry = this.#entryOf(parsed);
    entry.key ??= this.#resolveKey(entry.parsed);
    if ('error' in entry.key) throw entry.key.error;
    return entry.key.key;
  }

  #entryOf(parsed: ParsedHeader): CacheEntry {
    // A signature parsed with `parseHeader` carries the cached entry's own segment string:
    // `===` on the same string is a pointer comparison, on another an exact compare.
    let entry = this.#recent.find(
      (e) => e.parsed === parsed || e.parsed.segment === parsed.segment,
    );
    if (entry === undefined) {
      entry = this.#resolved.get(parsed.segment) ?? this.#store(parsed);
      this.#remember(entry);
    }
    return entry;
  }

  #entryFor(compact: string, end: number): CacheEntry {
    // A slice compared with `===` is a memcmp; `startsWith` and a Map lookup (which hashes
    // the whole segment) are each over ten times slower on a certificate-sized header.
    const segment = compact.slice(0, end);
    for (const entry of this.#recent) {
      if (entry.parsed.segment === segment) return entry;
    }
    const entry = this.#resolved.get(segment) ?? this.#store(parseHeaderSegment(segment));
    this.#remember(entry);
    return entry;
  }

  #store(parsed: ParsedHeader): CacheEntry {
    const entry: CacheEntry = { parsed };
    if (this.#resolved.size >= HEADER_CACHE_SIZE) {
      this.#resolved.delete(this.#resolved.keys().next().value!);
    }
    this.#resolved.set(parsed.segment, entry);
    return entry;
  }

  #remember(entry: CacheEntry): void {
    this.#recent.unshift(entry);
    if (this.#recent.length > RECENT_HEADERS) this.#recent.pop();
  }

  #resolve(entry: CacheEntry): Resolution {
    entry.key ??= this.#resolveKey(entry.parsed);
    if ('error' in entry.key) return entry.key;
    const { key } = entry.key;
    try {
      const paths = buildPaths(key.certificate, key.intermediates, this.anchors);
      return { signer: { ...key, paths } };
    } catch (err) {
      if (err instanceof VerificationFailedError) return { error: err };
      throw err;
    }
  }

  #resolveKey(parsed: ParsedHeader): KeyResolution {
    try {
      const { header } = parsed;
      let certificate: Certificate;
      let intermediates: Certificate[] = [];
      if (parsed.x5cDer.length > 0) {
        const certs = parsed.x5cDer.map((der, i) => {
          const known = this.#byDer.get(der.toString('latin1'));
          if (known !== undefined) return known;
          try {
            return new Certificate(der);
          } catch {
            throw new VerificationFailedError(
              'NV2_ERR_SIGNATURE_MALFORMED',
              `header x5c[${i}] is not an X.509 certificate`,
            );
          }
        });
        certificate = certs[0]!;
        intermediates = certs.slice(1);
      } else {
        const found = this.findByKeyId(header.kid!);
        if (found === undefined) {
          throw new VerificationFailedError(
            'NV2_ERR_SIGNER_UNKNOWN',
            `no trusted certificate has key ID ${header.kid}: add the signer's certificate with -c`,
          );
        }
        certificate = found;
      }
      assertKeyFitsAlgorithm(certificate.publicKey, header.alg);
      const keyOptions = cryptoKeyOptions(certificate.publicKey, header.alg);
      return {
        key: {
          parsed,
          certificate,
          intermediates,
          keyOptions,
          names: certificateNames(certificate),
        },
      };
    } catch (err) {
      if (err instanceof VerificationFailedError) return { error: err };
      throw err;
    }
  }
}
