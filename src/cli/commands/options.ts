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
