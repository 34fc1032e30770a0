import { InvalidInputError } from '../errors.js';

/**
 * User metadata from repeated `KEY=VALUE` values (notation's `-m`). Keys in the
 * `io.cncf.notary` namespace are reserved for the signature specification.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseUserMetadata(values: readonly string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `user metadata ${JSON.stringify(value)} is not KEY=VALUE`,
      );
    }
    const key = value.slice(0, eq);
    if (key.startsWith('io.cncf.notary')) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `user metadata key ${JSON.stringify(key)} is reserved (the io.cncf.notary namespace belongs to the signature specification)`,
      );
    }
    if (Object.hasOwn(metadata, key)) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `user metadata key ${JSON.stringify(key)} is given twice`,
      );
    }
    metadata[key] = value.slice(eq + 1);
  }
  return metadata;
}
