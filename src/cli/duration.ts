import { InvalidInputError } from '../errors.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
  y: 365 * 86400,
};

/**
 * Parses a duration such as `90d`, `24h`, `1h30m` or `3600s` (units s, m, h, d, w, y) to
 * whole seconds. A bare number is refused: `90` could mean anything.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseDuration(input: string): number {
  const invalid = (): InvalidInputError =>
    new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `invalid duration ${JSON.stringify(input)}: use a number and a unit (s, m, h, d, w, y), e.g. 24h or 90d`,
    );
  if (!/^(\d+[smhdwy])+$/.test(input)) throw invalid();
  let seconds = 0;
  for (const [, amount, unit] of input.matchAll(/(\d+)([smhdwy])/g)) {
    seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw invalid();
  return seconds;
}

/**
 * Parses a point in time: RFC 3339 (`2021-01-01T00:00:00Z`) or Unix seconds.
 *
 * @throws InvalidInputError NV2_ERR_INVALID_ARGUMENT
 */
export function parseTime(input: string): Date {
  const date = /^\d+$/.test(input)
    ? new Date(Number(input) * 1000)
    : /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(input)
      ? new Date(input)
      : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      `invalid time ${JSON.stringify(input)}: use RFC 3339 (2021-01-01T00:00:00Z) or Unix seconds`,
    );
  }
  return date;
}
