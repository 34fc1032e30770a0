import { InvalidInputError } from '../errors.js';
import type { ImageCheck } from './checks.js';

/** The Gatekeeper external-data API version served. */
export const PROVIDER_API_VERSION = 'externaldata.gatekeeper.sh/v1beta1';

/** Keys accepted in one ProviderRequest: Gatekeeper batches the images of one object. */
export const MAX_PROVIDER_KEYS = 256;

/** What a verified key maps to in a ProviderResponse. */
export interface ProviderValue {
  /** The image as given, its tag replaced by the digest: what to run. */
  readonly image: string;
  readonly digest: string;
  readonly signer?: string;
  readonly warnings: readonly string[];
}

/** One item of a ProviderResponse: a value, or an error saying why the key is refused. */
export interface ProviderItem {
  readonly key: string;
  readonly value?: ProviderValue;
  readonly error?: string;
}

/** A ProviderResponse document. */
export interface ProviderResponse {
  readonly apiVersion: typeof PROVIDER_API_VERSION;
  readonly kind: 'ProviderResponse';
  readonly response: {
    readonly idempotent: boolean;
    readonly items: readonly ProviderItem[];
    readonly systemError?: string;
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The keys (images) of a Gatekeeper `ProviderRequest`.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT when it is not one
 */
export function parseProviderRequest(body: unknown): string[] {
  const bad = (why: string): InvalidInputError =>
    new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `ProviderRequest: ${why}`);
  if (!isRecord(body)) throw bad('the body is not a JSON object');
  if (body['apiVersion'] !== PROVIDER_API_VERSION) {
    throw bad(
      `apiVersion must be ${PROVIDER_API_VERSION}, not ${JSON.stringify(body['apiVersion'])}`,
    );
  }
  if (body['kind'] !== 'ProviderRequest') {
    throw bad(`kind must be ProviderRequest, not ${JSON.stringify(body['kind'])}`);
  }
  const request = body['request'];
  const keys = isRecord(request) ? request['keys'] : undefined;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw bad('request.keys must be a list of strings');
  }
  if (keys.length > MAX_PROVIDER_KEYS) {
    throw bad(`at most ${MAX_PROVIDER_KEYS} keys per request, not ${keys.length}`);
  }
  return keys as string[];
}

/** A ProviderResponse item for a verdict. */
export function providerItem(check: ImageCheck, pinned: string | undefined): ProviderItem {
  if (check.error !== undefined) {
    return { key: check.image, error: `${check.error.code}: ${check.error.message}` };
  }
  return {
    key: check.image,
    value: {
      image: pinned ?? check.image,
      digest: check.digest!,
      ...(check.signer !== undefined ? { signer: check.signer } : {}),
      warnings: check.warnings,
    },
  };
}

/** A ProviderResponse. Verdicts are idempotent: asking again gives the same answer. */
export function providerResponse(
  items: readonly ProviderItem[],
  systemError?: string,
): ProviderResponse {
  return {
    apiVersion: PROVIDER_API_VERSION,
    kind: 'ProviderResponse',
    response: { idempotent: true, items, ...(systemError !== undefined ? { systemError } : {}) },
  };
}
