import type { Nv2Error } from '../errors.js';
import {
  InvalidInputError,
  VerificationFailedError,
  VerificationInconclusiveError,
  isNv2Error,
} from '../errors.js';
import {
  type Digest,
  type Reference,
  formatReference,
  parseReference,
  withDefaultTag,
} from '../oci/index.js';
import type { VerificationLevel } from '../policy/index.js';
import { TtlCache } from './cache.js';
import type { RegistryAccess } from './registry-access.js';
import type { ImageVerification, ImageVerifier } from './verifier.js';

/** Verified images remembered by default. */
export const DEFAULT_CACHE_ENTRIES = 4096;
/** How long a verification holds by default: a signature removed upstream counts after this. */
export const DEFAULT_CACHE_TTL_MS = 5 * 60_000;
/** How long a tag's digest is believed by default: a moved tag is seen after this. */
export const DEFAULT_TAG_TTL_MS = 30_000;
/** Longest a tag's digest may ever be cached: tags move, and what runs must be what is signed. */
export const MAX_TAG_TTL_MS = 5 * 60_000;

/** The verdict on one image. */
export interface ImageCheck {
  /** The image as written. */
  readonly image: string;
  /** The fully qualified name (`docker.io/library/nginx:1.25`), when it parsed. */
  readonly reference?: string;
  /** The digest it names now, when resolved. */
  readonly digest?: Digest;
  readonly signer?: string;
  /** Findings of audit and permissive levels, which do not refuse the image. */
  readonly warnings: readonly string[];
  /** The trust policy statement that decided, and its level, when the image verified. */
  readonly policy?: string;
  readonly level?: VerificationLevel;
  /** Whether the verdict came from the cache. */
  readonly cached: boolean;
  /** Why the image is refused; absent when it verified. */
  readonly error?: Nv2Error;
}

/** Options of `ImageChecks`. */
export interface ImageChecksOptions {
  readonly verifier: ImageVerifier;
  readonly registries: RegistryAccess;
  /** Verdicts remembered, by digest (default `DEFAULT_CACHE_ENTRIES`; 0 turns caching off). */
  readonly cacheEntries?: number;
  /** How long a successful verification is remembered (default 5 min). */
  readonly cacheTtlMs?: number;
  /**
   * How long a tag's digest, and a refusal, are remembered (default 30 s, at most 5 min): a
   * newly signed image or a moved tag counts after this.
   */
  readonly tagTtlMs?: number;
  readonly now?: () => number;
}

type Verdict = { readonly ok: ImageVerification } | { readonly error: VerificationFailedError };

/** Rejects with a timeout error when `signal` aborts first. */
function raced<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(timeoutError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(timeoutError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function timeoutError(signal: AbortSignal): Nv2Error {
  const reason: unknown = signal.reason;
  return new VerificationInconclusiveError(
    'NV2_ERR_VERIFICATION_TIMEOUT',
    'verification did not finish before the admission deadline (registry too slow or unreachable)',
    { cause: reason },
  );
}

/**
 * Checks images for admission: resolves each tag to a digest (believed for a short while),
 * verifies by digest with the verifier, and remembers verdicts by digest in a bounded cache.
 * Concurrent checks of the same digest share one verification.
 */
export class ImageChecks {
  #verifier: ImageVerifier;
  readonly #registries: RegistryAccess;
  readonly #verdicts: TtlCache<string, Verdict>;
  readonly #tags: TtlCache<string, Digest>;
  readonly #inflight = new Map<string, Promise<Verdict>>();
  readonly #ttl: number;
  readonly #tagTtl: number;

  constructor(options: ImageChecksOptions) {
    this.#verifier = options.verifier;
    this.#registries = options.registries;
    this.#ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.#tagTtl = options.tagTtlMs ?? DEFAULT_TAG_TTL_MS;
    if (!(this.#tagTtl >= 0 && this.#tagTtl <= MAX_TAG_TTL_MS)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `the tag cache time must be from 0 to ${MAX_TAG_TTL_MS / 1000} s, not ${this.#tagTtl / 1000} s`,
      );
    }
    if (!(this.#ttl >= 0)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        'the cache time must not be negative',
      );
    }
    const entries = options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
    this.#verdicts = new TtlCache(entries, options.now);
    this.#tags = new TtlCache(entries, options.now);
  }

  /**
   * Verifies with `verifier` from now on (a changed trust policy or trust store), forgetting every verdict
   * the old one gave. Verifications under way finish with the old one.
   */
  replaceVerifier(verifier: ImageVerifier): void {
    this.#verifier = verifier;
    this.#inflight.clear();
    this.clear();
  }

  /** Forgets every cached verdict and tag (a changed trust policy invalidates them). */
  clear(): void {
    this.#verdicts.clear();
    this.#tags.clear();
  }

  /** Checks one image. Never throws for a refusal: the verdict carries it. */
  async check(image: string, signal: AbortSignal): Promise<ImageCheck> {
    let reference: Reference;
    try {
      reference = withDefaultTag(parseReference(image));
    } catch (err) {
      if (isNv2Error(err)) return { image, warnings: [], cached: false, error: err };
      throw err;
    }
    const name = formatReference(reference);
    try {
      let digest = reference.digest;
      if (digest === undefined) {
        const tagKey = name;
        digest = this.#tags.get(tagKey);
        if (digest === undefined) {
          const descriptor = await raced(
            this.#registries.repository(reference).resolve(reference.tag!),
            signal,
          );
          digest = descriptor.digest;
          this.#tags.set(tagKey, digest, this.#tagTtl);
        }
      }
      const key = `${reference.registry}/${reference.repository}@${digest}`;
      let verdict = this.#verdicts.get(key);
      const cached = verdict !== undefined;
      if (verdict === undefined) {
        let pending = this.#inflight.get(key);
        if (pending === undefined) {
          pending = this.#verify({ ...reference, digest }, key, signal);
          this.#inflight.set(key, pending);
          void pending.then(
            () => this.#inflight.delete(key),
            () => this.#inflight.delete(key),
          );
        }
        verdict = await raced(pending, signal);
      }
      if ('error' in verdict) {
        return { image, reference: name, digest, warnings: [], cached, error: verdict.error };
      }
      return {
        image,
        reference: name,
        digest: verdict.ok.digest,
        ...(verdict.ok.signer !== undefined ? { signer: verdict.ok.signer } : {}),
        warnings: verdict.ok.warnings,
        ...(verdict.ok.policy !== undefined ? { policy: verdict.ok.policy } : {}),
        ...(verdict.ok.level !== undefined ? { level: verdict.ok.level } : {}),
        cached,
      };
    } catch (err) {
      if (isNv2Error(err))
        return { image, reference: name, warnings: [], cached: false, error: err };
      throw err;
    }
  }

  async #verify(
    reference: Reference & { readonly digest: Digest },
    key: string,
    signal: AbortSignal,
  ): Promise<Verdict> {
    try {
      const ok = await this.#verifier.verify(reference, signal);
      this.#verdicts.set(key, { ok }, this.#ttl);
      return { ok };
    } catch (err) {
      // A refusal is remembered briefly, so that a crash-looping controller does not hammer
      // the registry; an inconclusive outcome (timeout, outage) is not remembered at all.
      if (err instanceof VerificationFailedError) {
        const verdict = { error: err };
        this.#verdicts.set(key, verdict, this.#tagTtl);
        return verdict;
      }
      throw err;
    }
  }
}
