import { InvalidInputError } from '../../errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../output.js';

/** Commander option parser for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Checks an `--output` format flag. */
export function outputFormat(value: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `unknown output format ${JSON.stringify(value)}: use text or json`,
    );
  }
  return value as OutputFormat;
}

/** Checks a `--max-signatures` flag: a positive integer. */
export function maxSignatures(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `--max-signatures must be a positive integer, not ${JSON.stringify(value)}`,
    );
  }
  return n;
}
