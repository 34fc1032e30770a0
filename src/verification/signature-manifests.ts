import type { ReferrerLister } from '../content/index.js';
import { InvalidInputError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { requireReferrers } from '../notary/index.js';

/**
 * The most signatures one verification evaluates, as notation's `--max-signatures`: a subject
 * with thousands of referrers must not make a verifier fetch and check thousands of envelopes.
 */
export const DEFAULT_MAX_SIGNATURES = 100;

/** The signature manifests of a subject that one verification evaluates. */
export interface SignatureManifests {
  /** The signature manifests to evaluate, in listing order, at most `maxSignatures`. */
  readonly manifests: readonly Descriptor[];
  /** How many signature manifests the listing held (more than `manifests` when capped). */
  readonly found: number;
  /** The cap that applied. */
  readonly maxSignatures: number;
}

/**
 * Checks a signature cap given by a user or a configuration.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT unless a positive integer
 */
export function checkMaxSignatures(value: number, what = 'maxSignatures'): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `${what} must be a positive integer, not ${String(value)}`,
    );
  }
  return value;
}

/**
 * Lists the referrers of `subject` once and keeps the signature manifests of the given
 * artifactTypes (stores may ignore a filter, so it is applied here too), the first
 * `maxSignatures` of them in listing order.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_TARGET when the store cannot list referrers
 */
export async function signatureManifests(
  store: object,
  subject: Descriptor,
  artifactTypes: readonly string[],
  maxSignatures: number = DEFAULT_MAX_SIGNATURES,
): Promise<SignatureManifests> {
  checkMaxSignatures(maxSignatures);
  const lister: ReferrerLister = requireReferrers(store);
  const referrers = await lister.referrers(
    subject,
    artifactTypes.length === 1 ? { artifactType: artifactTypes[0]! } : {},
  );
  // A store that ignores the filter of a one-type listing lists untyped referrers too; they
  // are read as that type (and fail as malformed when they are not).
  const all = referrers.filter((r) =>
    r.artifactType === undefined
      ? artifactTypes.length === 1
      : artifactTypes.includes(r.artifactType),
  );
  return { manifests: all.slice(0, maxSignatures), found: all.length, maxSignatures };
}

/** The words for signatures the cap left out, or undefined when it left none out. */
export function capNote(listed: SignatureManifests): string | undefined {
  if (listed.found <= listed.manifests.length) return undefined;
  return `only the first ${listed.manifests.length} of ${listed.found} signatures were evaluated (the limit, --max-signatures or maxSignatures, is ${listed.maxSignatures})`;
}
